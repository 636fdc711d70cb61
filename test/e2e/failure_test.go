package e2e

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
)

// TestApplyFailedWaitRerun: serving-us has no GPUs, so the model server,
// which asks for one, never schedules there. The wait fails naming the
// scheduler's reason, and — what a CI retry loop relies on — a re-run with
// nothing left to change still exits 1 naming what is not ready, instead of
// reporting success.
func TestApplyFailedWaitRerun(t *testing.T) {
	e := newEnv(t, lab.ClusterSpec{Name: "serving-us", Nodes: []lab.NodeSpec{{
		Name: "serving-us-cpu", Count: 2, CPU: resource.MustParse("8"), Memory: resource.MustParse("32Gi"),
	}}})
	for i, wantStdout := range []string{"Plan:", "No changes. Checking that every workload is ready."} {
		r := e.run("apply", "-f", e.topology, "--yes", "--timeout", "8s")
		if r.code != 1 {
			t.Fatalf("apply #%d: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", i+1, r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, wantStdout) {
			t.Errorf("apply #%d: stdout lacks %q:\n%s", i+1, wantStdout, r.stdout)
		}
		for _, want := range []string{"serving-us", "Deployment serving/model-server", "Insufficient nvidia.com/gpu"} {
			if !strings.Contains(r.stdout+r.stderr, want) {
				t.Errorf("apply #%d does not name %q:\nstdout:\n%s\nstderr:\n%s", i+1, want, r.stdout, r.stderr)
			}
		}
		if strings.Contains(r.stdout, "All workloads ready") {
			t.Errorf("apply #%d claims every workload is ready:\n%s", i+1, r.stdout)
		}
	}
}
