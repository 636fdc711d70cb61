package engine

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// A saved plan that cannot be applied is refused before any cluster is
// contacted.
func TestReplanRefuses(t *testing.T) {
	dir := t.TempDir()
	save := func(name string, p plan.Plan) string {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name, path, wantErr string
	}{
		{"other format", save("v0.json", plan.Plan{FormatVersion: "geofed.io/plan/v0"}), `has format "geofed.io/plan/v0"`},
		{"incomplete", save("failed.json", plan.Plan{FormatVersion: plan.FormatVersion, Summary: plan.Summary{Unreachable: 1}}),
			"is incomplete (1 cluster(s) unreachable): plan again when every cluster can be reached"},
		{"destroy plan", save("destroy.json", plan.Plan{FormatVersion: plan.FormatVersion, Mode: plan.ModeDestroy}),
			filepath.Join(dir, "destroy.json") + " was made for destroy; apply executes only plans made for it"},
		{"topology gone", save("gone.json", plan.Plan{FormatVersion: plan.FormatVersion, TopologyFile: filepath.Join(dir, "nowhere.yaml")}), "nowhere.yaml"},
	}
	s := New(Options{Parallel: 1})
	defer s.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := s.Replan(context.Background(), SavedOptions{Path: tt.path})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Replan() = %v, want an error containing %q", err, tt.wantErr)
			}
			if res != nil {
				t.Errorf("Replan() returned a plan with its refusal")
			}
		})
	}
}
