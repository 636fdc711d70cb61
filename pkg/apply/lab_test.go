package apply

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/observe"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

var (
	configMaps  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	namespaces  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
)

// labTopology writes a topology named topo whose one workload, placed on
// the lab cluster c1 (kubeconfig context c1), holds the manifests, and
// loads it.
func labTopology(t *testing.T, topo string, manifests ...string) *topology.Topology {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "app"), 0o700); err != nil {
		t.Fatal(err)
	}
	kustomization := "resources:\n"
	for i, m := range manifests {
		name := fmt.Sprintf("m%d.yaml", i)
		kustomization += "- " + name + "\n"
		write(filepath.Join("app", name), m)
	}
	write("app/kustomization.yaml", kustomization)
	write("topology.yaml", `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: `+topo+`}
spec:
  regions:
  - name: us-west1
    clusters:
    - name: c1
      kubeconfig: {context: c1}
  workloads:
  - name: app
    source: app
    placement:
      clusters: [c1]
`)
	top, err := topology.Load(filepath.Join(dir, "topology.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return top
}

// rendered is what desired.Compute makes of labTopology: the manifests
// labelled, hashed and in apply order, as apply receives them.
func rendered(t *testing.T, topo string, manifests ...string) []desired.Object {
	t.Helper()
	d, err := desired.Compute(desired.Options{Topology: labTopology(t, topo, manifests...)})
	if err != nil {
		t.Fatal(err)
	}
	dc, ok := d.Cluster("c1")
	if !ok || len(dc.Objects) != len(manifests) {
		t.Fatalf("desired.Compute rendered %v for c1, want %d objects", dc, len(manifests))
	}
	return dc.Objects
}

func namespace(name string) string {
	return "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + name + "}\n"
}

func configMap(namespace, name string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + ", namespace: " + namespace + "}\ndata: {level: info}\n"
}

func deployment(namespace, name, resources string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `, namespace: ` + namespace + `}
spec:
  replicas: 2
  selector: {matchLabels: {app: ` + name + `}}
  template:
    metadata: {labels: {app: ` + name + `}}
    spec:
      containers:
      - name: main
        image: main:1
        resources: {requests: ` + resources + `, limits: ` + resources + `}
`
}

// deletion is what the plan lists in its "-" list for an object geofed
// applied: the object as it was live when planned, with its UID.
func deletion(live *unstructured.Unstructured) plan.Object {
	gvk := live.GroupVersionKind()
	return plan.Object{
		Action:              object.ActionDelete,
		Group:               gvk.Group,
		Version:             gvk.Version,
		Kind:                gvk.Kind,
		Namespace:           live.GetNamespace(),
		Name:                live.GetName(),
		LiveResourceVersion: live.GetResourceVersion(),
		UID:                 string(live.GetUID()),
		Reason:              "applied by geofed, no longer rendered",
	}
}

// liveNamed finds an object apply returned.
func liveNamed(t *testing.T, res ObjectsResult, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, l := range res.Live {
		if l.GetKind() == kind && l.GetName() == name {
			return l
		}
	}
	t.Fatalf("apply returned no %s %s", kind, name)
	return nil
}

