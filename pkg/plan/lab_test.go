package plan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/internal/memfs"
	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

// labTopology has the lab cluster c1 and a cluster c2 whose context the
// kubeconfig lacks; legacy adds the legacy workload.
func labTopology(legacy bool) string {
	doc := `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: lab
spec:
  regions:
  - name: us-west1
    clusters:
    - name: c1
      kubeconfig: {path: kubeconfig, context: c1}
    - name: c2
      kubeconfig: {path: kubeconfig, context: c2}
  workloads:
  - name: trainer
    source: apps/trainer
`
	if legacy {
		doc += "  - name: legacy\n    source: apps/legacy\n"
	}
	return doc
}

// labApps is the trainer app with a ConfigMap that has a finalizer (so it
// can be caught being deleted), and the legacy app: what the topology
// stops rendering halfway through TestComputeOnLab, one object per way a
// prune can go.
func labApps(dir string) map[string]string {
	files := trainerApp(dir)
	files[dir+"/apps/trainer/kustomization.yaml"] += "- leaving.yaml\n"
	files[dir+"/apps/trainer/leaving.yaml"] = configMap("ml", "leaving", "finalizers: [geofed.test/hold]")
	files[dir+"/apps/legacy/kustomization.yaml"] = "resources:\n- objects.yaml\n"
	files[dir+"/apps/legacy/objects.yaml"] = strings.Join([]string{
		"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kept-ns\n",
		"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: empty-ns\n",
		configMap("empty-ns", "cfg", ""),
		`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.geofed.test
spec:
  group: geofed.test
  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`,
		configMap("ml", "old", ""),
		configMap("ml", "recreated", ""),
		configMap("ml", "draining", "finalizers: [geofed.test/hold]"),
		configMap("ml", "unlabelled-now", ""),
		configMap("ml", "gone", ""),
	}, "---\n")
	return files
}

// configMap is a ConfigMap manifest; meta is extra metadata YAML.
func configMap(namespace, name, meta string) string {
	s := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n  namespace: " + namespace + "\n"
	if meta != "" {
		s += "  " + meta + "\n"
	}
	return s + "data:\n  k: v\n"
}

// actions lists a cluster's plan as "action [group/]Kind [ns/]name".
func actions(c Cluster) []string {
	var out []string
	for _, o := range c.Objects {
		out = append(out, fmt.Sprintf("%s %s", o.Action, o))
	}
	return out
}

// planned returns the plan of the named object in c.
func planned(t *testing.T, c Cluster, name string) Object {
	t.Helper()
	for _, o := range c.Objects {
		if o.String() == name {
			return o
		}
	}
	t.Fatalf("cluster %s: no %s in the plan", c.Name, name)
	return Object{}
}

