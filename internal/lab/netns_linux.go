package lab

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// listenInNetns listens on addr inside the network namespace ns (an open
// /proc/PID/ns/net): the socket belongs to that namespace for its whole
// life, while its connections are served from any thread.
func listenInNetns(ns *os.File, addr string) (net.Listener, error) {
	var l net.Listener
	err := inNetns(ns, func() error {
		var err error
		l, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listening on %s in the node's network namespace: %w", addr, err)
	}
	return l, nil
}

// dialInNetns connects to addr from inside the network namespace ns.
func dialInNetns(ctx context.Context, ns *os.File, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNetns(ns, func() error {
		d := net.Dialer{Timeout: 10 * time.Second}
		var err error
		c, err = d.DialContext(ctx, "tcp", addr)
		return err
	})
	if err != nil {
		if c != nil {
			c.Close()
		}
		return nil, fmt.Errorf("connecting to %s in the node's network namespace: %w", addr, err)
	}
	return c, nil
}

// inNetns runs fn on a locked thread moved into the network namespace ns and
// back; a socket fn creates stays in ns. The thread must survive: the lab's
// processes die with the thread that started them (Pdeathsig), and Go ends a
// thread whose goroutine exits locked, so it is only left locked, and ended,
// when it cannot get back.
func inNetns(ns *os.File, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("opening this thread's network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("entering network namespace %s: %w", ns.Name(), err)
			return
		}
		fnErr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Stay locked: the thread ends with this goroutine.
			done <- fmt.Errorf("leaving network namespace %s: %w", ns.Name(), err)
			return
		}
		runtime.UnlockOSThread()
		done <- fnErr
	}()
	return <-done
}
