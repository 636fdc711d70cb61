package faultproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Set is the proxies of a lab's clusters, by cluster name; the lab daemon
// holds one and serves it on a control socket (Serve), which `geofed-lab
// fault` talks to (SetFault, ClearFaults).
type Set struct {
	mu      sync.Mutex
	proxies map[string]*Proxy
}

// NewSet returns an empty set.
func NewSet() *Set { return &Set{proxies: map[string]*Proxy{}} }

// Add puts the proxy of a cluster in the set.
func (s *Set) Add(cluster string, p *Proxy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.proxies[cluster] = p
}

// Get returns the proxy of a cluster, or an error naming those there are.
func (s *Set) Get(cluster string) (*Proxy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.proxies[cluster]; ok {
		return p, nil
	}
	names := make([]string, 0, len(s.proxies))
	for n := range s.proxies {
		names = append(names, n)
	}
	slices.Sort(names)
	return nil, fmt.Errorf("no fault proxy for cluster %q (the lab's clusters with one: %s)", cluster, strings.Join(names, ", "))
}

// Close stops every proxy.
func (s *Set) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, p := range s.proxies {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}

// Handler serves the control API:
//
//	PUT    /faults/CLUSTER             a Fault as JSON: set it
//	DELETE /faults/CLUSTER?resource=R  clear R's fault, or all with no R
//	GET    /faults/CLUSTER             the cluster's faults as JSON
func (s *Set) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/faults/{cluster}", func(w http.ResponseWriter, r *http.Request) {
		p, err := s.Get(r.PathValue("cluster"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		switch r.Method {
		case http.MethodPut:
			var f Fault
			if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&f); err != nil {
				http.Error(w, "decoding fault: "+err.Error(), http.StatusBadRequest)
				return
			}
			if err := p.Set(f); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		case http.MethodDelete:
			p.Clear(r.URL.Query().Get("resource"))
		case http.MethodGet:
		default:
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p.Faults())
	})
	return mux
}

// Serve serves the set's control API on a unix socket at path until ctx
// ends. The socket is only the lab user's: whoever can reach it can break
// the lab's clusters.
func Serve(ctx context.Context, path string, s *Set) error {
	_ = os.Remove(path) // a socket a dead daemon left
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("fault control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("fault control socket: %w", err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
		_ = os.Remove(path)
	}()
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// SetFault sets a fault on a cluster through the control socket at path,
// and returns the cluster's faults now.
func SetFault(ctx context.Context, path, cluster string, f Fault) ([]Fault, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	body, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	return call(ctx, path, http.MethodPut, cluster, "", string(body))
}

// ClearFaults clears a cluster's fault of resource, or all of them when
// resource is "", through the control socket at path, and returns the
// cluster's faults now.
func ClearFaults(ctx context.Context, path, cluster, resource string) ([]Fault, error) {
	return call(ctx, path, http.MethodDelete, cluster, resource, "")
}

func call(ctx context.Context, path, method, cluster, resource, body string) ([]Fault, error) {
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
	defer hc.CloseIdleConnections()
	u := "http://lab/faults/" + url.PathEscape(cluster)
	if resource != "" {
		u += "?resource=" + url.QueryEscape(resource)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reaching the lab daemon's fault control (%s): %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New(strings.TrimSpace(string(data)))
	}
	var faults []Fault
	if err := json.Unmarshal(data, &faults); err != nil {
		return nil, fmt.Errorf("reading the lab daemon's answer: %w", err)
	}
	return faults, nil
}
