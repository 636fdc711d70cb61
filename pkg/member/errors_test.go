package member

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestReason covers the error shapes client-go returns; the lab tests
// produce the common ones from a real server too.
func TestReason(t *testing.T) {
	const server = "https://10.0.0.1:443"
	get := func(err error) error {
		return &url.Error{Op: "Get", URL: server + "/version?timeout=32s", Err: err}
	}
	tests := []struct {
		name string
		err  error
		want string
	}{{
		name: "connect deadline",
		err:  fmt.Errorf("%w: %w", errTimeout{10 * time.Second}, get(context.DeadlineExceeded)),
		want: "no answer from https://10.0.0.1:443 within 10s",
	}, {
		name: "canceled",
		err:  get(context.Canceled),
		want: "canceled",
	}, {
		name: "refused",
		err:  get(&net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}),
		want: "https://10.0.0.1:443 refused the connection",
	}, {
		name: "unknown host",
		err:  get(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "gone.example", IsNotFound: true}}),
		want: "cannot resolve the host of https://10.0.0.1:443: lookup gone.example: no such host",
	}, {
		name: "untrusted certificate",
		err:  get(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}),
		want: "cannot verify the certificate of https://10.0.0.1:443: x509: certificate signed by unknown authority",
	}, {
		name: "unauthorized",
		err:  apierrors.NewUnauthorized("Unauthorized"),
		want: "https://10.0.0.1:443 rejected the credentials (401 Unauthorized)",
	}, {
		name: "forbidden",
		err: &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: 403, Reason: metav1.StatusReasonForbidden,
			Message: `forbidden: User "bob" cannot get path "/version"`,
		}},
		want: `https://10.0.0.1:443 refused access: forbidden: User "bob" cannot get path "/version"`,
	}, {
		name: "network timeout",
		err:  get(&net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}),
		want: `no answer from https://10.0.0.1:443: Get "https://10.0.0.1:443/version?timeout=32s": dial tcp: i/o timeout`,
	}, {
		name: "anything else is shown as is",
		err:  errors.New("the server has asked for the client to provide credentials"),
		want: "the server has asked for the client to provide credentials",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reason(server, tt.err); got != tt.want {
				t.Errorf("reason =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestConnectErrorNamesClusterAndContext(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	for _, tt := range []struct {
		conn *Conn
		want string
	}{
		{&Conn{Name: "serving-eu", Context: "eu"}, "connecting to cluster serving-eu (context eu): https://h refused the connection"},
		{&Conn{Name: "training-us"}, "connecting to cluster training-us: https://h refused the connection"},
	} {
		err := tt.conn.connectError("https://h", refused)
		if err.Error() != tt.want {
			t.Errorf("error = %q, want %q", err, tt.want)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("errors.Is(%v, ECONNREFUSED) = false, want the cause kept", err)
		}
	}
}
