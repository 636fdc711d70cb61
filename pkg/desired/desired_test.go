package desired

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/geofed-io/kubectl-geofed/internal/memfs"
	"github.com/geofed-io/kubectl-geofed/pkg/capacity"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
)

// appFiles is a trainer app (base plus a europe-west1 overlay) and a
// monitor app (kustomization at its root) under dir.
func appFiles(dir string) map[string]string {
	return map[string]string{
		dir + "/apps/trainer/base/kustomization.yaml": "resources:\n- deployment.yaml\n- configmap.yaml\n- namespace.yaml\n",
		dir + "/apps/trainer/base/namespace.yaml":     "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ml\n",
		dir + "/apps/trainer/base/configmap.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: trainer-config\n  namespace: ml\ndata:\n  region: any\n",
		dir + "/apps/trainer/base/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: trainer
  namespace: ml
  labels: {app: trainer}
spec:
  replicas: 1
  selector:
    matchLabels: {app: trainer}
  template:
    metadata:
      labels: {app: trainer}
    spec:
      containers:
      - name: trainer
        image: trainer:1
`,
		dir + "/apps/trainer/overlays/europe-west1/kustomization.yaml": "resources:\n- ../../base\npatches:\n- path: config.yaml\n",
		dir + "/apps/trainer/overlays/europe-west1/config.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: trainer-config\n  namespace: ml\ndata:\n  region: eu\n",
		dir + "/apps/monitor/kustomization.yaml":                       "resources:\n- agent.yaml\n- namespace.yaml\n",
		dir + "/apps/monitor/namespace.yaml":                           "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: monitoring\n",
		dir + "/apps/monitor/agent.yaml":                               "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: agent\n  namespace: monitoring\ndata:\n  level: info\n",
	}
}

// Regions and clusters are deliberately out of order in the file.
const desiredTopology = `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: ai-platform
spec:
  regions:
  - name: us-west1
    clusters:
    - name: training-us
      labels: {role: training}
      kubeconfig: {context: training-us}
    - name: idle-us
      kubeconfig: {context: idle-us}
  - name: europe-west1
    clusters:
    - name: training-eu
      labels: {role: training}
      kubeconfig: {context: training-eu}
  - name: asia-east1
    clusters:
    - name: idle-asia
      kubeconfig: {context: idle-asia}
  workloads:
  - name: trainer
    source: apps/trainer
    placement:
      clusterSelector: {matchLabels: {role: training}}
      replicas: {total: 4, divideBy: weight, weights: {us-west1: 3}}
  - name: monitor
    source: apps/monitor
    placement:
      clusters: [training-us]
`

// summary is one desired object as "workload Kind ns/name <- overlay".
func summary(o Object) string {
	return fmt.Sprintf("%s %s <- %s", o.Workload, object.Describe(o.Object), o.Overlay)
}

func TestComputeDesired(t *testing.T) {
	fs := memfs.New(t, appFiles("/work"))
	topo := memfs.Topology(t, fs, "/work/topology.yaml", desiredTopology)

	d, err := Compute(Options{Topology: topo, FS: fs})
	if err != nil {
		t.Fatal(err)
	}

	const (
		base = "/work/apps/trainer/base"
		eu   = "/work/apps/trainer/overlays/europe-west1"
		mon  = "/work/apps/monitor"
	)
	want := []struct {
		name, region string
		objects      []string
	}{
		{"idle-asia", "asia-east1", nil},
		{"training-eu", "europe-west1", []string{
			"trainer Namespace ml <- " + eu,
			"trainer ConfigMap ml/trainer-config <- " + eu,
			"trainer Deployment ml/trainer <- " + eu,
		}},
		{"idle-us", "us-west1", nil},
		{"training-us", "us-west1", []string{
			"trainer Namespace ml <- " + base,
			"monitor Namespace monitoring <- " + mon,
			"trainer ConfigMap ml/trainer-config <- " + base,
			"trainer Deployment ml/trainer <- " + base,
			"monitor ConfigMap monitoring/agent <- " + mon,
		}},
	}
	if len(d.Clusters) != len(want) {
		t.Fatalf("got %d clusters, want %d", len(d.Clusters), len(want))
	}
	for i, w := range want {
		c := d.Clusters[i]
		if c.Name != w.name || c.Region != w.region {
			t.Errorf("cluster %d = %s/%s, want %s/%s", i, c.Region, c.Name, w.region, w.name)
			continue
		}
		var got []string
		for _, o := range c.Objects {
			got = append(got, summary(o))
		}
		if diff := cmp.Diff(w.objects, got); diff != "" {
			t.Errorf("cluster %s objects (-want +got):\n%s", c.Name, diff)
		}
	}

	// Replicas divided 3:1 by the us-west1 weight.
	for cluster, want := range map[string]int64{"training-us": 3, "training-eu": 1} {
		dep := findObject(t, d, cluster, "Deployment", "trainer")
		got, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas")
		if got != want {
			t.Errorf("%s: Deployment replicas = %d, want %d", cluster, got, want)
		}
	}
	cfg := findObject(t, d, "training-eu", "ConfigMap", "trainer-config")
	if got, _, _ := unstructured.NestedString(cfg.Object, "data", "region"); got != "eu" {
		t.Errorf("training-eu: the europe-west1 overlay's patch is missing: data.region = %q", got)
	}

	// Every object is an ApplySet member with its own applied hash, and
	// carries its own workload's label (sorting kept them together).
	partOf := inventory.ID("ai-platform")
	hashes := map[string]bool{}
	for _, c := range d.Clusters {
		for _, o := range c.Objects {
			what := c.Name + ": " + object.Describe(o.Object)
			if got := o.Object.GetLabels()[object.LabelPartOf]; got != partOf {
				t.Errorf("%s: %s = %q, want %q", what, object.LabelPartOf, got, partOf)
			}
			if got := o.Object.GetLabels()[object.LabelWorkload]; got != o.Workload {
				t.Errorf("%s: workload label %q, Object.Workload %q", what, got, o.Workload)
			}
			if got := o.Object.GetAnnotations()[object.AnnotationAppliedHash]; got != o.Hash || got == "" {
				t.Errorf("%s: annotation %s = %q, Object.Hash = %q", what, object.AnnotationAppliedHash, got, o.Hash)
			}
			h, err := inventory.AppliedHash(o.Object)
			if err != nil {
				t.Fatal(err)
			}
			if h != o.Hash {
				t.Errorf("%s: AppliedHash = %q, recorded %q", what, h, o.Hash)
			}
			hashes[o.Hash] = true
		}
	}
	// The two Deployments differ in replicas, the ConfigMaps in data: only
	// the Namespace ml is the same in both clusters.
	if got, want := len(hashes), 7; got != want {
		t.Errorf("%d distinct hashes over 8 objects, want %d", got, want)
	}

	if got, want := workloadsOf(d.Placements), []string{"trainer", "monitor"}; !cmp.Equal(got, want) {
		t.Errorf("placements for %v, want %v", got, want)
	}
	if c, ok := d.Cluster("idle-us"); !ok || c.Name != "idle-us" {
		t.Errorf("Cluster(idle-us) = %v, %v", c, ok)
	}
	if _, ok := d.Cluster("nowhere"); ok {
		t.Error("Cluster(nowhere) found a cluster")
	}
}

func TestComputeDesiredExcludesUnreachable(t *testing.T) {
	fs := memfs.New(t, appFiles("/work"))
	topo := memfs.Topology(t, fs, "/work/topology.yaml", desiredTopology)
	clusters := placement.ClustersOf(topo)
	for i := range clusters {
		if clusters[i].Name == "training-eu" {
			clusters[i].Unreachable = "connection refused"
		}
	}

	d, err := Compute(Options{Topology: topo, FS: fs, Clusters: clusters})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := d.Cluster("training-eu"); len(c.Objects) != 0 {
		t.Errorf("unreachable training-eu gets %d objects, want none", len(c.Objects))
	}
	dep := findObject(t, d, "training-us", "Deployment", "trainer")
	if got, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas"); got != 4 {
		t.Errorf("training-us replicas = %d, want all 4", got)
	}
}

func TestComputeDesiredErrors(t *testing.T) {
	shared := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: ml\ndata:\n  from: %s\n"
	tests := []struct {
		name     string
		files    map[string]string
		doc      string
		contains []string
		absent   []string
	}{
		{
			name: "two workloads render the same object into one cluster",
			files: map[string]string{
				"/t/apps/a/kustomization.yaml": "resources:\n- cm.yaml\n",
				"/t/apps/a/cm.yaml":            fmt.Sprintf(shared, "a"),
				"/t/apps/b/kustomization.yaml": "resources:\n- cm.yaml\n",
				"/t/apps/b/cm.yaml":            fmt.Sprintf(shared, "b"),
			},
			doc: `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: dup}
spec:
  regions:
  - name: us-west1
    clusters:
    - {name: c1, kubeconfig: {context: c1}}
    - {name: c2, kubeconfig: {context: c2}}
  workloads:
  - {name: a, source: apps/a}
  - {name: b, source: apps/b, placement: {clusters: [c2]}}
`,
			contains: []string{`cluster c2: workloads "a" and "b" both render ConfigMap ml/shared`},
			absent:   []string{"cluster c1"},
		},
		{
			name: "a source without a kustomization",
			files: map[string]string{
				"/t/apps/empty/README.md": "nothing to build\n",
			},
			doc: `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: broken}
