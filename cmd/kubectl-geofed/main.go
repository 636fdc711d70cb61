// Command kubectl-geofed is the kubectl plugin that federates Kubernetes
// clusters across regions from one declarative topology file.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func main() {
	// The first Ctrl-C cancels the command's context: plan and render stop,
	// apply finishes the requests in flight, records what it did in every
	// inventory, releases its locks and starts nothing new. The second
	// Ctrl-C exits at once (the default signal behaviour, restored).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			stop()
			fmt.Fprintln(os.Stderr, "Interrupted: finishing what is in flight and recording it; interrupt again to exit at once.")
		case <-done:
		}
	}()
	redactSecretsInLogs()
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	cmd := NewRootCommand(streams)
	err := cmd.ExecuteContext(ctx)
	close(done)
	stop()
	os.Exit(exitCode(err, streams))
}

// ExitError carries a specific exit code out of a command, such as 2 for
// "plan has changes" under --detailed-exitcode. A nil Err means the code is
// not a failure and nothing is printed.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// exitCode prints err (if any) the way kubectl does and maps it to the
// process exit code: 0 success, 1 error, or the code an ExitError carries.
func exitCode(err error, streams genericiooptions.IOStreams) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			// err, not ee.Err: wrapping may have added context.
			fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
		}
		return ee.Code
	}
	fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
	return 1
}
