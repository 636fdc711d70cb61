package lab

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// egressProxy is an HTTP CONNECT proxy on a unix socket that the apiserver
// of a cluster with a real node sends its traffic to nodes and Pods through
// (--egress-selector-config-file, the "cluster" selection): kubectl logs,
// exec and port-forward reach the kubelet, and the pods/proxy and
// services/proxy subresources reach Pod addresses, all of which live only
// inside the real node's network namespace. Each CONNECT is dialled from
// inside that namespace.
type egressProxy struct {
	c    *Cluster
	l    net.Listener
	srv  *http.Server
	wg   sync.WaitGroup
	mu   sync.Mutex
	open map[net.Conn]struct{}
}

// egressConfig is the apiserver's egress selector configuration for a
// proxy listening at socket.
func egressConfig(socket string) string {
	return fmt.Sprintf(`apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: %q
`, socket)
}

func startEgressProxy(c *Cluster, socket string) (*egressProxy, error) {
	_ = os.Remove(socket)
	l, err := net.Listen("unix", socket)
	if err != nil {
		return nil, fmt.Errorf("egress proxy: %w", err)
	}
	p := &egressProxy{c: c, l: l, open: map[net.Conn]struct{}{}}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.connect), ReadHeaderTimeout: 10 * time.Second}
	p.wg.Go(func() { _ = p.srv.Serve(l) })
	return p, nil
}

func (p *egressProxy) connect(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	p.c.mu.Lock()
	n := p.c.realNode
	p.c.mu.Unlock()
	if n == nil || n.netns == nil {
		http.Error(w, "cluster "+p.c.Name+" has no real node running", http.StatusServiceUnavailable)
		return
	}
	out, err := dialInNetns(r.Context(), n.netns, r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		out.Close()
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return
	}
	in, buf, err := hj.Hijack()
	if err != nil {
		out.Close()
		return
	}
	if !p.track(in, out) {
		in.Close()
		out.Close()
		return
	}
	defer p.untrack(in, out)
	if _, err := io.WriteString(in, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		in.Close()
		out.Close()
		return
	}
	splice(in, bufferedConn{in, buf.Reader}, out)
}

// bufferedConn reads what the hijacked connection's reader already holds
// before reading the connection itself.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// splice copies both ways between a client (read through src) and out until
// both directions end, then closes both.
func splice(in net.Conn, src io.Reader, out net.Conn) {
	var wg sync.WaitGroup
	wg.Go(func() {
		_, _ = io.Copy(out, src)
		closeWrite(out)
	})
	wg.Go(func() {
		_, _ = io.Copy(in, out)
		closeWrite(in)
	})
	wg.Wait()
	in.Close()
	out.Close()
}

func closeWrite(c net.Conn) {
	type halfCloser interface{ CloseWrite() error }
	if hc, ok := c.(halfCloser); ok {
		_ = hc.CloseWrite()
	}
}

func (p *egressProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open == nil {
		return false
	}
	for _, c := range cs {
		p.open[c] = struct{}{}
	}
	return true
}

func (p *egressProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.open, c)
	}
}

// close stops the proxy and ends the connections it holds open (a kubectl
// logs -f, an exec).
func (p *egressProxy) close() {
	_ = p.srv.Close()
	p.mu.Lock()
	for c := range p.open {
		c.Close()
	}
	p.open = nil
	p.mu.Unlock()
	p.wg.Wait()
}
