// Package faultproxy puts a reverse proxy on loopback in front of a lab
// cluster's kube-apiserver that can make reads of one resource fail, switched
// at run time: answer 500, 429 or 403, or hang until the client gives up. It
// is how the lab shows that a read that fails is never taken for "nothing
// there" (DESIGN §4 "Blast radius").
//
// The proxy serves with the apiserver's own certificate, so a kubeconfig that
// trusts the cluster reaches it unchanged but for the server address. It
// forwards as the lab's admin; a client that brings a bearer token is
// forwarded with that token and no client certificate, and a client that
// brings another certificate of the cluster's CA is impersonated, so
// authorization sees the client's identity, not the proxy's. With no fault
// set it only forwards: one more TLS hop on loopback.
package faultproxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Status is what a faulted read answers.
type Status string

const (
	// Status500 answers 500 Internal Server Error.
	Status500 Status = "500"
	// Status429 answers 429 Too Many Requests, with no Retry-After: a
	// client does not wait out retries, it fails, which is the failure
	// under test.
	Status429 Status = "429"
	// StatusForbidden answers 403 Forbidden, as RBAC does.
	StatusForbidden Status = "forbidden"
	// StatusTimeout answers nothing: the request hangs until the client
	// gives up (its timeout, or its context).
	StatusTimeout Status = "timeout"
)

// Statuses are the statuses a fault can have, as the CLI lists them.
var Statuses = []Status{Status500, Status429, StatusTimeout, StatusForbidden}

// ParseStatus reads a --status value: 500, 429, timeout, forbidden (or 403).
func ParseStatus(s string) (Status, error) {
	if s == "403" {
		return StatusForbidden, nil
	}
	if slices.Contains(Statuses, Status(s)) {
		return Status(s), nil
	}
	return "", fmt.Errorf("fault status %q: want one of 500, 429, timeout, forbidden", s)
}

// Fault makes the reads (GET: get, list, watch) of one resource fail.
type Fault struct {
	// Resource is RESOURCE.GROUP as kubectl writes it: "deployments.apps",
	// or "configmaps" for the core group.
	Resource string `json:"resource"`
	Status   Status `json:"status"`
}

func (f Fault) groupResource() schema.GroupResource {
	return schema.ParseGroupResource(f.Resource)
}

// Validate reports what Set would refuse in f.
func (f Fault) Validate() error {
	gr := f.groupResource()
	if gr.Resource == "" || strings.ContainsAny(f.Resource, "/ ") {
		return fmt.Errorf("fault resource %q: want RESOURCE[.GROUP], such as deployments.apps or configmaps", f.Resource)
	}
	if _, err := ParseStatus(string(f.Status)); err != nil {
		return err
	}
	return nil
}

// Options configure a proxy.
type Options struct {
	// Upstream is the apiserver's URL, https://127.0.0.1:PORT.
	Upstream string
	// CAData verifies the apiserver, and the client certificates the
	// proxy accepts.
	CAData []byte
	// CertData and KeyData are the admin client certificate the proxy
	// forwards with.
	CertData, KeyData []byte
	// ServingCert and ServingKey are the apiserver's serving certificate
	// and key (PEM), which the proxy presents.
	ServingCert, ServingKey []byte
}

// Proxy is a running fault proxy. Its methods are safe for concurrent use.
type Proxy struct {
	// URL is where clients reach it: https://127.0.0.1:PORT.
	URL string

	server    *http.Server
	adminCert []byte // DER of the admin client certificate
	closing   chan struct{}
	closeOnce sync.Once

	mu     sync.Mutex
	faults map[schema.GroupResource]Status
}

// Start starts a proxy on a free loopback port. It serves until Close.
func Start(opts Options) (*Proxy, error) {
	upstream, err := url.Parse(opts.Upstream)
	if err != nil {
		return nil, fmt.Errorf("fault proxy: upstream %q: %w", opts.Upstream, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(opts.CAData) {
		return nil, errors.New("fault proxy: no CA certificate in CAData")
	}
	admin, err := tls.X509KeyPair(opts.CertData, opts.KeyData)
	if err != nil {
		return nil, fmt.Errorf("fault proxy: admin client certificate: %w", err)
	}
	serving, err := tls.X509KeyPair(opts.ServingCert, opts.ServingKey)
	if err != nil {
		return nil, fmt.Errorf("fault proxy: serving certificate: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fault proxy: listening: %w", err)
	}
	p := &Proxy{
		URL:       "https://" + ln.Addr().String(),
		adminCert: admin.Certificate[0],
		closing:   make(chan struct{}),
		faults:    map[schema.GroupResource]Status{},
	}
	asAdmin := transport(pool, &admin)
	asClient := transport(pool, nil)
	forward := func(t http.RoundTripper) *httputil.ReverseProxy {
		return &httputil.ReverseProxy{
			Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(upstream) },
			Transport: t,
			// Watches stream: every event goes on at once.
			FlushInterval: -1,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				if r.Context().Err() != nil {
					return // the client gave up: nobody to tell
				}
				writeStatus(w, http.StatusBadGateway, metav1.StatusReasonServiceUnavailable,
					"geofed-lab fault proxy: reaching the apiserver: "+err.Error())
			},
		}
	}
	admins, clients := forward(asAdmin), forward(asClient)
	p.server = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if p.fault(w, r) {
				return
			}
			switch {
			case r.Header.Get("Authorization") != "":
				// The client's own token says who it is.
				clients.ServeHTTP(w, r)
			case r.TLS != nil && len(r.TLS.PeerCertificates) > 0:
				leaf := r.TLS.PeerCertificates[0]
				if !bytes.Equal(leaf.Raw, p.adminCert) {
					r.Header.Set("Impersonate-User", leaf.Subject.CommonName)
					for _, g := range leaf.Subject.Organization {
						r.Header.Add("Impersonate-Group", g)
					}
				}
				admins.ServeHTTP(w, r)
			default:
				clients.ServeHTTP(w, r) // anonymous
			}
		}),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{serving},
			ClientCAs:    pool,
			ClientAuth:   tls.VerifyClientCertIfGiven,
			MinVersion:   tls.VersionTLS12,
		},
		ReadHeaderTimeout: 30 * time.Second,
	}
	go func() { _ = p.server.ServeTLS(ln, "", "") }()
	return p, nil
}