// TestComputeOnLab plans one real cluster through a topology's life: an
// empty cluster, the same objects applied (unchanged, from the inventory
// alone), then a render that changed, a field someone else took, objects
// in the way, and a removed workload whose leftovers are pruned, kept or
// forgotten. A second cluster cannot be reached.
func TestComputeOnLab(t *testing.T) {
	l, _ := labtest.New(t, lab.ClusterSpec{Name: "c1"})
	ctx := context.Background()
	dir := t.TempDir()
	if err := l.Kubeconfig(filepath.Join(dir, "kubeconfig")); err != nil {
		t.Fatal(err)
	}
	files := labApps(dir)
	fs := memfs.New(t, files)
	compute := func(t *testing.T, doc string, opts Options) (*Result, Cluster) {
		t.Helper()
		path := filepath.Join(dir, "topology.yaml")
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		opts.Topology = memfs.Topology(t, fs, path, doc)
		opts.FS = fs
		opts.Member = member.Options{Timeout: 30 * time.Second}
		opts.Now = func() time.Time { return time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC) }
		res, err := Compute(ctx, opts)
		if err != nil {
			t.Fatalf("Compute: %v", err)
		}
		p := res.Plan
		if len(p.Regions) != 1 || len(p.Regions[0].Clusters) != 2 {
			t.Fatalf("plan has %+v, want region us-west1 with c1 and c2", p.Regions)
		}
		c1, c2 := p.Regions[0].Clusters[0], p.Regions[0].Clusters[1]
		if c1.Name != "c1" || c1.Error != "" || c1.Unreachable != "" || c1.ServerVersion == "" || c1.Requests == 0 {
			t.Fatalf("c1 = %+v, want planned, with its version and requests", c1)
		}
		if c2.Name != "c2" || !strings.Contains(c2.Unreachable, "c2") || len(c2.Objects) != 0 {
			t.Errorf("c2 = %+v, want unreachable, naming its context", c2)
		}
		if !p.Failed() || p.Summary.Unreachable != 1 {
			t.Errorf("summary %+v, Failed() = %v: want c2 unreachable, and the plan failed", p.Summary, p.Failed())
		}
		if want := "workload trainer: "; len(p.Warnings) == 0 || !strings.HasPrefix(p.Warnings[0], want) || !strings.Contains(p.Warnings[0], "c2") {
			t.Errorf("warnings %q, want c2's exclusion from the trainer", p.Warnings)
		}
		if !digestFormat.MatchString(p.SourceDigest) {
			t.Errorf("source digest %q", p.SourceDigest)
		}
		// The result carries what apply executes: the desired state the
		// plan was computed from, and the open connection.
		dc, ok := res.Desired.Cluster("c1")
		if !ok || len(dc.Objects) == 0 {
			t.Fatalf("Result.Desired has no objects for c1")
		}
		if conn := res.Observation.Conn("c1"); conn == nil || conn.Err != nil {
			t.Fatalf("Result.Observation has no connection to c1: %+v", conn)
		}
		if res.Topology != opts.Topology {
			t.Error("Result.Topology is not the topology planned")
		}
		return res, c1
	}

	// An empty cluster: everything is new. Only the Namespaces and the CRD
	// can be dry-run; what goes into a namespace that does not exist yet
	// is known new without asking.
	res, c1 := compute(t, labTopology(true), Options{})
	var want []string
	for _, o := range []string{
		"Namespace empty-ns", "Namespace kept-ns", "Namespace ml",
		"apiextensions.k8s.io/CustomResourceDefinition widgets.geofed.test",
		"ConfigMap empty-ns/cfg",
		"ConfigMap ml/draining", "ConfigMap ml/gone", "ConfigMap ml/leaving", "ConfigMap ml/old",
		"ConfigMap ml/recreated", "ConfigMap ml/trainer-config", "ConfigMap ml/unlabelled-now",
		"apps/Deployment ml/trainer",
	} {
		want = append(want, "create "+o)
	}
	if diff := cmp.Diff(want, actions(c1)); diff != "" {
		t.Fatalf("empty cluster (-want +got):\n%s", diff)
	}
	for _, o := range c1.Objects {
		if o.Namespace != "" && (o.DryRun || o.Reason != "namespace "+o.Namespace+" does not exist yet") {
			t.Errorf("%s: dry-run %v, reason %q; want known new, its namespace missing", o, o.DryRun, o.Reason)
		}
		if o.Namespace == "" && !o.DryRun {
			t.Errorf("%s: not dry-run", o)
		}
	}
	if s := res.Plan.Summary; s.ObjectsToCreate != 13 || !s.HasChanges() {
		t.Errorf("summary %+v, want 13 objects to create", s)
	}

	conn := res.Observation.Conn("c1")
	dc, _ := res.Desired.Cluster("c1")
	entries := applyDesired(t, conn, dc.Objects)
	writeInventory(t, conn.Dynamic, entries)

	// Applied and untouched: unchanged from the inventory alone, without a
	// dry-run; with a full refresh every object is dry-run, and still
	// none changed.
	_, c1 = compute(t, labTopology(true), Options{})
	_, full := compute(t, labTopology(true), Options{FullRefresh: true})
	for _, tc := range []struct {
		c      Cluster
		dryRun bool
	}{{c1, false}, {full, true}} {
		c, dryRun := tc.c, tc.dryRun
		for _, o := range c.Objects {
			if o.Action != object.ActionNoop || o.DryRun != dryRun || o.UID == "" || o.LiveResourceVersion == "" {
				t.Errorf("applied, full refresh %v: %s is %s (dry-run %v, uid %q, resourceVersion %q: %s), want unchanged",
					dryRun, o, o.Action, o.DryRun, o.UID, o.LiveResourceVersion, o.Reason)
			}
		}
		if c.InventoryVersion == "" {
			t.Error("no inventory version")
		}
	}
	if c1.Requests >= full.Requests {
		t.Errorf("planning from the inventory cost %d requests, a full refresh %d", c1.Requests, full.Requests)
	}

	// What happens between two applies.
	client := conn.Dynamic
	cms := client.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"})
	ml := cms.Namespace("ml")
	mustDo := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// The render changes, and the legacy workload leaves the topology.
	cfgPath := dir + "/apps/trainer/configmap.yaml"
	mustDo("editing the render", fs.WriteFile(cfgPath, []byte(strings.Replace(files[cfgPath], "level: info", "level: debug", 1))))
	mustDo("editing the render", fs.WriteFile(dir+"/apps/trainer/kustomization.yaml",
		[]byte(files[dir+"/apps/trainer/kustomization.yaml"]+"- shared.yaml\n- unlabelled.yaml\n")))
	mustDo("editing the render", fs.WriteFile(dir+"/apps/trainer/shared.yaml", []byte(configMap("ml", "shared", ""))))
	mustDo("editing the render", fs.WriteFile(dir+"/apps/trainer/unlabelled.yaml", []byte(configMap("ml", "unlabelled", ""))))
	// Someone scales the Deployment, taking spec.replicas from geofed.
	_, err := client.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace("ml").
		Patch(ctx, "trainer", types.MergePatchType, []byte(`{"spec":{"replicas":5}}`), metav1.PatchOptions{FieldManager: "kubectl-scale"})
	mustDo("scaling the Deployment", err)
	// What the render now adds exists already: another topology's, and
	// nobody's.
	mustDo("creating ml/shared", create(ctx, ml, configMap("ml", "shared", "labels: {geofed.io/topology: other}")))
	mustDo("creating ml/unlabelled", create(ctx, ml, configMap("ml", "unlabelled", "")))
	// Deleted, but held by their finalizers.
	mustDo("deleting ml/leaving", ml.Delete(ctx, "leaving", metav1.DeleteOptions{}))
	mustDo("deleting ml/draining", ml.Delete(ctx, "draining", metav1.DeleteOptions{}))
	// Deleted and applied again: another object under the same name.
	mustDo("deleting ml/recreated", ml.Delete(ctx, "recreated", metav1.DeleteOptions{}))
	for _, o := range dc.Objects {
		if o.Object.GetName() == "recreated" {
			applyDesired(t, conn, []desired.Object{o})
		}
	}
	// No longer geofed's by its labels, and gone.
	_, err = ml.Patch(ctx, "unlabelled-now", types.MergePatchType, []byte(`{"metadata":{"labels":{"`+object.LabelPartOf+`":null}}}`), metav1.PatchOptions{FieldManager: "kubectl-label"})
	mustDo("unlabelling ml/unlabelled-now", err)
	mustDo("deleting ml/gone", ml.Delete(ctx, "gone", metav1.DeleteOptions{}))
	// Recorded by an apply that never sent it, then made by someone else
	// with geofed's labels.
	mustDo("creating ml/never-sent", create(ctx, ml, configMap("ml", "never-sent",
		fmt.Sprintf("labels: {%s: lab, %s: %s}", object.LabelTopology, object.LabelPartOf, inventory.ID("lab")))))
	writeInventory(t, client, append(entries, inventory.Entry{Version: "v1", Kind: "ConfigMap", Namespace: "ml", Name: "never-sent"}))
	// What a person made in a Namespace and of a CRD geofed applied.
	mustDo("creating kept-ns/notes", create(ctx, cms.Namespace("kept-ns"), configMap("kept-ns", "notes", "")))
	widgets := client.Resource(schema.GroupVersionResource{Group: "geofed.test", Version: "v1", Resource: "widgets"}).Namespace("ml")
	mustDo("creating Widget ml/spare", wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		// Until the CRD is established, the resource is not served.
		return create(ctx, widgets, "apiVersion: geofed.test/v1\nkind: Widget\nmetadata: {name: spare, namespace: ml}\n") == nil, nil
	}))

	res, c1 = compute(t, labTopology(false), Options{Diff: true})
	want = []string{
		"noop Namespace ml",
		"being-deleted ConfigMap ml/leaving",
		"foreign ConfigMap ml/shared",
		"update ConfigMap ml/trainer-config",
		"update ConfigMap ml/unlabelled",
		"conflict apps/Deployment ml/trainer",
		// The prunes, in apply order: apply deletes them in reverse. The
		// legacy objects that are gone or no longer labelled are not
		// listed: nothing to delete.
		"delete Namespace empty-ns",
		"keep Namespace kept-ns",
		"keep apiextensions.k8s.io/CustomResourceDefinition widgets.geofed.test",
		"delete ConfigMap empty-ns/cfg",
		"being-deleted ConfigMap ml/draining",
		"attention ConfigMap ml/never-sent",
		"delete ConfigMap ml/old",
		"attention ConfigMap ml/recreated",
	}
	if diff := cmp.Diff(want, actions(c1)); diff != "" {
		t.Fatalf("between two applies (-want +got):\n%s", diff)
	}
	reasons := map[string]string{
		"ConfigMap ml/leaving":    "being deleted: apply leaves it alone; re-run apply once it is gone",
		"ConfigMap ml/shared":     "belongs to topology other: apply takes it only with --adopt",
		"ConfigMap ml/unlabelled": "exists, not applied by geofed: apply adopts it",
		"Namespace empty-ns":      "applied by geofed, no longer rendered",
		"Namespace kept-ns":       "kept — holds 1 object geofed did not apply: ConfigMap notes",
		"apiextensions.k8s.io/CustomResourceDefinition widgets.geofed.test": "kept — holds 1 object geofed did not apply: geofed.test/Widget ml/spare",
		"ConfigMap empty-ns/cfg":      "applied by geofed, no longer rendered",
		"ConfigMap ml/draining":       "being deleted",
		"ConfigMap ml/never-sent":     "not deleted: geofed never applied it (no kubectl-geofed field manager); geofed forgets it",
		"ConfigMap ml/old":            "applied by geofed, no longer rendered",
		"ConfigMap ml/trainer-config": "",
	}
	for name, reason := range reasons {
		if o := planned(t, c1, name); o.Reason != reason {
			t.Errorf("%s: reason %q, want %q", name, o.Reason, reason)
		}
	}
	recorded := map[string]types.UID{}
	for _, e := range entries {
		recorded[e.Key()] = e.UID
	}
	re := planned(t, c1, "ConfigMap ml/recreated")
	if want := fmt.Sprintf("not deleted: re-created since geofed applied it (uid %s, now %s); geofed forgets it", recorded[re.Key()], re.UID); re.Reason != want {
		t.Errorf("ConfigMap ml/recreated: reason %q, want %q", re.Reason, want)
	}
	// Apply deletes with the UID planned as a precondition: the live one.
	for _, o := range c1.Objects {
		if o.Action != object.ActionDelete {
			continue
		}
		if o.UID == "" || types.UID(o.UID) != recorded[o.Key()] || o.Workload != "legacy" || o.DesiredHash != "" {
			t.Errorf("%s: uid %q (applied %q), workload %q, desired hash %q", o, o.UID, recorded[o.Key()], o.Workload, o.DesiredHash)
		}
	}
	cfg := planned(t, c1, "ConfigMap ml/trainer-config")
	if diff := cmp.Diff([]FieldChange{{Path: "data.level", Before: "info", After: "debug"}}, onlyData(cfg.Changes)); diff != "" {
		t.Errorf("ConfigMap ml/trainer-config changes (-want +got):\n%s", diff)
	}
	if !strings.Contains(cfg.Diff, "+  level: debug") {
		t.Errorf("ConfigMap ml/trainer-config: no unified diff of the level:\n%s", cfg.Diff)
	}
	dep := planned(t, c1, "apps/Deployment ml/trainer")
	if !strings.Contains(dep.Reason, `"kubectl-scale"`) || !strings.Contains(dep.Reason, "--force-conflicts") {
		t.Errorf("apps/Deployment ml/trainer: reason %q, want it to name kubectl-scale and --force-conflicts", dep.Reason)
	}
	if diff := cmp.Diff([]FieldChange{{Path: "spec.replicas", Before: "5", After: "2"}}, dep.Changes); diff != "" {
		t.Errorf("apps/Deployment ml/trainer changes (-want +got):\n%s", diff)
	}
	wantSummary := Summary{ObjectsToChange: 3, ObjectsToDelete: 3, Conflicts: 1, Unreachable: 1, Attention: 7}
	if diff := cmp.Diff(wantSummary, res.Plan.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}

	// --adopt takes another topology's object: forcing the label it owns.
	_, c1 = compute(t, labTopology(false), Options{Adopt: true})
	shared := planned(t, c1, "ConfigMap ml/shared")
	if shared.Action != object.ActionConflict || !strings.Contains(shared.Reason, "adopted from topology other (--adopt)") {
		t.Errorf("ConfigMap ml/shared with --adopt: %s (%s), want a conflict adopted from topology other", shared.Action, shared.Reason)
	}
}

