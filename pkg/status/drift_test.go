package status

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// parse reads a YAML manifest as the API machinery does: whole numbers are
// int64.
func parse(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(j); err != nil {
		t.Fatal(err)
	}
	return obj
}

// geofedFields is what geofed's Apply entry owns in the fixtures below,
// and takenReplicas the same entry once kubectl scale took spec.replicas.
const (
	geofedFields  = `{"f:metadata":{"f:annotations":{"f:geofed.io/applied-hash":{}}},"f:spec":{"f:replicas":{},"f:template":{}}}`
	takenReplicas = `{"f:metadata":{"f:annotations":{"f:geofed.io/applied-hash":{}}},"f:spec":{"f:template":{}}}`
)

// rendered is a desired object as package desired makes it: with its
// applied-hash, by the real function.
func rendered(t *testing.T, workload, doc string) desired.Object {
	t.Helper()
	obj := parse(t, doc)
	hash, err := inventory.AppliedHash(obj)
	if err != nil {
		t.Fatal(err)
	}
	obj.SetAnnotations(map[string]string{object.AnnotationAppliedHash: hash})
	obj.SetLabels(map[string]string{object.LabelWorkload: workload})
	return desired.Object{Workload: workload, Hash: hash, Object: obj}
}

// applied is d as the server returns it after geofed applied it (uid,
// geofed's managedFields entry), and the inventory entry apply records for
// it, both by the real functions apply uses.
func applied(d desired.Object, uid string) (*unstructured.Unstructured, inventory.Entry) {
	live := d.Object.DeepCopy()
	live.SetUID(types.UID(uid))
	setManager(live, object.FieldManager, metav1.ManagedFieldsOperationApply, geofedFields)
	gvk := live.GroupVersionKind()
	return live, inventory.Entry{
		Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: live.GetNamespace(), Name: live.GetName(),
		UID:          live.GetUID(),
		AppliedHash:  inventory.RecordedHash(d.Object, d.Hash),
		FieldsDigest: inventory.FieldsDigest(live, object.FieldManager),
	}
}

// setManager sets (or, with fields "", removes) a manager's entry.
func setManager(obj *unstructured.Unstructured, manager string, op metav1.ManagedFieldsOperationType, fields string) {
	var out []metav1.ManagedFieldsEntry
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager != manager {
			out = append(out, mf)
		}
	}
	if fields != "" {
		out = append(out, metav1.ManagedFieldsEntry{Manager: manager, Operation: op, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}})
	}
	obj.SetManagedFields(out)
}

const (
	deployDoc = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: serving}\nspec: {replicas: 2}\n"
	secretDoc = "apiVersion: v1\nkind: Secret\nmetadata: {name: token, namespace: serving}\ndata: {token: c2VjcmV0LXZhbHVl}\n"
	nsDoc     = "apiVersion: v1\nkind: Namespace\nmetadata: {name: serving}\n"
)