spec:
  regions:
  - name: us-west1
    clusters:
    - {name: c1, kubeconfig: {context: c1}}
  workloads:
  - {name: empty, source: apps/empty}
`,
			contains: []string{"workload empty", "cluster c1", "no kustomization"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := memfs.New(t, tt.files)
			topo := memfs.Topology(t, fs, "/t/topology.yaml", tt.doc)
			d, err := Compute(Options{Topology: topo, FS: fs})
			if err == nil {
				t.Fatalf("Compute succeeded: %+v", d)
			}
			for _, c := range tt.contains {
				if !strings.Contains(err.Error(), c) {
					t.Errorf("error %q does not contain %q", err, c)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(err.Error(), a) {
					t.Errorf("error %q contains %q", err, a)
				}
			}
		})
	}
}

func findObject(t *testing.T, d *State, cluster, kind, name string) *unstructured.Unstructured {
	t.Helper()
	c, ok := d.Cluster(cluster)
	if !ok {
		t.Fatalf("no cluster %s", cluster)
	}
	for _, o := range c.Objects {
		if o.Object.GetKind() == kind && o.Object.GetName() == name {
			return o.Object
		}
	}
	t.Fatalf("cluster %s has no %s %s", cluster, kind, name)
	return nil
}

func workloadsOf(rs []placement.Result) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Workload)
	}
	return out
}

// A workload dividing by capacity is counted, on every cluster, in
// replicas of the pod template that cluster's overlay renders: here the
// europe-west1 overlay asks for 2 GPUs a replica, the base for 1. The
// workload's own pods count as its own; another's do not.
func TestComputeDesiredCountsTheRenderedTemplate(t *testing.T) {
	files := appFiles("/work")
	files["/work/apps/trainer/base/deployment.yaml"] = strings.Replace(files["/work/apps/trainer/base/deployment.yaml"],
		"        image: trainer:1\n", "        image: trainer:1\n        resources: {limits: {nvidia.com/gpu: 1}}\n", 1)
	files["/work/apps/trainer/overlays/europe-west1/kustomization.yaml"] = "resources:\n- ../../base\npatches:\n- path: config.yaml\n- path: gpus.yaml\n"
	files["/work/apps/trainer/overlays/europe-west1/gpus.yaml"] = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: trainer
  namespace: ml
spec:
  template:
    spec:
      containers:
      - name: trainer
        resources: {limits: {nvidia.com/gpu: 2}}
`
	fs := memfs.New(t, files)
	topo := memfs.Topology(t, fs, "/work/topology.yaml", strings.Replace(desiredTopology,
		"replicas: {total: 4, divideBy: weight, weights: {us-west1: 3}}", "replicas: {total: 6, divideBy: capacity}", 1))

	nodes := func(prefix string, n int) []corev1.Node {
		var out []corev1.Node
		for i := range n {
			node := corev1.Node{}
			node.Name = fmt.Sprintf("%s-%d", prefix, i)
			node.Status.Allocatable = corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("2"), "pods": resource.MustParse("110")}
			node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
			out = append(out, node)
		}
		return out
	}
	gpuPod := func(nodeName, rs, hash string, gpus string) corev1.Pod {
		p := corev1.Pod{}
		p.Namespace, p.Labels = "ml", map[string]string{"pod-template-hash": hash}
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: rs, Controller: &yes}}
		p.Spec.NodeName = nodeName
		p.Spec.Containers = []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse(gpus)}}}}
		p.Status.Phase = corev1.PodRunning
		return p
	}
	us := &capacity.Cluster{Nodes: nodes("us", 4), Pods: []corev1.Pod{gpuPod("us-0", "trainer-5c9d", "5c9d", "1")}}
	eu := &capacity.Cluster{Nodes: nodes("eu", 4), Pods: []corev1.Pod{gpuPod("eu-0", "other-77f", "77f", "2")}}

	d, err := Compute(Options{Topology: topo, FS: fs, Capacity: map[string]*capacity.Cluster{"training-us": us, "training-eu": eu}})
	if err != nil {
		t.Fatal(err)
	}
	// training-us: 8 one-GPU replicas fit (its own pod's GPU is its own);
	// training-eu: 3 two-GPU replicas (another workload holds a node).
	// 6 replicas in 8:3 → 4.36, 1.64 → 4, 2.
	for cluster, want := range map[string]int64{"training-us": 4, "training-eu": 2} {
		dep := findObject(t, d, cluster, "Deployment", "trainer")
		if got, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas"); got != want {
			t.Errorf("%s: %d replicas, want %d\n%s", cluster, got, want, strings.Join(d.Placements[0].Explanation, "\n"))
		}
	}
	var fits []string
	for _, s := range d.Placements[0].Shares {
		fits = append(fits, fmt.Sprintf("%s %d", s.Cluster, s.Fit.Now.Replicas))
	}
	if got := strings.Join(fits, ", "); got != "training-eu 3, training-us 8" {
		t.Errorf("replicas that fit: %s, want training-eu 3, training-us 8", got)
	}
}

