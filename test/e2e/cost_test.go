package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCostSpotPool checks divideBy: cost on two GKE clusters of the lab's
// emulator, each with one pool of one-L4 g2-standard-8 nodes: near-od in
// us-east1, on demand ($0.85 a node by the built-in prices), and far-spot
// in europe-west4, spot ($0.39). The spot pool's price puts both replicas
// on far-spot although near-od is nearer to near: read back from the
// clusters after apply. The same topology with far-spot on demand ($0.90)
// plans near-od first, so it is the spot price that made the difference.
func TestCostSpotPool(t *testing.T) {
	e := newEnv(t)
	spot := e.costTopology(true)
	r := e.run("plan", "-f", spot)
	if r.code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"far-spot: $0.3868 per replica-hour on pool l4 (1 replica on one spot node at $0.3868/hour)",
		"near-od: $0.8536 per replica-hour on pool l4 (1 replica on one on-demand node at $0.8536/hour)",
		"node pool l4: g2-standard-8 spot, 2 nodes × $0.3868/hour = $0.7736/hour",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	t.Logf("plan:\n%s", r.stdout)
	r = e.run("apply", "-f", spot, "--yes", "--timeout", "3m")
	if r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	e.topology = spot
	for cluster, want := range map[string]string{"far-spot": "2", "near-od": "0"} {
		got := strings.TrimSpace(e.kubectlGKE(cluster, "get", "deployment", "trainer", "-n", "trainer", "-o", "jsonpath={.spec.replicas}/{.status.availableReplicas}"))
		if want == "0" && got != "0/" {
			t.Errorf("%s runs %s replicas, want none (warm standby)", cluster, got)
		}
		if want != "0" && got != want+"/"+want {
			t.Errorf("%s runs %s (desired/available) replicas, want %s/%s", cluster, got, want, want)
		}
	}
	onDemand := e.costTopology(false)
	shares, _, code := e.shares(onDemand, "trainer")
	if code == 1 || shares["near-od"] != 1 || shares["far-spot"] != 1 {
		t.Errorf("with far-spot on demand: shares %v (exit %d), want near-od 1 (all that fits there) and far-spot 1", shares, code)
	}
}

// costTopology writes the two-cluster topology, far-spot's pool spot or
// not, with a workload of one-GPU replicas divided by cost.
func (e *env) costTopology(spot bool) string {
	e.t.Helper()
	dir := e.t.TempDir()
	doc := fmt.Sprintf(`apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: cost
spec:
  gke: {project: acme-ml}
  regions:
  - name: us-east1
    clusters:
    - name: near-od
      gke:
        location: us-east1-b
        nodePools:
        - {name: l4, machineType: g2-standard-8, nodeCount: 1}
  - name: europe-west4
    clusters:
    - name: far-spot
      gke:
        location: europe-west4-a
        nodePools:
        - {name: l4, machineType: g2-standard-8, nodeCount: 2, spot: %t}
  workloads:
  - name: trainer
    source: apps/app
    placement:
      replicas: {total: 2, divideBy: cost, near: us-east1}
`, spot)
	app := filepath.Join(dir, "apps", "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		e.t.Fatal(err)
	}
	for file, content := range map[string]string{
		filepath.Join(dir, "topology.yaml"):      doc,
		filepath.Join(app, "kustomization.yaml"): "resources:\n- manifests.yaml\n",
		filepath.Join(app, "manifests.yaml"):     podsAsking("trainer", "trainer", "{nvidia.com/gpu: 1}"),
	} {
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
	return filepath.Join(dir, "topology.yaml")
}
