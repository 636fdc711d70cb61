package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGPUOnlyCluster checks GKE's rule for its GPU taint on the lab: a GKE
// cluster whose only pool has T4s gets no nvidia.com/gpu taint (GKE adds
// it only beside a pool without GPUs), so plan predicts that a Deployment
// asking for no GPU fits there, apply runs it to Available, and the nodes
// read back carry no taint. A pool without GPUs added afterwards does not
// taint the T4 nodes either, as in GKE.
func TestGPUOnlyCluster(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "topology.yaml")
	e.topology = file
	const t4 = "{name: t4, machineType: n1-standard-8, nodeCount: 2, accelerators: [{type: nvidia-tesla-t4, count: 1}]}"
	write := func(pools ...string) {
		t.Helper()
		doc := `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: gpuonly
spec:
  gke: {project: acme-ml}
  regions:
  - name: us-west1
    clusters:
    - name: pools
      gke:
        location: us-west1-b
        nodePools:
`
		for _, p := range pools {
			doc += "        - " + p + "\n"
		}
		doc += `  workloads:
  - name: web
    source: apps/web
    placement:
      replicas: {total: 4, divideBy: capacity, resource: cpu}
`
		app := filepath.Join(dir, "apps", "web")
		if err := os.MkdirAll(app, 0o755); err != nil {
			t.Fatal(err)
		}
		for f, content := range map[string]string{
			file:                                     doc,
			filepath.Join(app, "kustomization.yaml"): "resources:\n- manifests.yaml\n",
			filepath.Join(app, "manifests.yaml"):     namespace("web") + podsDeployment("web", 4, ""),
		} {
			if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(t4)

	// Before the cluster exists: 2 n1-standard-8 nodes (7910m each) hold
	// 15 pods of 500m each.
	const fit = "pools: 2 nodes considered · now: 30 fit"
	r := e.run("plan", "-f", file)
	if r.code != 0 || !strings.Contains(r.stdout, fit) || strings.Contains(r.stdout, "taint") {
		t.Fatalf("plan before the cluster exists: exit %d, want 0 and %q, no taint\n%s\n%s", r.code, fit, r.stdout, r.stderr)
	}
	t.Logf("plan before the cluster exists:\n%s", r.stdout)
	shares, warnings, _ := e.shares(file, "web")
	if shares["pools"] != 4 || len(warnings) > 0 {
		t.Errorf("plan -o json: shares %v, warnings %q; want pools 4 and no warning", shares, warnings)
	}

	if r := e.run("apply", "-f", file, "--yes", "--timeout", "2m"); r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	e.wantAvailable("pools", "web", "web", 4)
	wantUntainted := func(pool string, n int) {
		t.Helper()
		nodes := e.poolNodes(pool)
		if len(nodes) != n {
			t.Errorf("pool %s has %d nodes, want %d", pool, len(nodes), n)
		}
		for _, node := range nodes {
			if len(node.Spec.Taints) > 0 {
				t.Errorf("node %s of pool %s has taints %v, want none", node.Name, pool, node.Spec.Taints)
			}
		}
		if taints := e.livePool(pool).GetConfig().GetTaints(); len(taints) > 0 {
			t.Errorf("GKE records taints %v on pool %s, want none", taints, pool)
		}
	}
	wantUntainted("t4", 2)
	if r := e.run("plan", "-f", file, "--detailed-exitcode"); r.code != 0 || !strings.Contains(r.stdout, fit) {
		t.Errorf("plan after apply: exit %d, want 0 and %q\n%s\n%s", r.code, fit, r.stdout, r.stderr)
	}

	// A pool without GPUs added later: GKE does not taint the existing
	// GPU nodes, and plan still predicts they fit the web pods.
	write(t4, "{name: cpu, machineType: e2-standard-4, nodeCount: 1}")
	if r := e.run("apply", "-f", file, "--yes", "--timeout", "2m"); r.code != 0 {
		t.Fatalf("apply adding pool cpu: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	wantUntainted("t4", 2)
	wantUntainted("cpu", 1)
	e.wantAvailable("pools", "web", "web", 4)
	// 30 on the T4 nodes, 7 (3920m) on the e2-standard-4.
	const fit3 = "pools: 3 nodes considered · now: 37 fit"
	if r := e.run("plan", "-f", file, "--detailed-exitcode"); r.code != 0 || !strings.Contains(r.stdout, fit3) {
		t.Errorf("plan after adding pool cpu: exit %d, want 0 and %q\n%s\n%s", r.code, fit3, r.stdout, r.stderr)
	}
}