// onlyData keeps the changes under data: the rest are the labels and the
// applied-hash annotation, which move with every render.
func onlyData(changes []FieldChange) []FieldChange {
	var out []FieldChange
	for _, c := range changes {
		if strings.HasPrefix(c.Path, "data.") {
			out = append(out, c)
		}
	}
	return out
}

// applyDesired server-side applies objs in order as geofed's field manager
// and returns their inventory entries as apply records them.
func applyDesired(t *testing.T, conn *member.Conn, objs []desired.Object) []inventory.Entry {
	t.Helper()
	ctx := context.Background()
	var entries []inventory.Entry
	for _, o := range objs {
		gvk := o.Object.GroupVersionKind()
		m, err := conn.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("mapping %s: %v", object.Describe(o.Object), err)
		}
		var rc dynamic.ResourceInterface = conn.Dynamic.Resource(m.Resource)
		if ns := o.Object.GetNamespace(); ns != "" {
			rc = conn.Dynamic.Resource(m.Resource).Namespace(ns)
		}
		live, err := rc.Apply(ctx, o.Object.GetName(), o.Object, metav1.ApplyOptions{FieldManager: object.FieldManager})
		if err != nil {
			t.Fatalf("applying %s: %v", object.Describe(o.Object), err)
		}
		entries = append(entries, inventory.Entry{
			Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: live.GetNamespace(), Name: live.GetName(),
			UID: live.GetUID(), AppliedHash: o.Hash, FieldsDigest: inventory.FieldsDigest(live, object.FieldManager),
		})
	}
	return entries
}

