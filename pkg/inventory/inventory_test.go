package inventory

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	kubectlapply "k8s.io/kubectl/pkg/cmd/apply"
)

// applySetID is the ApplySet specification's (KEP-3659) parent id, written
// out independently of kubectl: base64url(sha256("<name>.<namespace>.<kind>.<group>"))
// between "applyset-" and "-v1". A ConfigMap is in the core group, "".
func applySetID(name, namespace string) string {
	sum := sha256.Sum256([]byte(name + "." + namespace + ".ConfigMap."))
	return "applyset-" + base64.RawURLEncoding.EncodeToString(sum[:]) + "-v1"
}

func TestID(t *testing.T) {
	seen := map[string]string{}
	for _, topology := range []string{"ai-platform", "a", "serving-eu-and-us-with-a-long-name-0123456789"} {
		t.Run(topology, func(t *testing.T) {
			got := ID(topology)
			if want := applySetID("geofed-"+topology, "kube-system"); got != want {
				t.Errorf("ID(%q) = %q, want %q", topology, got, want)
			}
			// kubectl's own implementation agrees, so `kubectl apply
			// --applyset` and geofed name the same set.
			parent := &kubectlapply.ApplySetParentRef{
				Name:      ParentName(topology),
				Namespace: ParentNamespace,
				RESTMapping: &meta.RESTMapping{
					Resource:         configMapGVR,
					GroupVersionKind: schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"},
					Scope:            meta.RESTScopeNamespace,
				},
			}
			if want := kubectlapply.NewApplySet(parent, kubectlapply.ApplySetTooling{}, nil, nil).ID(); got != want {
				t.Errorf("ID(%q) = %q, kubectl's %q", topology, got, want)
			}
			// It is a label value on every member.
			if errs := validation.IsValidLabelValue(got); len(errs) > 0 {
				t.Errorf("ID(%q) = %q is not a valid label value: %v", topology, got, errs)
			}
			if other, dup := seen[got]; dup {
				t.Errorf("ID(%q) = ID(%q)", topology, other)
			}
			seen[got] = topology
		})
	}
}

func TestParentName(t *testing.T) {
	if got := ParentName("ai-platform"); got != "geofed-ai-platform" {
		t.Errorf("ParentName = %q", got)
	}
}

// decode reads a parent the way Read does once the server returned it: the
// object as JSON, the entries from data[inventory.json].
func decode(t *testing.T, parent *unstructured.Unstructured) (*unstructured.Unstructured, []Entry) {
	t.Helper()
	raw, err := parent.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	served := &unstructured.Unstructured{}
	if err := served.UnmarshalJSON(raw); err != nil {
		t.Fatal(err)
	}
	data, found, err := unstructured.NestedString(served.Object, "data", dataKey)
	if err != nil || !found {
		t.Fatalf("data[%s]: found %v, err %v", dataKey, found, err)
	}
	var entries []Entry
	if err := json.Unmarshal([]byte(data), &entries); err != nil {
		t.Fatalf("decoding data[%s]: %v", dataKey, err)
	}
	return served, entries
}

