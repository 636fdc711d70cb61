package controller_test

import (
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/push"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

// TestDeletionPolicy deletes the Topology from the hub with each policy
// and reads the members back: Orphan leaves everything, Delete removes it
// with destroy's safety and holds the Topology while a member's Namespace
// still holds someone else's object.
func TestDeletionPolicy(t *testing.T) {
	l, clusters := labtest.New(t,
		lab.ClusterSpec{Name: "hub", APIServerOnly: true},
		lab.ClusterSpec{Name: "m1", Nodes: []lab.NodeSpec{{Name: "node", Count: 1}}},
		lab.ClusterSpec{Name: "m2", Nodes: []lab.NodeSpec{{Name: "node", Count: 1}}},
	)
	e := setupWith(t, l, clusters[0], clusters[1:], webTopology, replicaFlags{resync: resync}, 1)
	ctx := t.Context()
	synced := func(t *testing.T) {
		t.Helper()
		waitFor(t, e, 120*time.Second, "Synced=True", func(topo *v1alpha1.Topology) bool {
			return topo.Status.ObservedGeneration == topo.Generation && cond(topo, v1alpha1.ConditionSynced) == "True/Applied"
		})
	}

	t.Run("Orphan leaves every object on the members", func(t *testing.T) {
		pushTopology(t, e, push.Options{})
		synced(t)
		var topo v1alpha1.Topology
		get(t, e, &topo)
		if topo.Spec.DeletionPolicy != v1alpha1.DeletionOrphan || len(topo.Finalizers) > 0 {
			t.Errorf("a new Topology: deletionPolicy %q, finalizers %v; want Orphan and none", topo.Spec.DeletionPolicy, topo.Finalizers)
		}
		before := versions(t, e)
		must(t, e.hub.Delete(ctx, &topo))
		waitGone(t, e, 30*time.Second)
		// Longer than a reconcile of the deletion takes: nothing it could
		// do is still under way.
		time.Sleep(3 * time.Second)
		if after := versions(t, e); !maps.Equal(before, after) {
			t.Errorf("objects changed after an Orphan deletion:\nbefore %v\nafter  %v", before, after)
		}
		for name, cs := range e.clients {
			if _, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, inventory.ParentName(topoName), metav1.GetOptions{}); err != nil {
				t.Errorf("%s: inventory: %v, want it left for destroy or adoption", name, err)
			}
			d, err := cs.AppsV1().Deployments("web").Get(ctx, "web", metav1.GetOptions{})
			must(t, err)
			if d.Labels[object.LabelTopology] != topoName {
				t.Errorf("%s: Deployment web/web labels %v, want still %s=%s", name, d.Labels, object.LabelTopology, topoName)
			}
		}
	})

	t.Run("the finalizer follows the policy", func(t *testing.T) {
		// The orphaned objects are the same topology's: its inventory
		// takes them back.
		pushTopology(t, e, push.Options{DeletionPolicy: v1alpha1.DeletionDelete})
		synced(t)
		waitFinalizer(t, e, true)
		pushTopology(t, e, push.Options{DeletionPolicy: v1alpha1.DeletionOrphan})
		waitFinalizer(t, e, false)
		pushTopology(t, e, push.Options{DeletionPolicy: v1alpha1.DeletionDelete})
		waitFinalizer(t, e, true)
		// A push that does not say keeps the hub's policy.
		pushTopology(t, e, push.Options{})
		var topo v1alpha1.Topology
		get(t, e, &topo)
		if topo.Spec.DeletionPolicy != v1alpha1.DeletionDelete {
			t.Errorf("deletionPolicy %q after a push without one, want Delete kept", topo.Spec.DeletionPolicy)
		}
		synced(t)
	})

	t.Run("Delete keeps a Namespace it cannot see into, or holding someone's object, and the Topology with it", func(t *testing.T) {
		// Someone else's ConfigMap in geofed's Namespace on m2.
		_, err := e.clients["m2"].CoreV1().ConfigMaps("web").Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "theirs", Namespace: "web"}, Data: map[string]string{"owner": "someone"},
		}, metav1.CreateOptions{})
		must(t, err)
		var topo v1alpha1.Topology
		get(t, e, &topo)
		must(t, e.hub.Delete(ctx, &topo))

		// Joined with least privilege, the controller cannot list every
		// kind a Namespace may hold: it keeps both Namespaces, and says so.
		held := waitDestroyBlocked(t, e, 60*time.Second, func(msg string) bool {
			return strings.Contains(msg, "m1: Namespace web: kept — could not tell what else it holds") &&
				strings.Contains(msg, "m2: Namespace web: kept — could not tell what else it holds")
		})
		if !slices.Contains(held.Finalizers, v1alpha1.DestroyFinalizer) || held.DeletionTimestamp.IsZero() {
			t.Errorf("Topology finalizers %v, deletionTimestamp %v: want held by %s", held.Finalizers, held.DeletionTimestamp, v1alpha1.DestroyFinalizer)
		}
		if ev := lastEvent(t, e, "DestroyIncomplete"); !strings.Contains(ev, "Namespace web: kept") {
			t.Errorf("DestroyIncomplete Event %q, want it to name the kept Namespace", ev)
		}
		for _, name := range []string{"m1", "m2"} {
			cs := e.clients[name]
			if _, err := cs.AppsV1().Deployments("web").Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("%s: Deployment web/web: %v, want it deleted", name, err)
			}
			if ns, err := cs.CoreV1().Namespaces().Get(ctx, "web", metav1.GetOptions{}); err != nil || !ns.DeletionTimestamp.IsZero() {
				t.Errorf("%s: Namespace web: %v, want it kept", name, err)
			}
		}

		// The operator lets the controller see everything (join again,
		// --cluster-admin): at a retry m1 is clean, m2's Namespace still
		// holds someone's ConfigMap and is kept.
		kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
		must(t, l.Kubeconfig(kubeconfig))
		for _, name := range []string{"m1", "m2"} {
			join := exec.Command(pluginBinary, "join", name, "--hub", "hub", "--cluster-admin", "--kubeconfig", kubeconfig)
			if out, err := join.CombinedOutput(); err != nil {
				t.Fatalf("kubectl geofed join %s --hub hub --cluster-admin: %v\n%s", name, err, out)
			}
		}
		held = waitDestroyBlocked(t, e, 2*resync+30*time.Second, func(msg string) bool {
			return !strings.Contains(msg, "m1:") && strings.Contains(msg, "m2: Namespace web: kept — holds 1 object geofed did not apply: ConfigMap theirs")
		})
		m1 := e.clients["m1"]
		if ns, err := m1.CoreV1().Namespaces().Get(ctx, "web", metav1.GetOptions{}); err == nil && ns.DeletionTimestamp.IsZero() {
			t.Errorf("m1: Namespace web still there, not being deleted")
		}
		if _, err := m1.CoreV1().ConfigMaps("kube-system").Get(ctx, inventory.ParentName(topoName), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("m1: inventory: %v, want it removed", err)
		}
		// m2: what geofed applied in the Namespace is gone; the Namespace,
		// someone's ConfigMap and the record of the Namespace stay.
		m2 := e.clients["m2"]
		for what, err := range map[string]error{
			"ConfigMap web/config": errOf(m2.CoreV1().ConfigMaps("web").Get(ctx, "web-config", metav1.GetOptions{})),
			"Secret web/web-token": errOf(m2.CoreV1().Secrets("web").Get(ctx, "web-token", metav1.GetOptions{})),
		} {
			if !apierrors.IsNotFound(err) {
				t.Errorf("m2: %s: %v, want it deleted", what, err)
			}
		}
		if ns, err := m2.CoreV1().Namespaces().Get(ctx, "web", metav1.GetOptions{}); err != nil || !ns.DeletionTimestamp.IsZero() {
			t.Errorf("m2: Namespace web: %v, want it kept", err)
		}
		if _, err := m2.CoreV1().ConfigMaps("web").Get(ctx, "theirs", metav1.GetOptions{}); err != nil {
			t.Errorf("m2: someone's ConfigMap theirs: %v, want it kept", err)
		}
		if _, err := m2.CoreV1().ConfigMaps("kube-system").Get(ctx, inventory.ParentName(topoName), metav1.GetOptions{}); err != nil {
			t.Errorf("m2: inventory: %v, want it kept, recording the Namespace", err)
		}

		// Once it holds nothing else, a retry finishes and releases the
		// Topology.
		must(t, m2.CoreV1().ConfigMaps("web").Delete(ctx, "theirs", metav1.DeleteOptions{}))
		waitGone(t, e, 2*resync+30*time.Second)
		if ns, err := m2.CoreV1().Namespaces().Get(ctx, "web", metav1.GetOptions{}); err == nil && ns.DeletionTimestamp.IsZero() {
			t.Errorf("m2: Namespace web still there, not being deleted, after the Topology went")
		}
		if _, err := m2.CoreV1().ConfigMaps("kube-system").Get(ctx, inventory.ParentName(topoName), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("m2: inventory: %v, want it removed", err)
		}
		if ev := lastEvent(t, e, "Destroyed"); !strings.Contains(ev, "Destroy complete") {
			t.Errorf("Destroyed Event %q, want the destroy's summary", ev)
		}
	})

	t.Run("Delete waits for an unreachable member", func(t *testing.T) {
		// The Namespaces are on their way out; a fresh Topology applies
		// them again.
		for _, cs := range e.clients {
			waitNamespaceGone(t, cs, "web", 60*time.Second)
		}
		pushTopology(t, e, push.Options{DeletionPolicy: v1alpha1.DeletionDelete})
		synced(t)
		waitFinalizer(t, e, true)
		m2 := e.members["m2"]
		if err := m2.StopAPIServer(ctx); err != nil {
			t.Fatal(err)
		}
		var topo v1alpha1.Topology
		get(t, e, &topo)
		must(t, e.hub.Delete(ctx, &topo))
		waitDestroyBlocked(t, e, 60*time.Second, func(msg string) bool {
			return strings.Contains(msg, "m2: unreachable") && !strings.Contains(msg, "m1:")
		})
		if _, err := e.clients["m1"].AppsV1().Deployments("web").Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("m1: Deployment web/web: %v, want it deleted while m2 is down", err)
		}
		if err := m2.StartAPIServer(ctx); err != nil {
			t.Fatal(err)
		}
		waitGone(t, e, 2*resync+60*time.Second)
		if _, err := e.clients["m2"].AppsV1().Deployments("web").Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("m2: Deployment web/web: %v, want it deleted once m2 was back", err)
		}
	})
}

