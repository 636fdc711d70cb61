package member

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// connectError is a Conn.Err: which cluster, and the reason in words a user
// can act on. It never carries credentials: the underlying errors come from
// the transport and the server, which do not echo them.
type connectError struct {
	cluster, context, reason string
	err                      error
}

func (e *connectError) Error() string {
	if e.context == "" {
		return fmt.Sprintf("connecting to cluster %s: %s", e.cluster, e.reason)
	}
	return fmt.Sprintf("connecting to cluster %s (context %s): %s", e.cluster, e.context, e.reason)
}

func (e *connectError) Unwrap() error { return e.err }

func (c *Conn) connectError(server string, err error) error {
	return &connectError{cluster: c.Name, context: c.Context, reason: reason(server, err), err: err}
}

// errTimeout is the cause of a connect deadline, so the error can say how
// long geofed waited.
type errTimeout struct{ d time.Duration }

func (e errTimeout) Error() string { return fmt.Sprintf("no answer within %s", e.d) }

// Is keeps errors.Is(err, context.DeadlineExceeded) true: net/http reports a
// context's cause in place of the deadline.
func (errTimeout) Is(target error) bool { return target == context.DeadlineExceeded }

// reason turns what client-go returned into one line naming the server and
// what went wrong, leaving out the request URL and the layers of wrapping.
func reason(server string, err error) string {
	var (
		timeout errTimeout
		dns     *net.DNSError
		verify  *tls.CertificateVerificationError
		status  apierrors.APIStatus
		netErr  net.Error
	)
	switch {
	case errors.As(err, &timeout):
		return fmt.Sprintf("no answer from %s within %s", server, timeout.d)
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("%s refused the connection", server)
	case errors.As(err, &dns):
		return fmt.Sprintf("cannot resolve the host of %s: %v", server, dns)
	case errors.As(err, &verify):
		return fmt.Sprintf("cannot verify the certificate of %s: %v", server, verify.Err)
	case apierrors.IsUnauthorized(err):
		return fmt.Sprintf("%s rejected the credentials (401 Unauthorized)", server)
	case apierrors.IsForbidden(err) && errors.As(err, &status):
		return fmt.Sprintf("%s refused access: %s", server, status.Status().Message)
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("no answer from %s: %v", server, err)
	}
	return err.Error()
}
