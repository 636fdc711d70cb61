package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("output differs from %s (-want +got; run go test -update to accept):\n%s", path, diff)
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		code   int
		errOut string
	}{
		{name: "success", err: nil, code: 0, errOut: ""},
		{name: "plain error", err: errors.New("boom"), code: 1, errOut: "error: boom\n"},
		{name: "wrapped plain error", err: fmt.Errorf("loading: %w", errors.New("boom")), code: 1, errOut: "error: loading: boom\n"},
		// --detailed-exitcode's "there are changes": a code, not a failure.
		{name: "code without error", err: &ExitError{Code: 2}, code: 2, errOut: ""},
		{name: "code with error", err: &ExitError{Code: 1, Err: errors.New("the plan is incomplete")}, code: 1, errOut: "error: the plan is incomplete\n"},
		{name: "wrapped code without error", err: fmt.Errorf("plan: %w", &ExitError{Code: 2}), code: 2, errOut: ""},
		{name: "code found through errors.Join", err: errors.Join(&ExitError{Code: 3}), code: 3, errOut: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			streams, _, out, errOut := genericiooptions.NewTestIOStreams()
			if got := exitCode(tt.err, streams); got != tt.code {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.code)
			}
			if got := errOut.String(); got != tt.errOut {
				t.Errorf("ErrOut = %q, want %q", got, tt.errOut)
			}
			if out.Len() != 0 {
				t.Errorf("Out = %q, want nothing", out.String())
			}
		})
	}
}

func TestExitErrorMessage(t *testing.T) {
	inner := errors.New("the plan is incomplete: 1 cluster(s) unreachable")
	tests := []struct {
		err  *ExitError
		want string
	}{
		{&ExitError{Code: 2}, "exit status 2"},
		{&ExitError{Code: 1, Err: inner}, inner.Error()},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if !errors.Is(&ExitError{Code: 1, Err: inner}, inner) {
		t.Error("errors.Is does not see through ExitError to its Err")
	}
}
