package apply

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestSummary(t *testing.T) {
	quota := errors.New("creating GKE cluster training-us (projects/acme-ml/locations/us-west1-b): GKE quota or rate limit exceeded (RESOURCE_EXHAUSTED); " +
		"raise the quota in the Cloud console or retry later: Insufficient regional quota to satisfy request: resource \"NVIDIA_A100_GPUS\"")
	tests := []struct {
		name   string
		result Result
		failed bool
	}{
		{
			name: "complete",
			result: Result{Waited: true, Clusters: []Outcome{
				{Name: "serving-eu", Region: "europe-west1", GKE: GKECreated, Applied: 5, Ready: true},
				{Name: "serving-us", Region: "us-east1", Applied: 5, Ready: true},
				{Name: "training-us", Region: "us-west1", GKE: GKECreated, Applied: 4, Ready: true},
			}},
		},
		{
			name: "changed-no-wait",
			result: Result{Clusters: []Outcome{
				{Name: "serving-us", Region: "us-east1", Applied: 1, Pruned: 2},
				{Name: "training-us", Region: "us-west1", GKE: GKEUpdated},
			}},
		},
		{
			name:   "failed",
			failed: true,
			result: Result{Waited: true, Clusters: []Outcome{
				{Name: "serving-eu", Region: "europe-west1", GKE: GKECreated, Applied: 5, Ready: true},
				{Name: "serving-us", Region: "us-east1", Applied: 3, Err: errors.New("cluster serving-us: not ready after 5m0s: Deployment serving/model-server: Available: 1/2")},
				{Name: "training-us", Region: "us-west1", Err: quota},
			}},
		},
		{
			name:   "waves-stopped",
			failed: true,
			result: Result{Waited: true, Clusters: []Outcome{
				{Name: "serving-eu", Region: "europe-west1", Skipped: "region us-west1 did not become healthy (--waves)"},
				{Name: "training-us", Region: "us-west1", Err: quota},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.result.Failed(); got != tt.failed {
				t.Errorf("Failed() = %t, want %t", got, tt.failed)
			}
			golden(t, "summary-"+tt.name+".golden", tt.result.Summary())
		})
	}
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("output differs from %s (run with -update to accept):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}