// writeInventory records entries as the lab topology's inventory.
func writeInventory(t *testing.T, client dynamic.Interface, entries []inventory.Entry) {
	t.Helper()
	parent, err := inventory.Parent("lab", entries)
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(inventory.ParentNamespace).
		Apply(context.Background(), parent.GetName(), parent, metav1.ApplyOptions{FieldManager: object.FieldManager, Force: true})
	if err != nil {
		t.Fatalf("writing the inventory: %v", err)
	}
}

// create makes the object in manifest as someone other than geofed would.
func create(ctx context.Context, rc dynamic.ResourceInterface, manifest string) error {
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &u.Object); err != nil {
		return err
	}
	_, err := rc.Create(ctx, u, metav1.CreateOptions{FieldManager: "kubectl-create"})
	return err
}

// TestFieldsDigestWholeAndMetadata checks that an object read whole (JSON,
// as apply records it) and listed as metadata (protobuf, as plan lists it)
// give the same managedFields digest: otherwise every plan would dry-run
// every object, or worse, miss a change.
func TestFieldsDigestWholeAndMetadata(t *testing.T) {
	_, clusters := labtest.New(t, lab.ClusterSpec{Name: "digest", APIServerOnly: true})
	cfg := clusters[0].RESTConfig()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	dep := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default, labels: {app: web, geofed.io/topology: t}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}, annotations: {b: "2", a: "1"}}
    spec:
      containers:
      - {name: web, image: web:1, ports: [{containerPort: 8080}, {containerPort: 9090, name: metrics}], env: [{name: Z, value: z}, {name: A, value: a}]}
`), &dep.Object); err != nil {
		t.Fatal(err)
	}
	applied, err := dyn.Resource(gvr).Namespace("default").Apply(t.Context(), "web", dep, metav1.ApplyOptions{FieldManager: object.FieldManager})
	if err != nil {
		t.Fatal(err)
	}
	list, err := md.Resource(gvr).Namespace("default").List(t.Context(), metav1.ListOptions{LabelSelector: "geofed.io/topology=t"})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("metadata LIST: %d items, %v", len(list.Items), err)
	}
	whole, meta := inventory.FieldsDigest(applied, object.FieldManager), inventory.FieldsDigest(&list.Items[0], object.FieldManager)
	if whole == "" || whole != meta {
		t.Errorf("digest of the applied object %q, of its metadata listed %q: want them equal and set", whole, meta)
	}
	if other := inventory.FieldsDigest(&list.Items[0], "someone-else"); other != "" {
		t.Errorf("digest for a manager with no entry: %q, want none", other)
	}
}
