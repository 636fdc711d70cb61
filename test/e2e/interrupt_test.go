package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
)

// TestApplyInterrupted interrupts an apply (SIGINT, as Ctrl-C does) while it
// waits for a workload that cannot become ready — serving-us has no GPUs for
// the model server — and checks what a person pressing Ctrl-C expects: the
// process ends promptly and exits 1, the lock is released (the next apply is
// not refused), the inventory records every object it applied with its
// UID, and a re-run plans no changes.
func TestApplyInterrupted(t *testing.T) {
	e := newEnv(t, lab.ClusterSpec{Name: "serving-us", Nodes: []lab.NodeSpec{{
		Name: "serving-us-cpu", Count: 1, CPU: resource.MustParse("8"), Memory: resource.MustParse("32Gi"),
	}}})
	start := time.Now()
	r := e.runInterrupted("serving-us: 5 objects applied", "apply", "-f", e.topology, "--yes", "--timeout", "2m")
	elapsed := time.Since(start)
	if r.code != 1 {
		t.Fatalf("interrupted apply: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if elapsed > time.Minute {
		t.Errorf("interrupted apply took %s to end; it should stop waiting at once", elapsed)
	}
	if !strings.Contains(r.stderr, "Interrupted") {
		t.Errorf("no word of the interrupt on stderr:\n%s", r.stderr)
	}

	ctx := context.Background()
	cs := e.clientset("serving-us")
	if _, err := cs.CoordinationV1().Leases("kube-system").Get(ctx, "geofed-ai-platform", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after the interrupt the lock Lease is still there (err %v): it must be released", err)
	}
	cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "geofed-ai-platform", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var entries []inventory.Entry
	if err := json.Unmarshal([]byte(cm.Data["inventory.json"]), &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 5 {
		t.Errorf("inventory has %d entries, want the 5 objects of serving-us: %+v", len(entries), entries)
	}
	for _, en := range entries {
		if en.UID == "" {
			t.Errorf("inventory entry %s has no UID: apply was interrupted after sending it, and must have recorded it", en.Key())
		}
	}

	// The next apply is not refused by a lock left behind, and with the
	// objects already applied, plan has nothing to change on serving-us.
	r = e.run("plan", "-f", e.topology, "-o", "json")
	p := decodePlan(t, r.stdout)
	for _, o := range findCluster(t, p, "serving-us").Objects {
		if o.Action != "noop" {
			t.Errorf("after the interrupted apply, plan wants to %s %s on serving-us", o.Action, o)
		}
	}
	r = e.run("apply", "-f", e.topology, "--yes", "--timeout", "3s")
	if strings.Contains(r.stderr+r.stdout, "is held by") {
		t.Errorf("the apply after the interrupt was refused by a lock:\n%s\n%s", r.stdout, r.stderr)
	}
}