// TestClusterOnLab applies to a real cluster with one CPU node and reads
// back what apply did.
func TestClusterOnLab(t *testing.T) {
	env, clusters := labtest.New(t, lab.ClusterSpec{Name: "c1", Nodes: []lab.NodeSpec{{Name: "cpu", Count: 1}}})
	ctx := context.Background()
	conn := member.Connect(ctx, []member.Target{{Name: "c1", Region: "us-west1", Config: clusters[0].RESTConfig()}}, member.Options{Timeout: 30 * time.Second})[0]
	if conn.Err != nil {
		t.Fatal(conn.Err)
	}
	client := conn.Dynamic
	// options are a topology's ClusterOptions, as planned now: against the
	// inventory as it is.
	options := func(t *testing.T, topo string) ClusterOptions {
		t.Helper()
		inv, err := inventory.Read(ctx, client, topo)
		if err != nil {
			t.Fatal(err)
		}
		return ClusterOptions{Topology: topo, Cluster: "c1", Client: client, Mapper: conn.Mapper, Discovery: conn.Discovery, Prune: true, InventoryVersion: inv.ResourceVersion}
	}
	entries := func(t *testing.T, topo string) map[string]inventory.Entry {
		t.Helper()
		inv, err := inventory.Read(ctx, client, topo)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]inventory.Entry{}
		for _, e := range inv.Entries {
			out[e.Kind+"/"+e.Name] = e
		}
		return out
	}

	// A Deployment asking for GPUs never becomes ready and the wait says so
	// when it times out, naming it; one that fits becomes ready. Objects the
	// plan knows unchanged are not sent again, and stay in the inventory.
	t.Run("apply, skip, prune and wait", func(t *testing.T) {
		opts := options(t, "lab")
		if opts.InventoryVersion != "" {
			t.Fatalf("inventory of a topology never applied has resourceVersion %q", opts.InventoryVersion)
		}
		opts.Objects = rendered(t, "lab", namespace("app"), configMap("app", "settings"), deployment("app", "hungry", `{cpu: 100m, nvidia.com/gpu: "1"}`))
		res, err := Cluster(ctx, opts)
		if err != nil || res.Applied != 3 || len(res.Live) != 3 {
			t.Fatalf("Cluster = %d applied, %d live, %v; want 3", res.Applied, len(res.Live), err)
		}
		// The inventory records every object with the UID it was applied as.
		inv := entries(t, "lab")
		for _, l := range res.Live {
			if e, ok := inv[l.GetKind()+"/"+l.GetName()]; !ok || e.UID != l.GetUID() || e.FieldsDigest == "" {
				t.Errorf("inventory entry of %s: %+v, want UID %s and a fields digest", object.Describe(l), e, l.GetUID())
			}
		}

		var mu sync.Mutex
		var lines []string
		wait := func(objs []desired.Object, live []*unstructured.Unstructured, timeout time.Duration) error {
			ro := readyOptions{cluster: "c1", client: client, mapper: conn.Mapper, timeout: timeout, live: map[string]*unstructured.Unstructured{},
				report: func(s string) { mu.Lock(); lines = append(lines, s); mu.Unlock() }}
			for _, o := range objs {
				ro.objects = append(ro.objects, o.Object)
			}
			for _, l := range live {
				ro.live[object.KeyOf(l)] = l
			}
			return waitReady(ctx, ro)
		}
		err = wait(opts.Objects, res.Live, 3*time.Second)
		const wantErr = "cluster c1: not ready after 3s: Deployment app/hungry: "
		if err == nil || !strings.HasPrefix(err.Error(), wantErr) {
			t.Errorf("waitReady = %v, want it to start %q", err, wantErr)
		}
		if len(lines) == 0 || !strings.HasPrefix(lines[0], "c1: 2/3 objects ready (waiting for Deployment app/hungry: ") {
			t.Errorf("progress = %q, want lines saying 2/3 ready, waiting for the Deployment", lines)
		}
		// At most one line per 2s, and a line at once: 3s give 2 lines.
		if len(lines) > 2 {
			t.Errorf("%d progress lines in 3s, want at most 2: %q", len(lines), lines)
		}

		// The plan knows the ConfigMap unchanged: only the others are sent,
		// the hungry Deployment is pruned, the ConfigMap stays.
		hungry := liveNamed(t, res, "Deployment", "hungry")
		opts = options(t, "lab")
		opts.Objects = rendered(t, "lab", namespace("app"), configMap("app", "settings"), deployment("app", "fits", `{cpu: 100m}`))
		opts.Skip = map[string]bool{object.Key("", "ConfigMap", "app", "settings"): true}
		opts.Deletes = []plan.Object{deletion(hungry)}
		res, err = Cluster(ctx, opts)
		if err != nil || res.Applied != 2 || res.Pruned != 1 {
			t.Fatalf("Cluster = %d applied, %d pruned, %v; want 2 applied, 1 pruned", res.Applied, res.Pruned, err)
		}
		if _, err := client.Resource(deployments).Namespace("app").Get(ctx, "hungry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("getting the pruned Deployment app/hungry: %v, want NotFound", err)
		}
		inv = entries(t, "lab")
		if _, ok := inv["ConfigMap/settings"]; !ok {
			t.Errorf("inventory after the second apply lost the skipped ConfigMap: %v", inv)
		}
		if _, ok := inv["Deployment/hungry"]; ok {
			t.Errorf("inventory after the second apply still lists the pruned Deployment: %v", inv)
		}
		if err := wait(opts.Objects, res.Live, time.Minute); err != nil {
			t.Errorf("waitReady: %v", err)
		}
	})

	// An object deleted and re-created under the same name since the plan
	// is someone else's: the delete carries the planned UID and misses it.
	t.Run("delete only the UID planned", func(t *testing.T) {
		opts := options(t, "uid")
		opts.Objects = rendered(t, "uid", namespace("uid"), configMap("uid", "reborn"))
		res, err := Cluster(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		planned := deletion(liveNamed(t, res, "ConfigMap", "reborn"))

		cms := client.Resource(configMaps).Namespace("uid")
		if err := cms.Delete(ctx, "reborn", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		other := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "reborn", "namespace": "uid"},
			"data":     map[string]any{"owner": "someone else"},
		}}
		other, err = cms.Create(ctx, other, metav1.CreateOptions{FieldManager: "kubectl"})
		if err != nil {
			t.Fatal(err)
		}

		var lines []string
		opts = options(t, "uid")
		opts.Objects = rendered(t, "uid", namespace("uid"))
		opts.Deletes = []plan.Object{planned}
		opts.Progress = func(s string) { lines = append(lines, s) }
		res, err = Cluster(ctx, opts)
		if err != nil || res.Pruned != 0 {
			t.Fatalf("Cluster = %d pruned, %v; want nothing pruned, no error", res.Pruned, err)
		}
		live, err := cms.Get(ctx, "reborn", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("the re-created ConfigMap uid/reborn: %v, want it kept", err)
		}
		if live.GetUID() != other.GetUID() {
			t.Errorf("ConfigMap uid/reborn has UID %s, want the re-created one's %s", live.GetUID(), other.GetUID())
		}
		const want = "c1: not deleting ConfigMap uid/reborn: re-created since the plan (another UID)"
		if !slices.Contains(lines, want) {
			t.Errorf("progress = %q, want %q", lines, want)
		}
		// Not geofed's any more: the inventory forgets it.
		if e, ok := entries(t, "uid")["ConfigMap/reborn"]; ok {
			t.Errorf("inventory still lists ConfigMap uid/reborn: %+v", e)
		}
	})

	// A plan made before another apply moved the inventory is refused
	// before anything is written.
	t.Run("inventory moved since the plan", func(t *testing.T) {
		beforeFirst := options(t, "moved")
		opts := beforeFirst
		opts.Objects = rendered(t, "moved", namespace("moved"), configMap("moved", "one"))
		res, err := Cluster(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		one := deletion(liveNamed(t, res, "ConfigMap", "one"))
		beforeSecond := options(t, "moved")
		// Another apply, after both plans were made.
		opts = beforeSecond
		opts.Objects = rendered(t, "moved", namespace("moved"), configMap("moved", "one"), configMap("moved", "two"))
		if _, err := Cluster(ctx, opts); err != nil {
			t.Fatal(err)
		}
		now := options(t, "moved").InventoryVersion
		inv := entries(t, "moved")

		tests := []struct {
			name    string
			planned ClusterOptions
			deletes []plan.Object
			// version is how the refusal names the planned resourceVersion.
			version string
		}{
			{name: "planned before the first apply", planned: beforeFirst, version: "none"},
			{name: "planned before another apply", planned: beforeSecond, deletes: []plan.Object{one}, version: beforeSecond.InventoryVersion},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				stale := tt.planned
				var lines []string
				stale.Objects = rendered(t, "moved", namespace("moved"), configMap("moved", "three"))
				stale.Deletes = tt.deletes
				stale.Progress = func(s string) { lines = append(lines, s) }
				res, err := Cluster(ctx, stale)
				if !errors.Is(err, ErrInventoryMoved) {
					t.Fatalf("Cluster = %v, want ErrInventoryMoved", err)
				}
				want := fmt.Sprintf("cluster c1: %v (inventory resourceVersion %s when planned, %s now)", ErrInventoryMoved, tt.version, now)
				if err.Error() != want {
					t.Errorf("Cluster = %q\nwant %q", err, want)
				}
				if res.Applied != 0 || res.Pruned != 0 || len(lines) != 0 {
					t.Errorf("Cluster = %d applied, %d pruned, progress %q; want nothing done", res.Applied, res.Pruned, lines)
				}
				cms := client.Resource(configMaps).Namespace("moved")
				if _, err := cms.Get(ctx, "three", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					t.Errorf("getting ConfigMap moved/three: %v, want NotFound: nothing applied", err)
				}
				if _, err := cms.Get(ctx, "one", metav1.GetOptions{}); err != nil {
					t.Errorf("getting ConfigMap moved/one: %v, want it kept: nothing pruned", err)
				}
				if got := options(t, "moved").InventoryVersion; got != now {
					t.Errorf("inventory resourceVersion %s after the refused apply, want %s: untouched", got, now)
				}
				if got := entries(t, "moved"); fmt.Sprint(got) != fmt.Sprint(inv) {
					t.Errorf("inventory after the refused apply:\n%v\nwant\n%v", got, inv)
				}
			})
		}
	})

	// A Namespace the plan would delete, in which a person created a
	// ConfigMap after the plan was made: apply looks again right before
	// deleting it, keeps it (and its record), and the ConfigMap survives.
	t.Run("namespace filled since the plan is kept", func(t *testing.T) {
		opts := options(t, "late")
		opts.Objects = rendered(t, "late", namespace("late"))
		res, err := Cluster(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		planned := []plan.Object{deletion(liveNamed(t, res, "Namespace", "late"))}
		plannedAt := time.Now().Truncate(time.Second) // as plans stamp it
		byHand := &unstructured.Unstructured{Object: map[string]interface{}{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]interface{}{"name": "notes", "namespace": "late"},
			"data":     map[string]interface{}{"owner": "a person"},
		}}
		if _, err := client.Resource(configMaps).Namespace("late").Create(ctx, byHand, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var lines []string
		opts = options(t, "late")
		opts.Deletes = planned
		opts.PlannedAt = plannedAt
		opts.Progress = func(s string) { lines = append(lines, s) }
		res, err = Cluster(ctx, opts)
		if err != nil || res.Pruned != 0 {
			t.Fatalf("Cluster = %d pruned, %v; want nothing pruned and no error", res.Pruned, err)
		}
		if want := "c1: not deleting Namespace late: it holds ConfigMap notes since the plan"; fmt.Sprint(lines) != fmt.Sprint([]string{want}) {
			t.Errorf("progress %q, want %q", lines, want)
		}
		ns, err := client.Resource(namespaces).Get(ctx, "late", metav1.GetOptions{})
		if err != nil || ns.GetDeletionTimestamp() != nil {
			t.Errorf("Namespace late: %v (deleting: %v), want it kept", err, err == nil && ns.GetDeletionTimestamp() != nil)
		}
		if _, err := client.Resource(configMaps).Namespace("late").Get(ctx, "notes", metav1.GetOptions{}); err != nil {
			t.Errorf("the hand-made ConfigMap late/notes: %v, want it kept", err)
		}
		if inv := entries(t, "late"); len(inv) != 1 {
			t.Errorf("inventory %v, want the kept Namespace still recorded", inv)
		}
	})

	// Prune runs in reverse apply order: workloads, then the rest, the
	// Namespace last, whatever order the plan lists them in.
	t.Run("prune order", func(t *testing.T) {
		opts := options(t, "order")
		opts.Objects = rendered(t, "order", namespace("order"), configMap("order", "settings"), deployment("order", "web", `{cpu: 100m}`))
		res, err := Cluster(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		deletes := []plan.Object{
			deletion(liveNamed(t, res, "Namespace", "order")),
			deletion(liveNamed(t, res, "ConfigMap", "settings")),
			deletion(liveNamed(t, res, "Deployment", "web")),
		}

		var lines []string
		opts = options(t, "order")
		opts.Deletes = deletes
		// Planned now: the Deployment's ReplicaSet and Pods, which the
		// garbage collector is still removing when the Namespace's turn
		// comes, were there before.
		opts.PlannedAt = time.Now().Add(time.Second)
		opts.Progress = func(s string) { lines = append(lines, s) }
		res, err = Cluster(ctx, opts)
		if err != nil || res.Pruned != 3 {
			t.Fatalf("Cluster = %d pruned, %v; want 3 pruned", res.Pruned, err)
		}
		want := []string{
			"c1: deleted apps/Deployment order/web",
			"c1: deleted ConfigMap order/settings",
			"c1: deleted Namespace order",
		}
		if fmt.Sprint(lines) != fmt.Sprint(want) {
			t.Errorf("progress:\n%q\nwant\n%q", lines, want)
		}
		if _, err := client.Resource(deployments).Namespace("order").Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("getting Deployment order/web: %v, want NotFound", err)
		}
		if _, err := client.Resource(configMaps).Namespace("order").Get(ctx, "settings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("getting ConfigMap order/settings: %v, want NotFound", err)
		}
		// The namespace controller finalizes it in its own time.
		if ns, err := client.Resource(namespaces).Get(ctx, "order", metav1.GetOptions{}); err == nil && ns.GetDeletionTimestamp() == nil {
			t.Errorf("Namespace order is not being deleted")
		} else if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("getting Namespace order: %v", err)
		}
		if inv := entries(t, "order"); len(inv) != 0 {
			t.Errorf("inventory after pruning everything: %v, want empty", inv)
		}
	})

	// Run executes the plan Compute made, over its connections, only once
	// it holds the cluster's apply lock.
	t.Run("Run under the apply lock", func(t *testing.T) {
		kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
		if err := env.Kubeconfig(kubeconfig); err != nil {
			t.Fatal(err)
		}
		top := labTopology(t, "run", namespace("run"), configMap("run", "settings"))
		planOpts := plan.Options{Options: observe.Options{Topology: top, Member: member.Options{KubeconfigPath: kubeconfig, Timeout: 30 * time.Second}}}
		computed, err := plan.Compute(ctx, planOpts)
		if err != nil {
			t.Fatal(err)
		}
		if s := computed.Plan.Summary; s.ObjectsToCreate != 2 || s.ObjectsToChange+s.ObjectsToDelete+s.Errors+s.Unreachable != 0 {
			t.Fatalf("plan summary %+v, want 2 objects to create and nothing else", s)
		}
		run := func(t *testing.T) Outcome {
			t.Helper()
			res, err := Run(ctx, Options{Planned: computed, Lock: inventory.LockOptions{TTL: 5 * time.Second}, Prune: true, Wait: true, Timeout: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Clusters) != 1 {
				t.Fatalf("Run returned %d outcomes, want c1's", len(res.Clusters))
			}
			return res.Clusters[0]
		}

		clientset, err := kubernetes.NewForConfig(clusters[0].RESTConfig())
		if err != nil {
			t.Fatal(err)
		}
		leases := clientset.CoordinationV1()
		other, err := inventory.AcquireLock(ctx, leases, inventory.LockOptions{Topology: "run", Cluster: "c1", Holder: "ci/pid 1"})
		if err != nil {
			t.Fatal(err)
		}
		out := run(t)
		var held *inventory.HeldError
		if !errors.As(out.Err, &held) || held.Holder != "ci/pid 1" || out.Applied != 0 {
			t.Errorf("Run while another apply holds the lock: %d applied, %v; want nothing applied, the lock held by ci/pid 1", out.Applied, out.Err)
		}
		if _, err := client.Resource(namespaces).Get(ctx, "run", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("getting Namespace run: %v, want NotFound: nothing applied without the lock", err)
		}
		if err := other.Release(ctx); err != nil {
			t.Fatal(err)
		}

		out = run(t)
		if out.Err != nil || out.Applied != 2 || !out.Ready {
			t.Fatalf("Run = %d applied, ready %t, %v; want 2 applied and ready", out.Applied, out.Ready, out.Err)
		}
		if _, err := client.Resource(configMaps).Namespace("run").Get(ctx, "settings", metav1.GetOptions{}); err != nil {
			t.Errorf("getting ConfigMap run/settings: %v", err)
		}
		if _, err := leases.Leases(inventory.ParentNamespace).Get(ctx, inventory.ParentName("run"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("getting the apply lock's Lease after Run: %v, want NotFound: released", err)
		}
		again, err := plan.Compute(ctx, planOpts)
		if err != nil {
			t.Fatal(err)
		}
		if s := again.Plan.Summary; s.HasChanges() {
			t.Errorf("plan after Run: %+v, want no changes", s)
		}
	})
}
