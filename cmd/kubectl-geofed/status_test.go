package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/geofed-io/kubectl-geofed/pkg/status"
)

func TestStatusValidate(t *testing.T) {
	valid := func() StatusOptions {
		return StatusOptions{Filename: "topology.yaml", Interval: DefaultStatusInterval,
			fleetFlags: fleetFlags{Refresh: "inventory", Parallel: 8, RequestTimeout: time.Minute}}
	}
	tests := []struct {
		name    string
		modify  func(*StatusOptions)
		wantErr string // "" = valid
	}{
		{name: "defaults", modify: func(*StatusOptions) {}},
		{name: "json", modify: func(o *StatusOptions) { o.Output = "json" }},
		{name: "yaml", modify: func(o *StatusOptions) { o.Output = "yaml" }},
		{name: "full refresh", modify: func(o *StatusOptions) { o.Refresh = "full" }},
		{name: "watch", modify: func(o *StatusOptions) { o.Watch = true }},
		{name: "watch every second", modify: func(o *StatusOptions) { o.Watch, o.Interval = true, time.Second }},
		{name: "a short interval without --watch is unused", modify: func(o *StatusOptions) { o.Interval = time.Millisecond }},
		{name: "missing -f", modify: func(o *StatusOptions) { o.Filename = "" }, wantErr: "-f topology.yaml"},
		{name: "html", modify: func(o *StatusOptions) { o.Output = "html" }},
		{name: "html --watch", modify: func(o *StatusOptions) { o.Output, o.Watch = "html", true }, wantErr: "-o html writes one page"},
		{name: "bad -o", modify: func(o *StatusOptions) { o.Output = "wide" }, wantErr: `--output must be json, yaml or html, not "wide"`},
		{name: "watch too often", modify: func(o *StatusOptions) { o.Watch, o.Interval = true, 200*time.Millisecond }, wantErr: "--interval must be at least 1s, not 200ms"},
		{name: "watch, no interval", modify: func(o *StatusOptions) { o.Watch, o.Interval = true, 0 }, wantErr: "--interval must be at least 1s"},
		{name: "bad --refresh", modify: func(o *StatusOptions) { o.Refresh = "partial" }, wantErr: `--refresh must be inventory or full, not "partial"`},
		{name: "--adopt", modify: func(o *StatusOptions) { o.Adopt = true }, wantErr: "--adopt does not apply to status"},
		{name: "parallel 0", modify: func(o *StatusOptions) { o.Parallel = 0 }, wantErr: "--parallel must be at least 1"},
		{name: "request timeout 0", modify: func(o *StatusOptions) { o.RequestTimeout = 0 }, wantErr: "--request-timeout must be positive"},
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

// The command's flags reach the Options: what a user types is what runs.
func TestStatusFlags(t *testing.T) {
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	cmd := NewStatusCommand(nil, streams)
	if err := cmd.ParseFlags([]string{"-f", "t.yaml", "-o", "yaml", "-w", "--interval", "7s", "--refresh", "full", "--cluster-timeout", "2s"}); err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{"filename": "t.yaml", "output": "yaml", "watch": "true", "interval": "7s", "refresh": "full", "cluster-timeout": "2s"} {
		if got := cmd.Flags().Lookup(flag).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", flag, got, want)
		}
	}
	if f := cmd.Flags().Lookup("adopt"); f == nil || !f.Hidden {
		t.Errorf("--adopt: %+v, want it hidden (plan's, meaningless here)", f)
	}
}

// Clusters that cannot be reached are reported with the reason, in every
// format, and exit 1. Runs offline: the clusters' kubeconfig contexts
// exist nowhere.
func TestStatusRunUnreachable(t *testing.T) {
	isolateKubeconfig(t)
	file := writeCapacityTopology(t, "")
	for _, output := range []string{"", "json", "yaml"} {
		t.Run("output="+output, func(t *testing.T) {
			streams, _, out, _ := genericiooptions.NewTestIOStreams()
			o := &StatusOptions{
				Filename: file, printFlags: printFlags{Output: output},
				fleetFlags: fleetFlags{Refresh: "inventory", Parallel: 2, ClusterTimeout: time.Second, RequestTimeout: time.Minute},
				IOStreams:  streams,
			}
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			err := o.Run(context.Background())
			var ee *ExitError
			if !errors.As(err, &ee) || ee.Code != 1 {
				t.Fatalf("Run() = %v, want an ExitError with code 1", err)
			}
			if want := "not everything is reachable and ready: 2 cluster(s) unreachable"; err.Error() != want {
				t.Errorf("error = %q, want %q", err, want)
			}
			flat := strings.Join(strings.Fields(strings.ReplaceAll(out.String(), `\"`, `"`)), " ")
			if !strings.Contains(flat, `kubeconfig context "b" not found`) {
				t.Errorf("output does not say why cluster b is unreachable:\n%s", out)
			}
			if output == "json" {
				var s status.Status
				if err := json.Unmarshal(out.Bytes(), &s); err != nil || s.APIVersion != status.APIVersion || s.Summary.Unreachable != 2 {
					t.Errorf("-o json: %v, %+v", err, s.Summary)
				}
			}
		})
	}
}

// --watch prints one block while nothing changes, sleeping between rounds,
// and on interrupt exits as that block says.
func TestStatusWatchUnchanged(t *testing.T) {
	isolateKubeconfig(t)
	file := writeCapacityTopology(t, "")
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	o := &StatusOptions{
		Filename: file, Watch: true, Interval: time.Second,
		fleetFlags: fleetFlags{Refresh: "inventory", Parallel: 2, ClusterTimeout: time.Second, RequestTimeout: time.Minute},
		IOStreams:  streams,
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := o.Run(ctx)
	if elapsed := time.Since(start); elapsed < 3*time.Second {
		t.Errorf("--watch returned after %s, before it was interrupted", elapsed)
	}
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Errorf("Run() = %v, want the exit code of the last block (1: unreachable)", err)
	}
	if n := strings.Count(out.String(), "Status of whatif at "); n != 1 {
		t.Errorf("%d blocks printed over 3 unchanged rounds, want 1:\n%s", n, out)
	}
}

func TestChangeKey(t *testing.T) {
	base := func() *status.Status {
		return &status.Status{
			ObservedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			Regions: []status.Region{{Name: "r", Clusters: []status.Cluster{{Name: "c", Reachable: true, Requests: 12,
				Workloads: []status.Workload{{Name: "w", Ready: true}}}}}},
		}
	}
	key := func(s *status.Status) string {
		t.Helper()
		k, err := changeKey(s)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	b := key(base())
	later := base()
	later.ObservedAt = later.ObservedAt.Add(time.Minute)
	later.Regions[0].Clusters[0].Requests = 13
	if key(later) != b {
		t.Error("another time and request count changed the key: every round would print")
	}
	notReady := base()
	notReady.Regions[0].Clusters[0].Workloads[0].Ready = false
	if key(notReady) == b {
		t.Error("a workload no longer ready left the key alone: the change would not print")
	}
	// The key never changes what is printed.
	s := base()
	_ = key(s)
	if s.Regions[0].Clusters[0].Requests != 12 || s.ObservedAt.IsZero() {
		t.Errorf("changeKey modified the status: %+v", s)
	}
}