func TestDriftOf(t *testing.T) {
	deploy := rendered(t, "api", deployDoc)
	secret := rendered(t, "api", secretDoc)
	ns := rendered(t, "api", nsDoc)
	const deployName = "apps/Deployment serving/api"

	type fixture struct {
		entries []inventory.Entry
		live    []*unstructured.Unstructured
		desired []desired.Object
		unknown bool // placement unknown: nothing is desired for sure
		planned []plan.Object
	}
	// asApplied is every object as geofed applied it, all still rendered.
	asApplied := func(edit func(live map[string]*unstructured.Unstructured, entries map[string]*inventory.Entry)) fixture {
		f := fixture{desired: []desired.Object{ns, deploy, secret}}
		lives := map[string]*unstructured.Unstructured{}
		entries := map[string]*inventory.Entry{}
		var order []string
		for i, d := range f.desired {
			l, e := applied(d, "uid-"+string(rune('a'+i)))
			lives[d.Object.GetKind()], entries[d.Object.GetKind()] = l, &e
			order = append(order, d.Object.GetKind())
		}
		if edit != nil {
			edit(lives, entries)
		}
		for _, k := range order {
			if lives[k] != nil {
				f.live = append(f.live, lives[k])
			}
			f.entries = append(f.entries, *entries[k])
		}
		return f
	}
	noop := func(d desired.Object) plan.Object {
		return plan.Object{Action: object.ActionNoop, Kind: d.Object.GetKind(), Group: d.Object.GroupVersionKind().Group, Namespace: d.Object.GetNamespace(), Name: d.Object.GetName(), DryRun: true}
	}

	tests := []struct {
		name string
		f    fixture
		want []string // "object: reason"
	}{
		{name: "as applied", f: asApplied(nil)},
		{name: "kubectl scale took spec.replicas", f: asApplied(func(l map[string]*unstructured.Unstructured, _ map[string]*inventory.Entry) {
			setManager(l["Deployment"], object.FieldManager, metav1.ManagedFieldsOperationApply, takenReplicas)
			setManager(l["Deployment"], "kubectl", metav1.ManagedFieldsOperationUpdate, `{"f:spec":{"f:replicas":{}}}`)
		}), want: []string{deployName + ": fields geofed set were changed by another field manager"}},
		{name: "geofed's entry gone", f: asApplied(func(l map[string]*unstructured.Unstructured, _ map[string]*inventory.Entry) {
			setManager(l["Deployment"], object.FieldManager, "", "")
		}), want: []string{deployName + ": geofed no longer manages any of its fields"}},
		{name: "another applied-hash", f: asApplied(func(l map[string]*unstructured.Unstructured, _ map[string]*inventory.Entry) {
			l["Deployment"].SetAnnotations(map[string]string{object.AnnotationAppliedHash: "sha256:0000"})
		}), want: []string{deployName + ": its geofed.io/applied-hash is not the one geofed's inventory records"}},
		{name: "writes to fields geofed never set are no drift", f: asApplied(func(l map[string]*unstructured.Unstructured, _ map[string]*inventory.Entry) {
			setManager(l["Deployment"], "kube-controller-manager", metav1.ManagedFieldsOperationUpdate, `{"f:metadata":{"f:annotations":{"f:deployment.kubernetes.io/revision":{}}}}`)
			l["Deployment"].SetLabels(map[string]string{object.LabelWorkload: "api", "team": "x"})
		})},
		{name: "re-created under the same name", f: asApplied(func(l map[string]*unstructured.Unstructured, _ map[string]*inventory.Entry) {
			l["Deployment"].SetUID("uid-new")
		}), want: []string{deployName + ": re-created since geofed applied it (another UID)"}},
		{name: "deleted, still rendered", f: asApplied(func(l map[string]*unstructured.Unstructured, _ map[string]*inventory.Entry) {
			delete(l, "Deployment")
		}), want: []string{deployName + ": deleted since geofed applied it, or no longer labelled geofed.io/topology"}},
		{name: "being deleted: readiness says so", f: asApplied(func(l map[string]*unstructured.Unstructured, _ map[string]*inventory.Entry) {
			now := metav1.Now()
			l["Deployment"].SetDeletionTimestamp(&now)
			l["Deployment"].SetUID("uid-new")
		})},
		{name: "recorded before it was sent", f: asApplied(func(l map[string]*unstructured.Unstructured, e map[string]*inventory.Entry) {
			delete(l, "Deployment")
			e["Deployment"].UID = ""
		})},
		{name: "recorded without a digest", f: asApplied(func(_ map[string]*unstructured.Unstructured, e map[string]*inventory.Entry) {
			e["Deployment"].FieldsDigest = ""
		}), want: []string{deployName + ": geofed's inventory records no managedFields digest for it"}},
		{name: "a Secret's value edited, never shown", f: asApplied(func(l map[string]*unstructured.Unstructured, _ map[string]*inventory.Entry) {
			l["Secret"].Object["data"] = map[string]any{"token": "bGVha2Vk"}
			setManager(l["Secret"], object.FieldManager, metav1.ManagedFieldsOperationApply, `{"f:metadata":{"f:annotations":{"f:geofed.io/applied-hash":{}}}}`)
			setManager(l["Secret"], "kubectl-patch", metav1.ManagedFieldsOperationUpdate, `{"f:data":{"f:token":{}}}`)
		}), want: []string{"Secret serving/token: fields geofed set were changed by another field manager"}},
		{name: "several, in plan order", f: asApplied(func(l map[string]*unstructured.Unstructured, _ map[string]*inventory.Entry) {
			l["Secret"].SetUID("uid-new")
			l["Deployment"].SetUID("uid-new")
			l["Namespace"].SetUID("uid-new")
		}), want: []string{
			"Namespace serving: re-created since geofed applied it (another UID)",
			deployName + ": re-created since geofed applied it (another UID)",
			"Secret serving/token: re-created since geofed applied it (another UID)",
		}},
	}

	// Objects geofed no longer renders: pruned by the next apply, so gone
	// is no drift; changed still is.
	gone := asApplied(func(l map[string]*unstructured.Unstructured, _ map[string]*inventory.Entry) { delete(l, "Deployment") })
	gone.desired = []desired.Object{ns, secret}
	tests = append(tests, struct {
		name string
		f    fixture
		want []string
	}{name: "deleted, no longer rendered", f: gone})
	unknown := asApplied(func(l map[string]*unstructured.Unstructured, _ map[string]*inventory.Entry) {
		delete(l, "Deployment")
		l["Secret"].SetUID("uid-new")
	})
	unknown.desired, unknown.unknown = nil, true
	tests = append(tests, struct {
		name string
		f    fixture
		want []string
	}{name: "placement unknown: only changes count", f: unknown, want: []string{"Secret serving/token: re-created since geofed applied it (another UID)"}})

	// --refresh=full: plan's dry-run decides where it can.
	scaled := func(planned ...plan.Object) fixture {
		f := asApplied(func(l map[string]*unstructured.Unstructured, _ map[string]*inventory.Entry) {
			setManager(l["Deployment"], object.FieldManager, metav1.ManagedFieldsOperationApply, takenReplicas)
		})
		f.planned = planned
		return f
	}
	deployPlanned := func(action object.Action, reason string, changes ...plan.FieldChange) plan.Object {
		o := noop(deploy)
		o.Action, o.Reason, o.Changes = action, reason, changes
		return o
	}
	const conflict = `conflict with "kubectl" with subresource "scale" using apps/v1: apply needs --force-conflicts to take these fields back`
	replicas := plan.FieldChange{Path: "spec.replicas", Before: "7", After: "2"}
	full := []struct {
		name string
		f    fixture
		want []string
	}{
		{"full: the dry-run finds nothing, whatever the digest", scaled(noop(ns), deployPlanned(object.ActionNoop, ""), noop(secret)), nil},
		{"full: a conflict names the manager", scaled(noop(ns), deployPlanned(object.ActionConflict, conflict, replicas), noop(secret)),
			[]string{deployName + ": " + conflict}},
		{"full: changed against the manifest geofed applied", scaled(noop(ns), deployPlanned(object.ActionUpdate, "changed outside geofed", replicas), noop(secret)),
			[]string{deployName + ": changed outside geofed: spec.replicas"}},
	}
	// The topology changed since the apply: the dry-run compares with the
	// new manifest, so the inventory decides.
	moved := asApplied(nil)
	moved.desired = []desired.Object{ns, rendered(t, "api", strings.Replace(deployDoc, "replicas: 2", "replicas: 5", 1)), secret}
	moved.planned = []plan.Object{noop(ns), deployPlanned(object.ActionUpdate, "", plan.FieldChange{Path: "spec.replicas", Before: "2", After: "5"}), noop(secret)}
	full = append(full, struct {
		name string
		f    fixture
		want []string
	}{"full: a new manifest is no drift", moved, nil})
	movedAndScaled := scaled(noop(ns), deployPlanned(object.ActionUpdate, "", plan.FieldChange{Path: "spec.replicas", Before: "7", After: "5"}), noop(secret))
	movedAndScaled.desired = moved.desired
	full = append(full, struct {
		name string
		f    fixture
		want []string
	}{"full: a new manifest over a hand edit", movedAndScaled, []string{deployName + ": fields geofed set were changed by another field manager"}})
	tests = append(tests, full...)

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := map[string]*unstructured.Unstructured{}
			for _, l := range tt.f.live {
				live[object.KeyOf(l)] = l
			}
			in := driftInput{entries: tt.f.entries, live: live, desired: tt.f.desired, desiredKnown: !tt.f.unknown}
			if tt.f.planned != nil {
				in.planned = &plan.Cluster{Objects: tt.f.planned}
			}
			d := driftOf(in)
			var got []string
			for _, o := range d.Objects {
				got = append(got, object.Name(o.Group, o.Kind, o.Namespace, o.Name)+": "+o.Reason)
				if o.Workload != "api" && o.Reason != "" && !strings.HasPrefix(o.Reason, "deleted") {
					t.Errorf("%s: workload %q, want api (from its label)", o.Name, o.Workload)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" || d.Count != len(tt.want) {
				t.Errorf("driftOf: count %d (-want +got):\n%s", d.Count, diff)
			}
			for _, o := range d.Objects {
				if strings.Contains(o.Reason, "bGVha2Vk") || strings.Contains(o.Reason, "c2VjcmV0") {
					t.Errorf("a drift reason shows a Secret value: %q", o.Reason)
				}
			}
		})
	}
}
