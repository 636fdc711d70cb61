package lab

import (
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// listenInNetns listens on addr inside the network namespace ns (an open
// /proc/PID/ns/net): the socket belongs to that namespace for its whole
// life, while its connections are served from any thread. The listening
// happens on a locked thread moved into the namespace and back. The thread
// must survive: the lab's processes die with the thread that started them
// (Pdeathsig), and Go ends a thread whose goroutine exits locked, so it is
// only left locked, and ended, when it cannot get back.
func listenInNetns(ns *os.File, addr string) (net.Listener, error) {
	type result struct {
		l   net.Listener
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("opening this thread's network namespace: %w", err)}
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("entering network namespace %s: %w", ns.Name(), err)}
			return
		}
		l, err := net.Listen("tcp", addr)
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Stay locked: the thread ends with this goroutine.
			if l != nil {
				l.Close()
			}
			done <- result{err: fmt.Errorf("leaving network namespace %s: %w", ns.Name(), err)}
			return
		}
		runtime.UnlockOSThread()
		done <- result{l, err}
	}()
	r := <-done
	if r.err != nil {
		return nil, fmt.Errorf("listening on %s in the node's network namespace: %w", addr, r.err)
	}
	return r.l, nil
}