// waitNamespaceGone waits for a Namespace to be deleted.
func waitNamespaceGone(t *testing.T, cs kubernetes.Interface, name string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, err := cs.CoreV1().Namespaces().Get(t.Context(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Namespace %s still there after %s (%v)", name, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitDestroyBlocked waits for the condition Destroyed=False/
// DestroyIncomplete with a message ok accepts, and returns the Topology.
func waitDestroyBlocked(t *testing.T, e *env, timeout time.Duration, ok func(msg string) bool) *v1alpha1.Topology {
	t.Helper()
	var held *v1alpha1.Topology
	waitFor(t, e, timeout, "Destroyed=False/DestroyIncomplete", func(topo *v1alpha1.Topology) bool {
		held = topo
		c := meta.FindStatusCondition(topo.Status.Conditions, v1alpha1.ConditionDestroyed)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == "DestroyIncomplete" && ok(c.Message)
	})
	return held
}

func errOf[T any](_ T, err error) error { return err }

// waitGone waits for the Topology to be deleted.
func waitGone(t *testing.T, e *env, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var topo v1alpha1.Topology
		err := e.hub.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: topoName}, &topo)
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			st, _ := yaml.Marshal(topo.Status)
			t.Fatalf("Topology still there after %s (%v, finalizers %v); status:\n%s", timeout, err, topo.Finalizers, st)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitFinalizer waits for the destroy finalizer to be on the Topology, or
// off.
func waitFinalizer(t *testing.T, e *env, on bool) {
	t.Helper()
	waitFor(t, e, 30*time.Second, "finalizer "+v1alpha1.DestroyFinalizer, func(topo *v1alpha1.Topology) bool {
		return slices.Contains(topo.Finalizers, v1alpha1.DestroyFinalizer) == on
	})
}

// events is the message of the last Event of reason on the Topology.
func lastEvent(t *testing.T, e *env, reason string) string {
	t.Helper()
	var list corev1.EventList
	must(t, e.hub.List(t.Context(), &list, client.InNamespace(namespace)))
	msg := ""
	for _, ev := range list.Items {
		if ev.InvolvedObject.Kind == "Topology" && ev.InvolvedObject.Name == topoName && ev.Reason == reason {
			msg = ev.Message
		}
	}
	return msg
}

// TestUnjoinDeleteObjects unjoins members from a running control plane as
// a user does, with the plugin binary: without --delete-objects what
// geofed applied stays; with it, it goes from that member only, with
// destroy's safety, and the controller does not put it back.
func TestUnjoinDeleteObjects(t *testing.T) {
	l, clusters := labtest.New(t,
		lab.ClusterSpec{Name: "hub", APIServerOnly: true},
		lab.ClusterSpec{Name: "m1", Nodes: []lab.NodeSpec{{Name: "node", Count: 1}}},
		lab.ClusterSpec{Name: "m2", Nodes: []lab.NodeSpec{{Name: "node", Count: 1}}},
	)
	e := setupWith(t, l, clusters[0], clusters[1:], webTopology, replicaFlags{resync: resync}, 1)
	ctx := t.Context()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	must(t, l.Kubeconfig(kubeconfig))
	plugin := func(args ...string) (string, error) {
		out, err := exec.Command(pluginBinary, append(args, "--kubeconfig", kubeconfig)...).CombinedOutput()
		return string(out), err
	}
	pushTopology(t, e, push.Options{})
	waitFor(t, e, 120*time.Second, "Synced=True", func(topo *v1alpha1.Topology) bool {
		return topo.Status.ObservedGeneration == topo.Generation && cond(topo, v1alpha1.ConditionSynced) == "True/Applied"
	})

	t.Run("unjoin leaves what geofed applied", func(t *testing.T) {
		before := versions(t, e)
		out, err := plugin("unjoin", "m1", "--hub", "hub")
		if err != nil {
			t.Fatalf("unjoin m1: %v\n%s", err, out)
		}
		if strings.Contains(out, "What Topology") {
			t.Errorf("unjoin without --delete-objects speaks of objects:\n%s", out)
		}
		if _, err := e.clients["m1"].CoreV1().ServiceAccounts("kube-system").Get(ctx, "geofed", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("m1: ServiceAccount kube-system/geofed: %v, want it gone", err)
		}
		after := versions(t, e)
		if !maps.Equal(before, after) {
			t.Errorf("objects changed by unjoin:\nbefore %v\nafter  %v", before, after)
		}
		if _, err := e.clients["m1"].CoreV1().ConfigMaps("kube-system").Get(ctx, inventory.ParentName(topoName), metav1.GetOptions{}); err != nil {
			t.Errorf("m1: inventory: %v, want it kept", err)
		}
	})

	t.Run("--delete-objects keeps a Namespace holding someone's object", func(t *testing.T) {
		m2 := e.clients["m2"]
		_, err := m2.CoreV1().ConfigMaps("web").Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "theirs", Namespace: "web"},
		}, metav1.CreateOptions{})
		must(t, err)
		m1Before := memberVersions(t, e, "m1")
		out, err := plugin("unjoin", "m2", "--hub", "hub", "--delete-objects")
		if err == nil {
			t.Fatalf("unjoin m2 --delete-objects kept a Namespace and exited 0:\n%s", out)
		}
		for _, want := range []string{
			"  - Secret geofed-system/geofed-member-m2\n",
			"What Topology geofed-system/fleet applied on cluster m2:\n",
			"  - Deployment web/web\n",
			"  ! Namespace web (kept — holds 1 object geofed did not apply: ConfigMap theirs)\n",
			"Destroy incomplete: 3 objects deleted",
			"m2: Namespace web: kept — holds 1 object geofed did not apply: ConfigMap theirs; run unjoin --delete-objects again",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("unjoin output lacks %q:\n%s", want, out)
			}
		}
		if _, err := m2.AppsV1().Deployments("web").Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("m2: Deployment web/web: %v, want it deleted", err)
		}
		if ns, err := m2.CoreV1().Namespaces().Get(ctx, "web", metav1.GetOptions{}); err != nil || !ns.DeletionTimestamp.IsZero() {
			t.Errorf("m2: Namespace web: %v, want it kept", err)
		}
		// Only m2: m1 (unjoined above, its objects left) is as it was.
		if after := memberVersions(t, e, "m1"); !maps.Equal(m1Before, after) {
			t.Errorf("m1's objects changed by the unjoin of m2:\nbefore %v\nafter  %v", m1Before, after)
		}
		// The controller can no longer reach m2: a reconcile after the
		// unjoin puts nothing back.
		unjoined := time.Now()
		waitFor(t, e, 2*resync+30*time.Second, "a plan after the unjoin", func(topo *v1alpha1.Topology) bool {
			return topo.Status.LastPlanTime != nil && topo.Status.LastPlanTime.After(unjoined.Add(time.Second))
		})
		if _, err := m2.AppsV1().Deployments("web").Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("m2: Deployment web/web after a reconcile: %v, want it still deleted", err)
		}
	})

	t.Run("--delete-objects again, once the Namespace is empty", func(t *testing.T) {
		m2 := e.clients["m2"]
		must(t, m2.CoreV1().ConfigMaps("web").Delete(ctx, "theirs", metav1.DeleteOptions{}))
		out, err := plugin("unjoin", "m2", "--hub", "hub", "--delete-objects")
		if err != nil {
			t.Fatalf("unjoin m2 --delete-objects again: %v\n%s", err, out)
		}
		for _, want := range []string{"  - Namespace web\n", "Destroy complete: 1 objects deleted, 1 inventories removed", "Cluster m2 (context m2) unjoined from hub hub.\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("unjoin output lacks %q:\n%s", want, out)
			}
		}
		if ns, err := m2.CoreV1().Namespaces().Get(ctx, "web", metav1.GetOptions{}); err == nil && ns.DeletionTimestamp.IsZero() {
			t.Errorf("m2: Namespace web still there, not being deleted")
		}
		if _, err := m2.CoreV1().ConfigMaps("kube-system").Get(ctx, inventory.ParentName(topoName), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("m2: inventory: %v, want it removed", err)
		}
	})
}

// memberVersions are the resourceVersions of what the workload applies on
// one member.
func memberVersions(t *testing.T, e *env, cluster string) map[string]string {
	t.Helper()
	cs := e.clients[cluster]
	d, err := cs.AppsV1().Deployments("web").Get(t.Context(), "web", metav1.GetOptions{})
	must(t, err)
	cm, err := cs.CoreV1().ConfigMaps("web").Get(t.Context(), "web-config", metav1.GetOptions{})
	must(t, err)
	s, err := cs.CoreV1().Secrets("web").Get(t.Context(), "web-token", metav1.GetOptions{})
	must(t, err)
	return map[string]string{"Deployment web/web": d.ResourceVersion, "ConfigMap web/web-config": cm.ResourceVersion, "Secret web/web-token": s.ResourceVersion}
}
