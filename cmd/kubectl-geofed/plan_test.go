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
)

func TestPlanValidate(t *testing.T) {
	valid := func() PlanOptions {
		return PlanOptions{Filename: "topology.yaml", fleetFlags: fleetFlags{Refresh: "inventory", Parallel: 8, RequestTimeout: time.Minute}}
	}
	tests := []struct {
		name    string
		modify  func(*PlanOptions)
		wantErr string // "" = valid
	}{
		{name: "defaults", modify: func(*PlanOptions) {}},
		{name: "json", modify: func(o *PlanOptions) { o.Output = "json" }},
		{name: "yaml", modify: func(o *PlanOptions) { o.Output = "yaml" }},
		{name: "full refresh", modify: func(o *PlanOptions) { o.Refresh = "full" }},
		{name: "parallel 1", modify: func(o *PlanOptions) { o.Parallel = 1 }},
		{name: "missing -f", modify: func(o *PlanOptions) { o.Filename = "" }, wantErr: "-f topology.yaml"},
		{name: "markdown", modify: func(o *PlanOptions) { o.Output = "markdown" }},
		{name: "html", modify: func(o *PlanOptions) { o.Output = "html" }},
		{name: "bad -o", modify: func(o *PlanOptions) { o.Output = "table" }, wantErr: `--output must be json, yaml, markdown or html, not "table"`},
		{name: "bad --refresh", modify: func(o *PlanOptions) { o.Refresh = "partial" }, wantErr: `--refresh must be inventory or full, not "partial"`},
		{name: "empty --refresh", modify: func(o *PlanOptions) { o.Refresh = "" }, wantErr: "--refresh"},
		{name: "parallel 0", modify: func(o *PlanOptions) { o.Parallel = 0 }, wantErr: "--parallel must be at least 1"},
		{name: "parallel negative", modify: func(o *PlanOptions) { o.Parallel = -3 }, wantErr: "--parallel must be at least 1"},
		{name: "markdown bounded", modify: func(o *PlanOptions) { o.Output, o.MaxBytes = "markdown", 60000 }},
		{name: "markdown unbounded", modify: func(o *PlanOptions) { o.Output, o.MaxBytes = "markdown", 0 }},
		{name: "markdown bound too small", modify: func(o *PlanOptions) { o.MaxBytes = 500 }, wantErr: "--max-bytes must be 0 (no bound) or at least 2000, not 500"},
		{name: "negative bound", modify: func(o *PlanOptions) { o.MaxBytes = -1 }, wantErr: "--max-bytes must be 0"},
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

// Plan with clusters that cannot be reached still prints and saves what it
// knows, and fails with exit code 1 naming why: an incomplete plan is an
// error even under --detailed-exitcode. Runs offline: the clusters' kubeconfig
// contexts exist nowhere.
func TestPlanRunUnreachable(t *testing.T) {
	isolateKubeconfig(t)
	file := writeCapacityTopology(t, "")
	for _, output := range []string{"", "json", "yaml"} {
		t.Run("output="+output, func(t *testing.T) {
			saveTo := filepath.Join(t.TempDir(), "plan.json")
			streams, _, out, errOut := genericiooptions.NewTestIOStreams()
			o := &PlanOptions{
				Filename: file, printFlags: printFlags{Output: output}, SaveTo: saveTo, DetailedExitCode: true,
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
			if want := "the plan is incomplete: 2 cluster(s) unreachable"; err.Error() != want {
				t.Errorf("error = %q, want %q", err, want)
			}

			// What it could find out is printed: why each cluster is unreachable.
			// (JSON escapes the quotes, YAML folds long lines.)
			flat := strings.Join(strings.Fields(strings.ReplaceAll(out.String(), `\"`, `"`)), " ")
			if !strings.Contains(flat, `kubeconfig context "b" not found`) {
				t.Errorf("output does not say why cluster b is unreachable:\n%s", out)
			}

			saved, rerr := os.ReadFile(saveTo)
			if rerr != nil {
				t.Fatalf("the plan was not saved: %v", rerr)
			}
			if fi, err := os.Stat(saveTo); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("saved plan mode = %v (%v), want 0600", fi.Mode().Perm(), err)
			}
			var doc struct {
				FormatVersion string `json:"formatVersion"`
				Topology      string `json:"topology"`
			}
			if err := json.Unmarshal(saved, &doc); err != nil || doc.FormatVersion == "" || doc.Topology != "whatif" {
				t.Errorf("saved plan is not a plan of topology whatif (%v): %.200s", err, saved)
			}
			if output == "json" && out.String() != string(saved) {
				t.Errorf("-o json and the saved plan differ:\n%s\n---\n%s", out, saved)
			}
			// An incomplete plan is saved for inspection, not offered to apply.
			if !strings.Contains(errOut.String(), "Saved the incomplete plan to "+saveTo) || strings.Contains(errOut.String(), "kubectl geofed apply") {
				t.Errorf("ErrOut = %q, want it to say where the incomplete plan was saved, without inviting apply", errOut)
			}
		})
	}
}
