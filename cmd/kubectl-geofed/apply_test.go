package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

func TestApplyValidate(t *testing.T) {
	valid := func() ApplyOptions {
		return ApplyOptions{Filename: "topology.yaml", fleetFlags: fleetFlags{Refresh: "inventory", Parallel: 8, RequestTimeout: time.Minute}, Timeout: 5 * time.Minute, LockTTL: inventory.DefaultLockTTL}
	}
	tests := []struct {
		name    string
		modify  func(*ApplyOptions)
		wantErr string // "" = valid
	}{
		{name: "defaults", modify: func(*ApplyOptions) {}},
		{name: "saved plan", modify: func(o *ApplyOptions) { o.Filename, o.PlanFile = "", "plan.json" }},
		{name: "saved plan and -f", modify: func(o *ApplyOptions) { o.PlanFile = "plan.json" }},
		{name: "nothing to apply", modify: func(o *ApplyOptions) { o.Filename = "" }, wantErr: "apply -f topology.yaml, or apply plan.json"},
		{name: "bad --refresh", modify: func(o *ApplyOptions) { o.Refresh = "partial" }, wantErr: `--refresh must be inventory or full, not "partial"`},
		{name: "parallel 0", modify: func(o *ApplyOptions) { o.Parallel = 0 }, wantErr: "--parallel must be at least 1"},
		{name: "timeout 0", modify: func(o *ApplyOptions) { o.Timeout = 0 }, wantErr: "--timeout must be positive"},
		{name: "waiting for the lock", modify: func(o *ApplyOptions) { o.LockTimeout = time.Minute }},
		{name: "lock ttl under 1s", modify: func(o *ApplyOptions) { o.LockTTL = 500 * time.Millisecond }, wantErr: "--lock-ttl must be at least 1s, not 500ms"},
		{name: "negative lock timeout", modify: func(o *ApplyOptions) { o.LockTimeout = -time.Second }, wantErr: "--lock-timeout must not be negative, not -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid()
			tt.modify(&o)
			err := o.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("Validate() = nil, want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("Validate() = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// Only "yes" on a terminal confirms; without a terminal apply refuses at
// once instead of waiting for input.
func TestApplyConfirm(t *testing.T) {
	tests := []struct {
		name        string
		interactive bool
		input       string
		wantErr     string // "" = confirmed
	}{
		{name: "yes", interactive: true, input: "yes\n"},
		{name: "yes with spaces", interactive: true, input: "  yes \n"},
		{name: "y", interactive: true, input: "y\n", wantErr: "apply cancelled: nothing was changed"},
		{name: "YES", interactive: true, input: "YES\n", wantErr: "apply cancelled"},
		{name: "end of input", interactive: true, input: "", wantErr: "apply cancelled"},
		{name: "no terminal", input: "yes\n", wantErr: "refusing to apply without confirmation: standard input is not a terminal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			streams, in, out, _ := genericiooptions.NewTestIOStreams()
			in.WriteString(tt.input)
			o := &ApplyOptions{Interactive: tt.interactive, IOStreams: streams}
			err := o.confirm()
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("confirm() = %v, want nil", err)
				}
			} else {
				var ee *ExitError
				if !errors.As(err, &ee) || ee.Code != 1 || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("confirm() = %v, want exit 1 with %q", err, tt.wantErr)
				}
			}
			asked := strings.Contains(out.String(), confirmPrompt)
			if asked != tt.interactive {
				t.Errorf("prompt shown = %t, want %t (out %q)", asked, tt.interactive, out)
			}
		})
	}
}

// A saved plan that cannot be applied is refused before anything is
// printed (engine.Replan's refusals are tested there).
func TestApplyRunSavedPlanRefused(t *testing.T) {
	isolateKubeconfig(t)
	path := filepath.Join(t.TempDir(), "failed.json")
	b, err := json.Marshal(plan.Plan{FormatVersion: plan.FormatVersion, Summary: plan.Summary{Unreachable: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	o := &ApplyOptions{PlanFile: path, fleetFlags: fleetFlags{Refresh: "inventory", Parallel: 1, RequestTimeout: time.Minute}, Timeout: time.Minute, IOStreams: streams}
	err = o.Run(context.Background())
	if want := "is incomplete (1 cluster(s) unreachable): plan again when every cluster can be reached"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Run() = %v, want an error containing %q", err, want)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q before refusing", out)
	}
}

// With no cluster reachable there is nothing to apply: exit 1 with the
// plan's reason, without asking.
func TestApplyRunUnreachable(t *testing.T) {
	isolateKubeconfig(t)
	file := writeCapacityTopology(t, "")
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	o := &ApplyOptions{Filename: file, fleetFlags: fleetFlags{Refresh: "inventory", Parallel: 2, ClusterTimeout: time.Second, RequestTimeout: time.Minute}, Timeout: time.Minute, Interactive: true, IOStreams: streams}
	err := o.Run(context.Background())
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 1 || !strings.Contains(err.Error(), "the plan is incomplete: 2 cluster(s) unreachable") {
		t.Fatalf("Run() = %v, want exit 1: the plan is incomplete", err)
	}
	if !strings.Contains(out.String(), "unreachable") || strings.Contains(out.String(), confirmPrompt) {
		t.Errorf("want the plan shown and no prompt, got:\n%s", out)
	}
}