func transport(pool *x509.CertPool, cert *tls.Certificate) *http.Transport {
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Transport{
		TLSClientConfig:     cfg,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
	}
}

// Set makes reads of f.Resource fail with f.Status, replacing a fault the
// resource had.
func (p *Proxy) Set(f Fault) error {
	if err := f.Validate(); err != nil {
		return err
	}
	st, _ := ParseStatus(string(f.Status))
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults[f.groupResource()] = st
	return nil
}

// Clear removes the fault of resource, or every fault when resource is "".
func (p *Proxy) Clear(resource string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if resource == "" {
		clear(p.faults)
		return
	}
	delete(p.faults, schema.ParseGroupResource(resource))
}

// Faults are the faults set, sorted by resource.
func (p *Proxy) Faults() []Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Fault, 0, len(p.faults))
	for gr, st := range p.faults {
		out = append(out, Fault{Resource: gr.String(), Status: st})
	}
	slices.SortFunc(out, func(a, b Fault) int { return strings.Compare(a.Resource, b.Resource) })
	return out
}

// Close stops serving; requests held by a timeout fault end.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() { close(p.closing) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.server.Shutdown(ctx); err != nil {
		return p.server.Close()
	}
	return nil
}

// fault answers r when it reads a faulted resource, and reports whether it
// did.
func (p *Proxy) fault(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	req, ok := parsePath(r.URL.Path)
	if !ok {
		return false
	}
	p.mu.Lock()
	st, faulted := p.faults[req.resource]
	p.mu.Unlock()
	if !faulted {
		return false
	}
	verb := "get"
	switch {
	case req.watch || r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1":
		verb = "watch"
	case req.name == "":
		verb = "list"
	}
	switch st {
	case StatusTimeout:
		// Hold the request until the client gives up; then, or when the
		// proxy closes, drop the connection: an empty answer would read
		// as an empty watch.
		select {
		case <-r.Context().Done():
		case <-p.closing:
		}
		panic(http.ErrAbortHandler)
	case Status429:
		writeStatus(w, http.StatusTooManyRequests, metav1.StatusReasonTooManyRequests,
			"Too many requests, please try again later. (fault injected by geofed-lab)")
	case StatusForbidden:
		user := "system:anonymous"
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			user = r.TLS.PeerCertificates[0].Subject.CommonName
		} else if r.Header.Get("Authorization") != "" {
			user = "the bearer of the request's token"
		}
		scope := "at the cluster scope"
		if req.namespace != "" {
			scope = fmt.Sprintf("in the namespace %q", req.namespace)
		}
		writeStatus(w, http.StatusForbidden, metav1.StatusReasonForbidden,
			fmt.Sprintf("%s is forbidden: User %q cannot %s resource %q in API group %q %s (fault injected by geofed-lab)",
				req.resource, user, verb, req.resource.Resource, req.resource.Group, scope))
	default:
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError,
			fmt.Sprintf("Internal error occurred: %s %s (fault injected by geofed-lab)", verb, req.resource))
	}
	return true
}

func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	body, _ := json.Marshal(&metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  message,
		Reason:   reason,
		Code:     int32(code),
	})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// request is what a resource path says.
type request struct {
	resource  schema.GroupResource
	namespace string
	name      string
	// watch is the legacy /watch/ path form.
	watch bool
}

// parsePath reads an API path as the apiserver does:
// /api/v1[/watch][/namespaces/NS]/RESOURCE[/NAME[/SUBRESOURCE]] and the same
// under /apis/GROUP/VERSION. Discovery paths (/api, /apis/GROUP) are not
// resource requests.
func parsePath(path string) (request, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var req request
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		req.resource.Group = parts[1]
		parts = parts[3:]
	default:
		return req, false
	}
	if parts[0] == "watch" {
		req.watch = true
		parts = parts[1:]
	}
	// namespaces/NS/RESOURCE...; but namespaces/NAME and its own
	// subresources (status, finalize) are the Namespace itself.
	if len(parts) >= 3 && parts[0] == "namespaces" && !(req.resource.Group == "" && len(parts) == 3 && (parts[2] == "status" || parts[2] == "finalize")) {
		req.namespace = parts[1]
		parts = parts[2:]
	}
	if len(parts) == 0 || parts[0] == "" {
		return req, false
	}
	req.resource.Resource = parts[0]
	if len(parts) >= 2 {
		req.name = parts[1]
	}
	return req, true
}
