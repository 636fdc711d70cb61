package gke

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"golang.org/x/oauth2"
	"k8s.io/client-go/rest"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, all PEM.
type testPKI struct {
	caPEM, serverCertPEM, serverKeyPEM, clientCertPEM, clientKeyPEM []byte
	pool                                                            *x509.CertPool
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, tmpl *x509.Certificate) (certPEM, keyPEM []byte) {
		key := newKey(t)
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	}
	p := &testPKI{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.serverCertPEM, p.serverKeyPEM = issue(2, &x509.Certificate{
		Subject: pkix.Name{CommonName: "apiserver"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	p.clientCertPEM, p.clientKeyPEM = issue(3, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// startServer serves TLS on loopback with p's server certificate, asking
// for (not requiring) a client certificate, and answers every request with
// who the caller was: "cert:<CN>", "bearer:<token>" or "anonymous".
func startServer(t *testing.T, p *testPKI) *httptest.Server {
	t.Helper()
	cert, err := tls.X509KeyPair(p.serverCertPEM, p.serverKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case len(r.TLS.PeerCertificates) > 0:
			io.WriteString(w, "cert:"+r.TLS.PeerCertificates[0].Subject.CommonName)
		case strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "):
			io.WriteString(w, "bearer:"+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		default:
			io.WriteString(w, "anonymous")
		}
	}))
	// A refused handshake is what TestRESTConfigUntrustedServer wants; do
	// not log it.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: p.pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// whoAmI makes a request with cfg and returns the server's answer.
func whoAmI(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatalf("HTTPClientFor: %v", err)
	}
	resp, err := hc.Get(cfg.Host + "/version")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func TestRESTConfigClientCertificate(t *testing.T) {
	p := newTestPKI(t)
	srv := startServer(t, p)
	c := &containerpb.Cluster{
		Name:     "training-us",
		Endpoint: strings.TrimPrefix(srv.URL, "https://"), // the emulator's "127.0.0.1:PORT"
		MasterAuth: &containerpb.MasterAuth{
			ClusterCaCertificate: b64(p.caPEM),
			ClientCertificate:    b64(p.clientCertPEM),
			ClientKey:            b64(p.clientKeyPEM),
		},
	}
	// A token source is given but unused: the client certificate wins.
	cfg, err := RESTConfig(c, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "unused"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != srv.URL {
		t.Errorf("Host = %q, want %q", cfg.Host, srv.URL)
	}
	if got := whoAmI(t, cfg); got != "cert:admin" {
		t.Errorf("server saw %q, want cert:admin", got)
	}
}

func TestRESTConfigToken(t *testing.T) {
	p := newTestPKI(t)
	srv := startServer(t, p)
	c := &containerpb.Cluster{
		Name:       "training-us",
		Endpoint:   strings.TrimPrefix(srv.URL, "https://"),
		MasterAuth: &containerpb.MasterAuth{ClusterCaCertificate: b64(p.caPEM)},
	}
	cfg, err := RESTConfig(c, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "ya29.test-token"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := whoAmI(t, cfg); got != "bearer:ya29.test-token" {
		t.Errorf("server saw %q, want bearer:ya29.test-token", got)
	}
}

// TestRESTConfigUntrustedServer: the CA from MasterAuth is the only one
// trusted; a server with a certificate from another CA is refused.
func TestRESTConfigUntrustedServer(t *testing.T) {
	srv := startServer(t, newTestPKI(t))
	other := newTestPKI(t)
	c := &containerpb.Cluster{
		Name:       "training-us",
		Endpoint:   strings.TrimPrefix(srv.URL, "https://"),
		MasterAuth: &containerpb.MasterAuth{ClusterCaCertificate: b64(other.caPEM)},
	}
	cfg, err := RESTConfig(c, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}))
	if err != nil {
		t.Fatal(err)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(cfg.Host)
	if err == nil {
		resp.Body.Close()
		t.Fatal("GET succeeded against a server the cluster's CA did not sign")
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("error = %v, want a certificate error", err)
	}
}

func TestRESTConfigHost(t *testing.T) {
	ca := b64(newTestPKI(t).caPEM)
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"})
	tests := []struct{ endpoint, want string }{
		{"34.83.1.2", "https://34.83.1.2"},
		{"127.0.0.1:41234", "https://127.0.0.1:41234"},
		{"https://127.0.0.1:41234", "https://127.0.0.1:41234"},
		{"[2600:1900::1]", "https://[2600:1900::1]"},
	}
	for _, tt := range tests {
		cfg, err := RESTConfig(&containerpb.Cluster{Endpoint: tt.endpoint, MasterAuth: &containerpb.MasterAuth{ClusterCaCertificate: ca}}, ts)
		if err != nil {
			t.Errorf("RESTConfig(endpoint %q): %v", tt.endpoint, err)
			continue
		}
		if cfg.Host != tt.want {
			t.Errorf("RESTConfig(endpoint %q).Host = %q, want %q", tt.endpoint, cfg.Host, tt.want)
		}
	}
}

func TestRESTConfigErrors(t *testing.T) {
	p := newTestPKI(t)
	ca, cert, key := b64(p.caPEM), b64(p.clientCertPEM), b64(p.clientKeyPEM)
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"})
	// notPEM is valid base64 of something that is not PEM: a key body
	// without its armour, as a careless copy would give.
	notPEM := b64(p.clientKeyPEM[30:])
	tests := []struct {
		name    string
		auth    *containerpb.MasterAuth
		noEP    bool
		ts      oauth2.TokenSource
		want    string
		secrets []string // must not appear in the error
	}{
		{name: "no endpoint", noEP: true, auth: &containerpb.MasterAuth{ClusterCaCertificate: ca}, ts: ts,
			want: "cluster c has no endpoint yet (status PROVISIONING)"},
		{name: "no CA", auth: &containerpb.MasterAuth{}, ts: ts,
			want: "reading the CA certificate of cluster c: missing"},
		{name: "CA not base64", auth: &containerpb.MasterAuth{ClusterCaCertificate: "%%%"}, ts: ts,
			want: "reading the CA certificate of cluster c: not base64: illegal base64 data at input byte 0"},
		{name: "CA not PEM", auth: &containerpb.MasterAuth{ClusterCaCertificate: b64([]byte("hello"))}, ts: ts,
			want: "reading the CA certificate of cluster c: not PEM"},
		{name: "certificate without key", auth: &containerpb.MasterAuth{ClusterCaCertificate: ca, ClientCertificate: cert},
			want: "reading the client key of cluster c: missing"},
		{name: "key without certificate", auth: &containerpb.MasterAuth{ClusterCaCertificate: ca, ClientKey: key},
			want: "reading the client certificate of cluster c: missing", secrets: []string{key}},
		{name: "key not PEM", auth: &containerpb.MasterAuth{ClusterCaCertificate: ca, ClientCertificate: cert, ClientKey: notPEM},
			want: "reading the client key of cluster c: not PEM", secrets: []string{notPEM, string(p.clientKeyPEM[30:60])}},
		{name: "no credentials", auth: &containerpb.MasterAuth{ClusterCaCertificate: ca},
			want: "no credentials for cluster c: it has no client certificate and no Google token source was given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &containerpb.Cluster{Name: "c", Endpoint: "34.83.1.2", Status: containerpb.Cluster_PROVISIONING, MasterAuth: tt.auth}
			if tt.noEP {
				c.Endpoint = ""
			}
			cfg, err := RESTConfig(c, tt.ts)
			if err == nil {
				t.Fatalf("RESTConfig() = %+v, want error %q", cfg, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
			for _, s := range tt.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q quotes secret material", err)
				}
			}
		})
	}
}
