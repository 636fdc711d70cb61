package plan_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plan.json")
	saved := savedPlan()
	if err := plan.Save(path, saved); err != nil {
		t.Fatalf("Save: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("saved plan has mode %o, want 600", mode)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(b), "}\n") {
		t.Error("saved plan does not end with a newline")
	}

	p, err := plan.Load(path, plan.ModeApply)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if diff := cmp.Diff(saved, p); diff != "" {
		t.Errorf("loaded plan (-saved +loaded):\n%s", diff)
	}
	if err := plan.Stale(p, saved); err != nil {
		t.Errorf("a loaded plan is stale against the one saved: %v", err)
	}
}

func TestSaveError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "plan.json")
	if err := plan.Save(path, savedPlan()); err == nil || !strings.Contains(err.Error(), "saving the plan") {
		t.Errorf("Save into a missing directory = %v, want an error saying what failed", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := filepath.Join(dir, "good.json")
	if err := plan.Save(good, savedPlan()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(string(b), plan.FormatVersion, "geofed.io/plan/v0", 1)
	destroy := strings.Replace(string(b), `"formatVersion": "geofed.io/plan/v1",`, `"formatVersion": "geofed.io/plan/v1", "mode": "destroy",`, 1)
	unknown := strings.Replace(destroy, `"destroy"`, `"rollback"`, 1)
	tests := []struct {
		name, path string
		mode       plan.Mode
		want       string
	}{
		{"format version", write("old.json", old), plan.ModeApply, `has format "geofed.io/plan/v0"; this kubectl-geofed applies "geofed.io/plan/v1" plans`},
		{"not JSON", write("bad.json", "Plan: 1 clusters to create"), plan.ModeApply, "not a plan saved with plan --out"},
		{"missing", filepath.Join(dir, "none.json"), plan.ModeApply, "reading the saved plan: open "},
		{"destroy plan applied", write("destroy.json", destroy), plan.ModeApply,
			"the saved plan " + filepath.Join(dir, "destroy.json") + " was made for destroy; apply executes only plans made for it: make one with plan -f TOPOLOGY --out FILE"},
		{"apply plan destroyed", good, plan.ModeDestroy,
			"the saved plan " + good + " was made for apply; destroy executes only plans made for it: run destroy -f with the topology"},
		{"unknown mode", write("unknown.json", unknown), plan.ModeApply, `has mode "rollback"; this kubectl-geofed knows apply and destroy plans`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := plan.Load(tt.path, tt.mode)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
