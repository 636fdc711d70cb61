package controller_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/gkeemu"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/controller"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/push"
)

// TestControllerGKE: a topology with a GKE cluster, pushed to the control
// plane. The controller creates the cluster through the real GKE client
// against the emulator (whose clusters are lab clusters), applies to it and
// to the joined member, and joins the new cluster to itself: its
// ServiceAccount on the cluster, its kubeconfig in the hub.
func TestControllerGKE(t *testing.T) {
	l, clusters := labtest.New(t,
		lab.ClusterSpec{Name: "hub", APIServerOnly: true},
		lab.ClusterSpec{Name: "m1", Nodes: []lab.NodeSpec{{Name: "node", Count: 1}}},
	)
	hub, m1 := clusters[0], clusters[1]
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	emu, addr, err := gkeemu.Start(ctx, gkeemu.Options{Provisioner: gkeemu.NewLabProvisioner(l)})
	must(t, err)
	t.Cleanup(emu.Stop)

	e := setupWith(t, l, hub, []*lab.Cluster{m1}, gkeTopology,
		replicaFlags{resync: 10 * time.Minute, extra: []string{"--gke-emulator-host", addr}}, 1)
	pushTopology(t, e, push.Options{})
	waitFor(t, e, 4*time.Minute, "Synced=True", func(topo *v1alpha1.Topology) bool {
		return cond(topo, v1alpha1.ConditionSynced) == "True/Applied" && clusterStatus(topo, "gke-us").Reachable
	})

	gkeCluster := l.Cluster("gke-us")
	if gkeCluster == nil {
		t.Fatal("the emulator runs no cluster gke-us: the controller did not create it")
	}
	cs, err := kubernetes.NewForConfig(gkeCluster.RESTConfig())
	must(t, err)
	e.clients["gke-us"] = cs
	waitReplicas(t, e, "gke-us", 2, 30*time.Second)
	waitReplicas(t, e, "m1", 2, 30*time.Second)

	// Joined as join --hub joins: the ServiceAccount there, its kubeconfig
	// in the hub, and that kubeconfig works.
	deadline := time.Now().Add(60 * time.Second)
	var secret corev1.Secret
	for {
		err := e.hub.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: controller.MemberSecretName("gke-us")}, &secret)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no member Secret for gke-us in the hub after 60s: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if _, err := cs.CoreV1().ServiceAccounts("kube-system").Get(t.Context(), "geofed", metav1.GetOptions{}); err != nil {
		t.Errorf("ServiceAccount kube-system/geofed on gke-us: %v", err)
	}
	if !strings.Contains(string(secret.Data[controller.MemberSecretKey]), "token:") {
		t.Errorf("the member Secret holds no token kubeconfig")
	}
	var events corev1.EventList
	must(t, e.hub.List(t.Context(), &events, client.InNamespace(namespace)))
	reasons := map[string]bool{}
	for _, ev := range events.Items {
		reasons[ev.Reason] = true
	}
	for _, want := range []string{"Provisioned", "Joined", "Applied"} {
		if !reasons[want] {
			t.Errorf("no %s Event; have %v", want, reasons)
		}
	}
}

// gkeTopology is web across a joined member and a GKE cluster the
// controller creates.
var gkeTopology = map[string]string{
	"topology.yaml": `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: ` + topoName + `}
spec:
  gke: {project: acme-ml}
  regions:
  - name: us-west1
    clusters:
    - name: gke-us
      gke:
        location: us-west1-b
        nodePools:
        - {name: cpu, machineType: e2-standard-4, nodeCount: 1}
  - name: europe-west1
    clusters:
    - name: m1
      kubeconfig: {context: m1}
  workloads:
  - name: web
    source: apps/web
    placement:
      replicas: {total: 4, divideBy: weight}
`,
	"apps/web/kustomization.yaml": webTopology["apps/web/kustomization.yaml"],
	"apps/web/namespace.yaml":     webTopology["apps/web/namespace.yaml"],
	"apps/web/config.yaml":        webTopology["apps/web/config.yaml"],
	"apps/web/secret.yaml":        webTopology["apps/web/secret.yaml"],
	"apps/web/deployment.yaml":    webTopology["apps/web/deployment.yaml"],
}
