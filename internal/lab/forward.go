package lab

import (
	"errors"
	"net"
	"sync"
	"time"
)

// forwarder accepts TCP connections on a listener (one inside a real
// node's network namespace) and joins each to a new connection to target (an
// apiserver on loopback, in the lab's own namespace). It is how Pods reach
// the lab's apiservers with no address outside the lab's namespaces.
type forwarder struct {
	l      net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func startForwarder(l net.Listener, target string) *forwarder {
	f := &forwarder{l: l, target: target, conns: map[net.Conn]struct{}{}}
	f.wg.Go(f.serve)
	return f
}

func (f *forwarder) serve() {
	for {
		in, err := f.l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient accept error (too many open files): back off
			// rather than spin.
			time.Sleep(50 * time.Millisecond)
			continue
		}
		f.wg.Go(func() { f.join(in) })
	}
}

func (f *forwarder) join(in net.Conn) {
	if !f.track(in) {
		in.Close()
		return
	}
	defer f.untrack(in)
	out, err := net.DialTimeout("tcp", f.target, 10*time.Second)
	if err != nil {
		// The apiserver is down (an outage the lab plays): the client sees
		// the connection closed, as it would see it refused.
		in.Close()
		return
	}
	if !f.track(out) {
		in.Close()
		out.Close()
		return
	}
	defer f.untrack(out)
	splice(in, in, out)
}

// track records an open connection, or reports false once the forwarder is
// closed.
func (f *forwarder) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *forwarder) untrack(c net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.conns, c)
}

// close stops listening, ends every open connection and waits for the
// goroutines.
func (f *forwarder) close() {
	f.l.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
}
