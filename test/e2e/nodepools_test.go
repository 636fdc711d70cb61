package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/geofed-io/kubectl-geofed/pkg/gke"
)

// TestNodePools changes a GKE cluster's node pools through plan and apply
// and reads the outcome back from the emulator and the cluster, whose
// scheduler and KWOK nodes move the pods:
//
//  1. a new machine type is changed in place (GKE recreates the nodes):
//     the pool's nodes are all new, of the new type;
//  2. spot, which GKE cannot change in place, replaces the pool: a new pool
//     is created, the old one drained (its PodDisruptionBudget respected)
//     and deleted;
//  3. an apply killed (SIGKILL) while it drains the replaced pool is
//     re-run, and finishes the replacement;
//  4. a pool removed from the file is drained and deleted; while a
//     PodDisruptionBudget refuses every eviction, apply fails in bounded
//     time naming the pod and the budget, and leaves the pool.
//
// After each step the pods run, all available, on nodes that exist, and
// the next plan has nothing to do. Each step's plan is a golden file.
func TestNodePools(t *testing.T) {
	e := newEnv(t)
	tp := e.poolsTopology()
	e.topology = tp.file()
	const web, batch = "{name: web, machineType: e2-standard-4, nodeCount: 2}", "{name: batch, machineType: e2-standard-4, nodeCount: 1}"
	tp.write(web, batch)
	if r := e.run("apply", "-f", tp.file(), "--yes"); r.code != 0 {
		t.Fatalf("apply creating the cluster: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	e.wantNoChanges("after creating the cluster")
	e.wantWebRuns(nil)

	ok := t.Run("MachineTypeInPlace", func(t *testing.T) {
		e := e.on(t)
		before := e.poolNodes("web")
		tp.write("{name: web, machineType: e2-standard-8, nodeCount: 2}", batch)
		e.planGolden("nodepools-machine-type.golden", "~ node pool web: machineType e2-standard-4 → e2-standard-8 (nodes recreated)")
		r := e.run("apply", "-f", tp.file(), "--yes")
		if r.code != 0 {
			t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		t.Logf("apply:\n%s", r.stderr)
		if p := e.livePool("web"); p.GetConfig().GetMachineType() != "e2-standard-8" {
			t.Errorf("GKE reports pool web as %s, want e2-standard-8", p.GetConfig().GetMachineType())
		}
		after := e.poolNodes("web")
		e.wantNodes("web", after, 2, "e2-standard-8", false)
		for _, n := range before {
			if slices.ContainsFunc(after, func(m corev1.Node) bool { return m.Name == n.Name }) {
				t.Errorf("node %s of the old machine type is still there; the nodes must be recreated", n.Name)
			}
		}
		e.wantWebRuns(names(before))
		e.wantNoChanges("after the machine type change")
	})

	// Each step needs the one before, and stops the test when it fails.
	replacement := gke.ReplacementName(&containerpb.NodePool{Name: "web", Config: &containerpb.NodeConfig{MachineType: "e2-standard-8", Spot: true}})
	ok = ok && t.Run("SpotReplaces", func(t *testing.T) {
		e := e.on(t)
		e.placeWebOn("web")
		before := e.poolNodes("web")
		tp.write("{name: web, machineType: e2-standard-8, nodeCount: 2, spot: true}", batch)
		e.planGolden("nodepools-spot.golden", "-/+ node pool web: spot false → true (forces replacement); create "+replacement+", wait for its nodes, drain and delete web")
		r := e.run("apply", "-f", tp.file(), "--yes")
		if r.code != 0 {
			t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		t.Logf("apply:\n%s", r.stderr)
		for _, want := range []string{"node pool web: creating " + replacement, "node pool web: draining its nodes", "node pool web: evicted pod web/web-", "node pool web: deleting it"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("apply's progress lacks %q", want)
			}
		}
		if got := e.livePoolNames(); !slices.Equal(got, []string{"batch", replacement}) {
			t.Fatalf("GKE pools after the replacement: %v, want batch and %s", got, replacement)
		}
		p := e.livePool(replacement)
		if !p.GetConfig().GetSpot() || p.GetConfig().GetResourceLabels()[gke.LabelPoolName] != "web" {
			t.Errorf("pool %s: spot %t, labels %v; want spot, standing for web", replacement, p.GetConfig().GetSpot(), p.GetConfig().GetResourceLabels())
		}
		if old := e.poolNodes("web"); len(old) != 0 {
			t.Errorf("nodes of the replaced pool left: %v", names(old))
		}
		e.wantNodes(replacement, e.poolNodes(replacement), 2, "e2-standard-8", true)
		e.wantWebRuns(names(before))
		e.wantNoChanges("after the replacement")
	})

	ok = ok && t.Run("KilledWhileDrainingThenResumed", func(t *testing.T) {
		e := e.on(t)
		// Pods to evict make the drain last seconds, so the kill lands in it.
		e.placeWebOn(replacement)
		before := e.poolNodes(replacement)
		// Back off spot: the topology's name is free again, and taken back.
		tp.write("{name: web, machineType: e2-standard-8, nodeCount: 2}", batch)
		r := e.startKilledOnLine("node pool "+replacement+": draining its nodes", "apply", "-f", tp.file(), "--yes")
		t.Logf("killed apply:\n%s", r.stderr)
		if got := e.livePoolNames(); !slices.Equal(got, []string{"batch", "web", replacement}) {
			t.Fatalf("GKE pools after the kill: %v, want batch, web and %s (the replacement made, the old pool not deleted)", got, replacement)
		}
		e.planGolden("nodepools-resume.golden", "-/+ node pool web: spot true → false (forces replacement); web exists: wait for its nodes, drain and delete "+replacement)

		// The new pool's nodes cordoned by a person are not Ready to take
		// pods: the old pool is neither drained further nor deleted.
		fresh := names(e.poolNodes("web"))
		e.cordon(true, fresh...)
		r = e.run("apply", "-f", tp.file(), "--yes", "--gke-timeout", "15s")
		if r.code != 1 {
			t.Fatalf("apply while the new pool's nodes are cordoned: exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if want := "waiting for the nodes " + gke.LabelNodePool + "=web: 0 of 2 nodes Ready; " + fresh[0] + " (cordoned)"; !strings.Contains(r.stdout, want) {
			t.Errorf("apply's failure does not say %q:\n%s", want, r.stdout)
		}
		if strings.Contains(r.stderr, "node pool "+replacement+": deleting it") {
			t.Errorf("apply deleted the old pool while its replacement's nodes were not Ready:\n%s", r.stderr)
		}
		if got := e.livePoolNames(); !slices.Equal(got, []string{"batch", "web", replacement}) {
			t.Fatalf("GKE pools after the refused replacement: %v, want the old pool still there", got)
		}
		e.cordon(false, fresh...)

		r = e.run("apply", "-f", tp.file(), "--yes")
		if r.code != 0 {
			t.Fatalf("apply after the kill: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		t.Logf("re-run:\n%s", r.stderr)
		if strings.Contains(r.stderr, "creating web") {
			t.Errorf("the re-run created the new pool again:\n%s", r.stderr)
		}
		if got := e.livePoolNames(); !slices.Equal(got, []string{"batch", "web"}) {
			t.Fatalf("GKE pools after the re-run: %v, want batch and web", got)
		}
		e.wantNodes("web", e.poolNodes("web"), 2, "e2-standard-8", false)
		e.wantWebRuns(names(before))
		e.wantNoChanges("after the resumed replacement")
	})

	_ = ok && t.Run("RemovedPoolDrainedAndDeleted", func(t *testing.T) {
		e := e.on(t)
		const webPool = "{name: web, machineType: e2-standard-8, nodeCount: 2}"
		// db runs on batch only, under a budget that allows no eviction.
		tp.db = dbPinned
		tp.write(webPool, batch)
		if r := e.run("apply", "-f", tp.file(), "--yes"); r.code != 0 {
			t.Fatalf("apply adding db: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		batchNodes := e.poolNodes("batch")
		tp.write(webPool)
		e.planGolden("nodepools-delete.golden", "- node pool batch: machineType e2-standard-4, accelerators none, spot false, nodeCount 1, autoscaling off")

		start := time.Now()
		r := e.run("apply", "-f", tp.file(), "--yes", "--gke-timeout", "40s")
		took := time.Since(start)
		t.Logf("apply under the budget (%s):\n%s\n%s", took.Round(time.Second), r.stdout, r.stderr)
		if r.code != 1 {
			t.Fatalf("apply while db's budget refuses its eviction: exit %d, want 1", r.code)
		}
		for _, want := range []string{"deleting node pool batch of GKE cluster pools", "pod web/db-", "eviction refused by PodDisruptionBudget web/db", "needs 1 healthy pods and has 1 currently", "--gke-timeout 40s"} {
			if !strings.Contains(r.stdout+r.stderr, want) {
				t.Errorf("apply's failure does not say %q", want)
			}
		}
		if took > 2*time.Minute {
			t.Errorf("apply took %s to give up under --gke-timeout 40s", took)
		}
		if got := e.livePoolNames(); !slices.Equal(got, []string{"batch", "web"}) {
			t.Fatalf("GKE pools after the refused drain: %v, want batch still there", got)
		}
		for _, n := range e.poolNodes("batch") {
			if !n.Spec.Unschedulable {
				t.Errorf("node %s of the pool being drained is not cordoned", n.Name)
			}
		}

		// The person deletes the budget and lets db run anywhere: the
		// re-run drains batch and deletes it.
		if _, err := e.clientset("pools").PolicyV1().PodDisruptionBudgets("web").Get(context.Background(), "db", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := e.clientset("pools").PolicyV1().PodDisruptionBudgets("web").Delete(context.Background(), "db", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		tp.db = dbAnywhere
		tp.write(webPool)
		r = e.run("apply", "-f", tp.file(), "--yes")
		if r.code != 0 {
			t.Fatalf("apply once the budget is gone: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		t.Logf("re-run:\n%s", r.stderr)
		if got := e.livePoolNames(); !slices.Equal(got, []string{"web"}) {
			t.Errorf("GKE pools after deleting batch: %v, want web only", got)
		}
		if left := e.poolNodes("batch"); len(left) != 0 {
			t.Errorf("nodes of the deleted pool left: %v", names(left))
		}
		e.wantWebRuns(names(batchNodes))
		e.wantAvailable("pools", "web", "db", 1)
		e.wantNoChanges("after deleting the pool")
	})
}

// poolsTopology is the test's topology: one GKE cluster, "pools", with
// the node pools write is given, and the workload web (a Deployment of 4
// under a budget keeping 3 available), with db when set.
type poolsTopologyFile struct {
	e   *env
	dir string
	db  string
}

func (e *env) poolsTopology() *poolsTopologyFile {
	return &poolsTopologyFile{e: e, dir: e.t.TempDir()}
}

func (tp *poolsTopologyFile) file() string { return filepath.Join(tp.dir, "topology.yaml") }

func (tp *poolsTopologyFile) write(pools ...string) {
	t := tp.e.t
	t.Helper()
	var b strings.Builder
	b.WriteString(`apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: pools
spec:
  gke: {project: acme-ml}
  regions:
  - name: us-west1
    clusters:
    - name: pools
      gke:
        location: us-west1-b
        nodePools:
`)
	for _, p := range pools {
		b.WriteString("        - " + p + "\n")
	}
	b.WriteString("  workloads:\n  - name: web\n    source: apps/web\n")
	app := filepath.Join(tp.dir, "apps", "web")
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	for file, content := range map[string]string{
		tp.file():                                b.String(),
		filepath.Join(app, "kustomization.yaml"): "resources:\n- manifests.yaml\n",
		filepath.Join(app, "manifests.yaml"):     namespace("web") + podsDeployment("web", 4, "") + budgetYAML("web", "minAvailable: 3") + tp.db,
	} {
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// db is one pod pinned to pool batch under a budget allowing no eviction,
// then one that runs anywhere.
var (
	dbPinned   = podsDeployment("db", 1, "batch") + budgetYAML("db", "maxUnavailable: 0")
	dbAnywhere = podsDeployment("db", 1, "")
)

// podsDeployment is a Deployment in namespace web whose pods ask for half
// a CPU and end at once when evicted; with pool, they run on its nodes only.
func podsDeployment(name string, replicas int, pool string) string {
	selector := ""
	if pool != "" {
		selector = fmt.Sprintf("      nodeSelector: {cloud.google.com/gke-nodepool: %s}\n", pool)
	}
	return fmt.Sprintf(`---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  namespace: web
spec:
  replicas: %[2]d
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
%[3]s      terminationGracePeriodSeconds: 0
      containers:
      - name: main
        image: registry.example/%[1]s:1
        resources:
          requests: {cpu: 500m}
`, name, replicas, selector)
}

func budgetYAML(app, rule string) string {
	return fmt.Sprintf(`---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: %[1]s
  namespace: web
spec:
  %[2]s
  selector:
    matchLabels: {app: %[1]s}
`, app, rule)
}

// placeWebOn makes web's pods run on pool's nodes, as a scheduler may have
// put them: the other nodes cordoned (as a person does), the pods deleted
// and made again, the cordons taken back.
func (e *env) placeWebOn(pool string) {
	e.t.Helper()
	ctx := context.Background()
	cs := e.clientset("pools")
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	poolOf := map[string]string{}
	for _, n := range nodes.Items {
		poolOf[n.Name] = n.Labels[gke.LabelNodePool]
	}
	var others []string
	for _, n := range nodes.Items {
		if poolOf[n.Name] != pool {
			others = append(others, n.Name)
		}
	}
	e.cordon(true, others...)
	if err := cs.CoreV1().Pods("web").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "app=web"}); err != nil {
		e.t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		pods, err := cs.CoreV1().Pods("web").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			e.t.Fatal(err)
		}
		d, err := cs.AppsV1().Deployments("web").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			e.t.Fatal(err)
		}
		on := 0
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil && poolOf[p.Spec.NodeName] == pool {
				on++
			}
		}
		if on == 4 && len(pods.Items) == 4 && d.Status.AvailableReplicas == 4 {
			break
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("web's pods did not come back on pool %s: %d of %d there, %d available", pool, on, len(pods.Items), d.Status.AvailableReplicas)
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.cordon(false, others...)
}

// cordon sets or clears nodes' spec.unschedulable, as kubectl cordon and
// uncordon do.
func (e *env) cordon(on bool, nodes ...string) {
	e.t.Helper()
	cs := e.clientset("pools")
	for _, n := range nodes {
		patch := fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, on)
		if _, err := cs.CoreV1().Nodes().Patch(context.Background(), n, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// planGolden plans the topology, expects changes and the line want, and
// compares the text with the golden file.
func (e *env) planGolden(name, want string) {
	e.t.Helper()
	r := e.run("plan", "-f", e.topology, "--detailed-exitcode")
	if r.code != 2 {
		e.t.Fatalf("plan: exit %d, want 2 (changes)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, want) {
		e.t.Errorf("plan lacks %q:\n%s", want, r.stdout)
	}
	golden(e.t, name, r.stdout)
}

func (e *env) wantNoChanges(when string) {
	e.t.Helper()
	if r := e.run("plan", "-f", e.topology, "--detailed-exitcode"); r.code != 0 {
		e.t.Errorf("plan %s: exit %d, want 0 (no changes)\n%s\n%s", when, r.code, r.stdout, r.stderr)
	}
}

// wantWebRuns checks that web's 4 pods are available, each on a node that
// exists, none on the nodes gone.
func (e *env) wantWebRuns(gone []string) {
	e.t.Helper()
	e.wantAvailable("pools", "web", "web", 4)
	cs := e.clientset("pools")
	nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	pods, err := cs.CoreV1().Pods("web").List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		e.t.Fatal(err)
	}
	running := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		running++
		switch {
		case slices.Contains(gone, p.Spec.NodeName):
			e.t.Errorf("pod %s is on node %s, which was drained", p.Name, p.Spec.NodeName)
		case !slices.ContainsFunc(nodes.Items, func(n corev1.Node) bool { return n.Name == p.Spec.NodeName }):
			e.t.Errorf("pod %s is on node %q, which does not exist", p.Name, p.Spec.NodeName)
		}
	}
	if running != 4 {
		e.t.Errorf("%d web pods, want 4", running)
	}
}

// poolNodes are the cluster's nodes of a pool, by GKE's label.
func (e *env) poolNodes(pool string) []corev1.Node {
	e.t.Helper()
	list, err := e.clientset("pools").CoreV1().Nodes().List(context.Background(), metav1.ListOptions{LabelSelector: gke.LabelNodePool + "=" + pool})
	if err != nil {
		e.t.Fatal(err)
	}
	return list.Items
}

// wantNodes checks a pool's nodes: n of them, Ready, of the machine type,
// spot or not.
func (e *env) wantNodes(pool string, nodes []corev1.Node, n int, machine string, spot bool) {
	e.t.Helper()
	if len(nodes) != n {
		e.t.Errorf("pool %s has %d nodes, want %d: %v", pool, len(nodes), n, names(nodes))
	}
	for _, node := range nodes {
		ready := slices.ContainsFunc(node.Status.Conditions, func(c corev1.NodeCondition) bool {
			return c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
		})
		if got := node.Labels[corev1.LabelInstanceTypeStable]; got != machine || (node.Labels["cloud.google.com/gke-spot"] == "true") != spot || !ready || node.Spec.Unschedulable {
			e.t.Errorf("node %s of pool %s: %s, spot label %q, Ready %t, cordoned %t; want %s, spot %t, Ready, schedulable",
				node.Name, pool, got, node.Labels["cloud.google.com/gke-spot"], ready, node.Spec.Unschedulable, machine, spot)
		}
	}
}

// livePools are the emulator's record of the cluster's pools.
func (e *env) livePools() []*containerpb.NodePool {
	e.t.Helper()
	ctx := context.Background()
	c := e.containerClient(ctx)
	defer c.Close()
	cl, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: gke.ResourceName("acme-ml", "us-west1-b", "pools")})
	if err != nil {
		e.t.Fatal(err)
	}
	return cl.GetNodePools()
}

func (e *env) livePoolNames() []string {
	e.t.Helper()
	var out []string
	for _, p := range e.livePools() {
		out = append(out, p.GetName())
	}
	slices.Sort(out)
	return out
}

func (e *env) livePool(name string) *containerpb.NodePool {
	e.t.Helper()
	for _, p := range e.livePools() {
		if p.GetName() == name {
			return p
		}
	}
	e.t.Fatalf("GKE has no pool %s: %v", name, e.livePoolNames())
	return nil
}

func names(nodes []corev1.Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Name)
	}
	slices.Sort(out)
	return out
}
