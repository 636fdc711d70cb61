package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCapacity checks divideBy: capacity and the fit warnings on three
// joined lab clusters with 1, 2 and 3 one-GPU nodes, and on a GKE cluster
// whose GPU pool autoscales from zero: the division read back from the
// clusters matches the replicas that fit, a plan right after an apply has
// nothing to change (twice), a new GPU node draws replicas on the next
// plan, a weight division that overfills a cluster is warned about, and
// an autoscaling pool grows on the lab until the replicas it was given run.
func TestCapacity(t *testing.T) {
	e := newEnv(t,
		gpuNodes("gpu-a", "us-east1", 1),
		gpuNodes("gpu-b", "us-central1", 2),
		gpuNodes("gpu-c", "europe-west1", 3))
	t.Run("DivisionMatchesTheFitAndStays", func(t *testing.T) { testCapacityStable(e.on(t)) })
	t.Run("WeightThatOverfillsWarns", func(t *testing.T) { testFitWarning(e.on(t)) })
	t.Run("AutoscalingPoolGrows", func(t *testing.T) { testScaleUp(e.on(t)) })
}

// capacityTopology writes a topology of the three joined GPU clusters (and
// extra clusters YAML under a region of its own) with one workload.
func (e *env) capacityTopology(name, extraRegions, workload, manifests string) string {
	e.t.Helper()
	dir := e.t.TempDir()
	doc := fmt.Sprintf(`apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: %s
spec:
  gke: {project: acme-ml}
  regions:
  - name: us-east1
    clusters:
    - {name: gpu-a, labels: {pool: joined}, kubeconfig: {context: gpu-a}}
  - name: us-central1
    clusters:
    - {name: gpu-b, labels: {pool: joined}, kubeconfig: {context: gpu-b}}
  - name: europe-west1
    clusters:
    - {name: gpu-c, labels: {pool: joined}, kubeconfig: {context: gpu-c}}
%s  workloads:
%s`, name, extraRegions, workload)
	app := filepath.Join(dir, "apps", "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		e.t.Fatal(err)
	}
	for file, content := range map[string]string{
		filepath.Join(dir, "topology.yaml"):      doc,
		filepath.Join(app, "kustomization.yaml"): "resources:\n- manifests.yaml\n",
		filepath.Join(app, "manifests.yaml"):     manifests,
	} {
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
	return filepath.Join(dir, "topology.yaml")
}

// podsAsking is a Namespace and a Deployment whose pods ask for resources
// (a YAML flow mapping, e.g. "{nvidia.com/gpu: 1}") as limits, as GPU
// manifests do.
func podsAsking(ns, name, limits string) string {
	return namespace(ns) + fmt.Sprintf(`---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[2]s
  namespace: %[1]s
spec:
  replicas: 1
  selector:
    matchLabels: {app: %[2]s}
  template:
    metadata:
      labels: {app: %[2]s}
    spec:
      containers:
      - name: main
        image: registry.example/%[2]s:1
        resources:
          limits: %[3]s
`, ns, name, limits)
}

// shares is what plan -o json placed of workload, by cluster.
func (e *env) shares(file, workload string, extra ...string) (map[string]int, []string, int) {
	e.t.Helper()
	r := e.run(append([]string{"plan", "-f", file, "-o", "json", "--detailed-exitcode"}, extra...)...)
	if r.code == 1 {
		e.t.Fatalf("plan -o json: exit 1\n%s\n%s", r.stdout, r.stderr)
	}
	var p struct {
		Placements []struct {
			Workload string `json:"workload"`
			Shares   []struct {
				Cluster  string `json:"cluster"`
				Replicas *int   `json:"replicas"`
			} `json:"shares"`
		} `json:"placements"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		e.t.Fatalf("plan -o json: %v\n%s", err, r.stdout)
	}
	out := map[string]int{}
	for _, pl := range p.Placements {
		if pl.Workload != workload {
			continue
		}
		for _, s := range pl.Shares {
			if s.Replicas != nil {
				out[s.Cluster] = *s.Replicas
			}
		}
	}
	return out, p.Warnings, r.code
}

func (e *env) deploymentReplicas(context, ns, name string) int {
	e.t.Helper()
	out := strings.TrimSpace(e.kubectl(context, "get", "deployment", name, "-n", ns, "-o", "jsonpath={.spec.replicas}/{.status.availableReplicas}"))
	want, avail, _ := strings.Cut(out, "/")
	n, err := strconv.Atoi(want)
	if err != nil {
		e.t.Fatalf("Deployment %s/%s on %s: replicas %q", ns, name, context, out)
	}
	if avail != want {
		e.t.Errorf("Deployment %s/%s on %s: %s of %s replicas available after apply", ns, name, context, avail, want)
	}
	return n
}

// 5 one-GPU replicas on clusters where 1, 2 and 3 fit divide 1:2:2; once
// they run, they are the workload's own, so nothing moves. A node added to
// gpu-a draws a replica there.
func testCapacityStable(e *env) {
	t := e.t
	file := e.capacityTopology("cap", "", `  - name: trainer
    source: apps/app
    placement:
      replicas: {total: 5, divideBy: capacity}
`, podsAsking("train", "trainer", "{nvidia.com/gpu: 1}"))

	want := map[string]int{"gpu-a": 1, "gpu-b": 2, "gpu-c": 2}
	if r := e.run("apply", "-f", file, "--yes", "--timeout", "2m"); r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for cluster, n := range want {
		if got := e.deploymentReplicas(cluster, "train", "trainer"); got != n {
			t.Errorf("%s runs %d replicas, want %d (the fit: gpu-a 1, gpu-b 2, gpu-c 3)", cluster, got, n)
		}
	}
	for i := range 2 {
		r := e.run("plan", "-f", file, "--detailed-exitcode")
		if r.code != 0 {
			t.Fatalf("plan #%d right after apply: exit %d, want 0 (no changes)\n%s\n%s", i+1, r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, "gpu-c: 3 nodes considered · now: 3 fit") {
			t.Errorf("plan #%d does not explain gpu-c's fit:\n%s", i+1, r.stdout)
		}
		if i == 0 {
			if r := e.run("apply", "-f", file, "--yes"); r.code != 0 || !strings.Contains(r.stdout, "No changes.") {
				t.Fatalf("second apply: exit %d, want 0 and no changes\n%s\n%s", r.code, r.stdout, r.stderr)
			}
		}
	}

	// Two more GPU nodes on gpu-a: 3, 2 and 3 fit, so 5 divide 2:1:2.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spec := gpuNodes("gpu-a", "us-east1", 3).Nodes
	if err := e.joined["gpu-a"].SetNodes(ctx, spec); err != nil {
		t.Fatal(err)
	}
	got, _, code := e.shares(file, "trainer")
	if code != 2 || got["gpu-a"] != 2 || got["gpu-b"] != 1 || got["gpu-c"] != 2 {
		t.Errorf("after adding 2 GPU nodes to gpu-a: plan exit %d, shares %v; want exit 2 and gpu-a 2, gpu-b 1, gpu-c 2", code, got)
	}
}

// A weight division gives gpu-b (two nodes of 8 CPUs) 5 replicas of 6
// CPUs: plan warns that 3 would stay Pending, in text and in JSON, and
// --detailed-exitcode still only says there are changes.
func testFitWarning(e *env) {
	t := e.t
	file := e.capacityTopology("fit", "", `  - name: web
    source: apps/app
    placement:
      replicas: {total: 9, weights: {us-central1: 3}}
`, podsAsking("web", "web", "{cpu: 6}"))
	const want = "workload web: gpu-b: 5 replicas × 6 cpu placed, 2 fit (2 nodes considered) — 3 would stay Pending"
	r := e.run("plan", "-f", file, "--detailed-exitcode")
	if r.code != 2 {
		t.Fatalf("plan: exit %d, want 2\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, want) {
		t.Errorf("plan does not warn %q:\n%s", want, r.stdout)
	}
	t.Logf("plan:\n%s", r.stdout)
	_, warnings, _ := e.shares(file, "web")
	found := false
	for _, w := range warnings {
		found = found || w == want
	}
	if !found {
		t.Errorf("plan -o json warnings %q lack %q", warnings, want)
	}
}

// A GKE cluster whose T4 pool autoscales from 0 to 3 is given its share by
// what the pool can grow to: apply creates the cluster, the pods wait
// Pending, the lab's cluster autoscaler adds nodes, and the wait ends with
// every replica available. A plan afterwards has nothing to change.
func testScaleUp(e *env) {
	t := e.t
	file := e.capacityTopology("burst", `  - name: us-west1
    clusters:
    - name: burst
      labels: {pool: gke}
      gke:
        location: us-west1-b
        nodePools:
        - {name: cpu, machineType: e2-standard-4, nodeCount: 1}
        - name: t4
          machineType: n1-standard-8
          accelerators: [{type: nvidia-tesla-t4, count: 1}]
          autoscaling: {minNodes: 0, maxNodes: 3}
`, `  - name: burst
    source: apps/app
    placement:
      clusterSelector: {matchLabels: {pool: gke}}
      replicas: {total: 3, divideBy: capacity}
`, podsAsking("burst", "burst", "{nvidia.com/gpu: 1}"))

	r := e.run("plan", "-f", file)
	if r.code != 0 || !strings.Contains(r.stdout, "now: 0 fit · after scale-up to 4 nodes: 3 fit") {
		t.Fatalf("plan before the cluster exists: exit %d, want 0 and the scale-up figure\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("plan before the cluster exists:\n%s", r.stdout)
	r = e.run("apply", "-f", file, "--yes", "--timeout", "3m")
	if r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("apply:\n%s\n%s", r.stdout, r.stderr)
	e.topology = file
	out := e.kubectlGKE("burst", "get", "nodes", "-l", "cloud.google.com/gke-nodepool=t4", "-o", "name")
	if n := len(strings.Fields(out)); n != 3 {
		t.Errorf("pool t4 has %d nodes after apply, want 3 (grown from 0 for 3 one-GPU replicas):\n%s", n, out)
	}
	avail := strings.TrimSpace(e.kubectlGKE("burst", "get", "deployment", "burst", "-n", "burst", "-o", "jsonpath={.status.availableReplicas}"))
	if avail != "3" {
		t.Errorf("%s of 3 replicas available after apply", avail)
	}
	if r := e.run("plan", "-f", file, "--detailed-exitcode"); r.code != 0 {
		t.Errorf("plan after the scale-up: exit %d, want 0\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