// TestComputeDesiredSharesAnOverlayNotItsObjects checks that clusters
// rendering the same overlay (kustomize runs once for them) each get
// objects of their own: shares, labels and hashes set on one never show
// on the other.
func TestComputeDesiredSharesAnOverlayNotItsObjects(t *testing.T) {
	fs := memfs.New(t, appFiles("/work"))
	topo := memfs.Topology(t, fs, "/work/topology.yaml", strings.Replace(desiredTopology,
		"clusterSelector: {matchLabels: {role: training}}", "clusters: [idle-us, idle-asia]", 1))
	d, err := Compute(Options{Topology: topo, FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	us := findObject(t, d, "idle-us", "Deployment", "trainer")
	asia := findObject(t, d, "idle-asia", "Deployment", "trainer")
	if us == asia {
		t.Fatal("idle-us and idle-asia share one Deployment object")
	}
	for cluster, want := range map[string]int64{"idle-us": 3, "idle-asia": 1} {
		dep := findObject(t, d, cluster, "Deployment", "trainer")
		if got, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas"); got != want {
			t.Errorf("%s: Deployment replicas = %d, want %d", cluster, got, want)
		}
		h, err := inventory.AppliedHash(dep)
		if err != nil {
			t.Fatal(err)
		}
		if got := dep.GetAnnotations()[object.AnnotationAppliedHash]; got != h {
			t.Errorf("%s: applied-hash %s, the object hashes to %s", cluster, got, h)
		}
	}
	for _, c := range []string{"idle-us", "idle-asia"} {
		cl, _ := d.Cluster(c)
		for _, o := range cl.Objects {
			if o.Overlay != "/work/apps/trainer/base" && o.Workload == "trainer" {
				t.Errorf("%s: %s from %s, want the base", c, object.Describe(o.Object), o.Overlay)
			}
		}
	}
}

// TestComputeDesiredSharesAnOverlaysObjects checks that clusters choosing
// the same overlay, with no replica share of their own, hold the very same
// objects, labelled and hashed once, while a cluster of another overlay
// holds its own.
func TestComputeDesiredSharesAnOverlaysObjects(t *testing.T) {
	fs := memfs.New(t, appFiles("/work"))
	topo := memfs.Topology(t, fs, "/work/topology.yaml", strings.Replace(desiredTopology,
		"clusters: [training-us]", "clusters: [training-us, idle-us, idle-asia, training-eu]", 1))
	d, err := Compute(Options{Topology: topo, FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		kind, name string
		same       []string // clusters holding one shared object
		own        string   // a cluster holding an object of its own ("" = none)
	}{
		{kind: "ConfigMap", name: "agent", same: []string{"training-us", "idle-us", "idle-asia", "training-eu"}},
		{kind: "Namespace", name: "monitoring", same: []string{"training-us", "idle-us", "idle-asia", "training-eu"}},
		// trainer has replica shares: every cluster's copy is its own.
		{kind: "ConfigMap", name: "trainer-config", same: []string{"training-us"}, own: "training-eu"},
	} {
		t.Run(tt.kind+"/"+tt.name, func(t *testing.T) {
			first := findObject(t, d, tt.same[0], tt.kind, tt.name)
			for _, c := range tt.same[1:] {
				if got := findObject(t, d, c, tt.kind, tt.name); got != first {
					t.Errorf("%s holds a copy of %s's %s %s, want the same object", c, tt.same[0], tt.kind, tt.name)
				}
			}
			if tt.own != "" && findObject(t, d, tt.own, tt.kind, tt.name) == first {
				t.Errorf("%s shares %s's %s %s, want its own", tt.own, tt.same[0], tt.kind, tt.name)
			}
			h, err := inventory.AppliedHash(first)
			if err != nil {
				t.Fatal(err)
			}
			if got := first.GetAnnotations()[object.AnnotationAppliedHash]; got != h {
				t.Errorf("applied-hash %s, the object hashes to %s", got, h)
			}
			if got := first.GetLabels()[object.LabelPartOf]; got != inventory.ID("ai-platform") {
				t.Errorf("part-of label %q, want the topology's ApplySet", got)
			}
		})
	}
}

// TestComputeDesiredFromPrerendered checks that Compute given Prerender's
// work returns the state it computes alone, built of the very objects
// Prerender rendered (so kustomize did not run again), shared or copied
// as Compute alone would.
func TestComputeDesiredFromPrerendered(t *testing.T) {
	fs := memfs.New(t, appFiles("/work"))
	topo := memfs.Topology(t, fs, "/work/topology.yaml", strings.Replace(desiredTopology,
		"clusters: [training-us]", "clusters: [training-us, idle-us, idle-asia, training-eu]", 1))
	alone, err := Compute(Options{Topology: topo, FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	pre := Prerender(Options{Topology: topo, FS: fs})
	prerendered := map[*unstructured.Unstructured]bool{}
	for _, ov := range pre.workloads {
		for _, out := range ov.byOverlay {
			for _, obj := range out.Objects {
				prerendered[obj] = true
			}
		}
	}
	got, err := Compute(Options{Topology: topo, FS: fs, Prerendered: pre})
	if err != nil {
		t.Fatal(err)
	}
	dump := func(d *State) []string {
		var out []string
		for _, c := range d.Clusters {
			for _, o := range c.Objects {
				out = append(out, fmt.Sprintf("%s: %s %s %v", c.Name, summary(o), o.Hash, o.Object.Object))
			}
		}
		return out
	}
	if diff := cmp.Diff(dump(alone), dump(got)); diff != "" {
		t.Errorf("Compute with Prerender's work differs from Compute alone (-alone +prerendered):\n%s", diff)
	}
	for _, c := range got.Clusters {
		for _, o := range c.Objects {
			// trainer's Deployment and ConfigMap get a replica share: a copy.
			shared := o.Workload == "monitor"
			if prerendered[o.Object] != shared {
				t.Errorf("%s: %s is Prerender's object: %v, want %v", c.Name, summary(o), prerendered[o.Object], shared)
			}
		}
	}
}