func TestParent(t *testing.T) {
	entries := []Entry{
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "ml", Name: "trainer", AppliedHash: "sha256:a", FieldsDigest: "sha256:1"},
		{Version: "v1", Kind: "Namespace", Name: "ml", AppliedHash: "sha256:b", FieldsDigest: "sha256:2"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "serving", Name: "flags", AppliedHash: "sha256:c", FieldsDigest: "sha256:3"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "kube-system", Name: "agent", AppliedHash: "sha256:d", FieldsDigest: "sha256:4"},
		{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition", Name: "runs.ml.io", AppliedHash: "sha256:e", FieldsDigest: "sha256:5"},
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "serving", Name: "api", AppliedHash: "sha256:f", FieldsDigest: "sha256:6"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "ml", Name: "trainer-config", AppliedHash: "sha256:g", FieldsDigest: ""},
	}
	given := append([]Entry(nil), entries...)

	parent, err := Parent("ai-platform", entries)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(given, entries); diff != "" {
		t.Errorf("Parent reordered its argument (-before +after):\n%s", diff)
	}

	served, got := decode(t, parent)
	if served.GetAPIVersion() != "v1" || served.GetKind() != "ConfigMap" ||
		served.GetNamespace() != "kube-system" || served.GetName() != "geofed-ai-platform" {
		t.Errorf("parent is %s %s %s/%s, want v1 ConfigMap kube-system/geofed-ai-platform",
			served.GetAPIVersion(), served.GetKind(), served.GetNamespace(), served.GetName())
	}
	wantLabels := map[string]string{
		"applyset.kubernetes.io/id":    applySetID("geofed-ai-platform", "kube-system"),
		"app.kubernetes.io/managed-by": "kubectl-geofed",
		"geofed.io/topology":           "ai-platform",
	}
	if diff := cmp.Diff(wantLabels, served.GetLabels()); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	wantAnnotations := map[string]string{
		"applyset.kubernetes.io/tooling":               "kubectl-geofed/v1",
		"applyset.kubernetes.io/contains-group-kinds":  "ConfigMap,CustomResourceDefinition.apiextensions.k8s.io,Deployment.apps,Namespace",
		"applyset.kubernetes.io/additional-namespaces": "ml,serving",
	}
	if diff := cmp.Diff(wantAnnotations, served.GetAnnotations()); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	// Read refuses a parent whose tooling is not geofed's.
	if tool := served.GetAnnotations()["applyset.kubernetes.io/tooling"]; !strings.HasPrefix(tool, "kubectl-geofed/") {
		t.Errorf("tooling %q would be refused by Read", tool)
	}

	// Entries come back sorted by key, so the data is deterministic.
	wantEntries := []Entry{
		entries[3], // /ConfigMap/kube-system/agent
		entries[6], // /ConfigMap/ml/trainer-config
		entries[2], // /ConfigMap/serving/flags
		entries[1], // /Namespace//ml
		entries[4], // apiextensions.k8s.io/CustomResourceDefinition//runs.ml.io
		entries[0], // apps/Deployment/ml/trainer
		entries[5], // apps/Deployment/serving/api
	}
	if diff := cmp.Diff(wantEntries, got); diff != "" {
		t.Errorf("decoded entries (-want +got):\n%s", diff)
	}

	// The same entries in another order make the same parent.
	reversed := make([]Entry, len(entries))
	for i, e := range entries {
		reversed[len(entries)-1-i] = e
	}
	again, err := Parent("ai-platform", reversed)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(parent.Object, again.Object); diff != "" {
		t.Errorf("Parent depends on entry order (-first +reversed):\n%s", diff)
	}
}

func TestParentEmpty(t *testing.T) {
	parent, err := Parent("ai-platform", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, entries := decode(t, parent)
	if len(entries) != 0 {
		t.Errorf("empty parent decodes to %d entries", len(entries))
	}
	ann := parent.GetAnnotations()
	for _, key := range []string{"applyset.kubernetes.io/contains-group-kinds", "applyset.kubernetes.io/additional-namespaces"} {
		if v, ok := ann[key]; !ok || v != "" {
			t.Errorf("annotation %s = %q (present %v), want present and empty", key, v, ok)
		}
	}
}

func TestKeysAndLookup(t *testing.T) {
	dep := &unstructured.Unstructured{}
	dep.SetAPIVersion("apps/v1")
	dep.SetKind("Deployment")
	dep.SetNamespace("ml")
	dep.SetName("trainer")
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName("ml")

	depEntry := Entry{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "ml", Name: "trainer", AppliedHash: "sha256:a"}
	nsEntry := Entry{Version: "v1", Kind: "Namespace", Name: "ml", AppliedHash: "sha256:b"}
	for _, tt := range []struct {
		obj   *unstructured.Unstructured
		entry Entry
		want  string
	}{
		{dep, depEntry, "apps/Deployment/ml/trainer"},
		{ns, nsEntry, "/Namespace//ml"},
	} {
		if got := object.KeyOf(tt.obj); got != tt.want {
			t.Errorf("ObjectKey = %q, want %q", got, tt.want)
		}
		if got := tt.entry.Key(); got != tt.want {
			t.Errorf("Entry.Key = %q, want %q", got, tt.want)
		}
	}

	inv := &Inventory{Entries: []Entry{nsEntry, depEntry}}
	if e, ok := inv.Lookup(object.KeyOf(dep)); !ok || e != depEntry {
		t.Errorf("Lookup(Deployment) = %+v, %v", e, ok)
	}
	// Another version of the same object is the same object.
	depV2 := dep.DeepCopy()
	depV2.SetAPIVersion("apps/v1beta2")
	if _, ok := inv.Lookup(object.KeyOf(depV2)); !ok {
		t.Error("Lookup misses the object under another version")
	}
	other := dep.DeepCopy()
	other.SetNamespace("serving")
	if e, ok := inv.Lookup(object.KeyOf(other)); ok {
		t.Errorf("Lookup(serving/trainer) found %+v", e)
	}
}
