package controller_test

import (
	"maps"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/push"
)

// selected is webTopology's web placed where tier=front; m1 carries
// tierM1.
func selected(tierM1 string) map[string]string {
	files := maps.Clone(webTopology)
	files["topology.yaml"] = `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: ` + topoName + `}
spec:
  regions:
  - name: us-west1
    clusters:
    - name: m1
      labels: {tier: ` + tierM1 + `}
      kubeconfig: {context: m1}
  - name: europe-west1
    clusters:
    - name: m2
      labels: {tier: front}
      kubeconfig: {context: m2}
  workloads:
  - name: web
    source: apps/web
    placement:
      clusterSelector: {matchLabels: {tier: front}}
`
	return files
}

// TestControllerPruneGuard: a label typo pushed to the hub takes web off
// m1. The controller applies everything else, deletes nothing on m1 (read
// back), and says why in condition PruneBlocked, m1's message and an
// Event; the typo put right, the condition goes and the fleet is Synced.
func TestControllerPruneGuard(t *testing.T) {
	l, clusters := labtest.New(t,
		lab.ClusterSpec{Name: "hub", APIServerOnly: true},
		lab.ClusterSpec{Name: "m1", Nodes: []lab.NodeSpec{{Name: "node", Count: 1}}},
		lab.ClusterSpec{Name: "m2", Nodes: []lab.NodeSpec{{Name: "node", Count: 1}}},
	)
	hub, m1, m2 := clusters[0], clusters[1], clusters[2]
	e := setupWith(t, l, hub, []*lab.Cluster{m1, m2}, selected("front"), replicaFlags{resync: resync}, 1)
	ctx := t.Context()

	pushTopology(t, e, push.Options{})
	waitFor(t, e, 120*time.Second, "Synced=True", func(topo *v1alpha1.Topology) bool {
		return cond(topo, v1alpha1.ConditionSynced) == "True/Applied"
	})

	e.topology = writeTopology(t, selected("fornt"))
	pushTopology(t, e, push.Options{})
	// 3 of 4: the Namespace is kept, the member's least-privilege
	// ServiceAccount cannot list everything it holds.
	const why = "m1 would lose 3 of 4 objects geofed applied (workload web no longer selects it: clusterSelector tier=front, the cluster's labels tier=fornt)"
	waitFor(t, e, 120*time.Second, "PruneBlocked=True", func(topo *v1alpha1.Topology) bool {
		return cond(topo, v1alpha1.ConditionPruneBlocked) == "True/PruneGuard"
	})
	var topo v1alpha1.Topology
	get(t, e, &topo)
	if c := meta.FindStatusCondition(topo.Status.Conditions, v1alpha1.ConditionPruneBlocked); !strings.Contains(c.Message, why) {
		t.Errorf("PruneBlocked message %q lacks %q", c.Message, why)
	}
	if got := cond(&topo, v1alpha1.ConditionSynced); got != "False/ApplyFailed" {
		t.Errorf("Synced = %s, want False/ApplyFailed", got)
	}
	if c := clusterStatus(&topo, "m1"); !strings.Contains(c.Message, "prune guard: "+why+": nothing deleted") {
		t.Errorf("m1's message %q does not name the guard", c.Message)
	}
	// Nothing of web deleted on m1: read back.
	if _, err := e.clients["m1"].CoreV1().ConfigMaps("web").Get(ctx, "web-config", metav1.GetOptions{}); err != nil {
		t.Errorf("m1: ConfigMap web/web-config: %v, want it kept", err)
	}
	if _, err := e.clients["m1"].AppsV1().Deployments("web").Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Errorf("m1: Deployment web/web: %v, want it kept", err)
	}
	// status --hub shows it, marked.
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	must(t, l.Kubeconfig(kubeconfig))
	out, _ := exec.Command(pluginBinary, "status", "--hub", "hub", "--kubeconfig", kubeconfig).CombinedOutput()
	if want := "! PruneBlocked: True (PruneGuard)"; !strings.Contains(string(out), want) || !strings.Contains(string(out), why) {
		t.Errorf("status --hub lacks %q and %q:\n%s", want, why, out)
	}
	if msg := lastEvent(t, e, "PruneBlocked"); !strings.Contains(msg, why) {
		t.Errorf("PruneBlocked Event %q lacks %q", msg, why)
	}

	// approve refuses a member the guard does not hold, and lets exactly
	// this plan's held deletions through.
	if out, err := exec.Command(pluginBinary, "approve", "--hub", "hub", "--topology", topoName, "--cluster", "m2", "--kubeconfig", kubeconfig).CombinedOutput(); err == nil ||
		!strings.Contains(string(out), `the prune guard holds nothing on "m2"`) {
		t.Errorf("approve --cluster m2: %v, want refused\n%s", err, out)
	}
	if out, err := exec.Command(pluginBinary, "approve", "--hub", "hub", "--topology", topoName, "--kubeconfig", kubeconfig).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "Approved plan prune-") {
		t.Fatalf("approve: %v\n%s", err, out)
	}
	waitFor(t, e, 120*time.Second, "Synced=True, PruneBlocked gone after approve", func(topo *v1alpha1.Topology) bool {
		return cond(topo, v1alpha1.ConditionSynced) == "True/Applied" && meta.FindStatusCondition(topo.Status.Conditions, v1alpha1.ConditionPruneBlocked) == nil
	})
	if _, err := e.clients["m1"].CoreV1().ConfigMaps("web").Get(ctx, "web-config", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("m1: ConfigMap web/web-config after approve: %v, want it deleted", err)
	}
	if msg := lastEvent(t, e, "PruneApproved"); !strings.Contains(msg, "on every member it held, as approved") {
		t.Errorf("PruneApproved Event %q", msg)
	}

	// The approval (of every member held) does not carry over: a typo on
	// m2 is another plan, held until approved anew.
	files := selected("fornt")
	files["topology.yaml"] = strings.Replace(strings.Replace(files["topology.yaml"], "tier: fornt", "tier: front", 1), "labels: {tier: front}\n      kubeconfig: {context: m2}", "labels: {tier: frnt}\n      kubeconfig: {context: m2}", 1)
	e.topology = writeTopology(t, files)
	pushTopology(t, e, push.Options{})
	waitFor(t, e, 120*time.Second, "PruneBlocked=True on m2", func(topo *v1alpha1.Topology) bool {
		c := meta.FindStatusCondition(topo.Status.Conditions, v1alpha1.ConditionPruneBlocked)
		return cond(topo, v1alpha1.ConditionPruneBlocked) == "True/PruneGuard" && strings.Contains(c.Message, "m2 would lose ")
	})
	if _, err := e.clients["m2"].CoreV1().ConfigMaps("web").Get(ctx, "web-config", metav1.GetOptions{}); err != nil {
		t.Errorf("m2: ConfigMap web/web-config: %v, want it kept (the old approval is for another plan)", err)
	}
}
