package plan

import (
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

func TestComparable(t *testing.T) {
	live := &unstructured.Unstructured{Object: obj(t, `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ml
  labels: {app: web}
  annotations: {geofed.io/applied-hash: "sha256:abc"}
  managedFields:
  - manager: kubectl-geofed
    operation: Apply
    fieldsType: FieldsV1
    fieldsV1: {"f:spec": {"f:replicas": {}}}
  resourceVersion: "42"
  generation: 3
  uid: 0d6f2b8e-1111-2222-3333-444455556666
  creationTimestamp: "2025-01-02T03:04:05Z"
  selfLink: /apis/apps/v1/namespaces/ml/deployments/web
spec:
  replicas: 2
status:
  readyReplicas: 2
`)}
	original := live.DeepCopy()

	got := comparable(live)

	want := obj(t, `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ml
  labels: {app: web}
  annotations: {geofed.io/applied-hash: "sha256:abc"}
spec:
  replicas: 2
`)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("comparable (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(original.Object, live.Object); diff != "" {
		t.Errorf("comparable changed its argument (-before +after):\n%s", diff)
	}
}

func TestComparableWithoutMetadata(t *testing.T) {
	got := comparable(&unstructured.Unstructured{Object: map[string]interface{}{"kind": "X", "status": "s"}})
	if diff := cmp.Diff(map[string]interface{}{"kind": "X"}, got); diff != "" {
		t.Errorf("comparable (-want +got):\n%s", diff)
	}
}

// withManagedFields returns a ConfigMap ml/cfg with the applied-hash
// annotation hash and geofed's Apply entry owning fields.
func withManagedFields(t *testing.T, hash, fields string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{Object: obj(t, `
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: ml
data:
  k: v
`)}
	if hash != "" {
		u.SetAnnotations(map[string]string{object.AnnotationAppliedHash: hash})
	}
	u.SetManagedFields([]metav1.ManagedFieldsEntry{
		{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, FieldsType: "FieldsV1",
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:annotations":{"f:rev":{}}}}`)}},
		{Manager: object.FieldManager, Operation: metav1.ManagedFieldsOperationApply, FieldsType: "FieldsV1",
			FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}},
	})
	return u
}

func TestUnchanged(t *testing.T) {
	const (
		hash      = "sha256:0123456789abcdef0123456789abcdef"
		other     = "sha256:ffffffffffffffffffffffffffffffff"
		fields    = `{"f:data":{"f:k":{}}}`
		fewer     = `{"f:data":{}}`
		otherName = "cfg-2"
	)
	want := desired.Object{Workload: "w", Hash: hash, Object: withManagedFields(t, hash, fields)}
	recorded := inventory.FieldsDigest(withManagedFields(t, hash, fields), object.FieldManager)
	if recorded == "" {
		t.Fatal("fixture has no geofed managedFields digest")
	}
	entry := func(name, applied, digest string) inventory.Entry {
		return inventory.Entry{Version: "v1", Kind: "ConfigMap", Namespace: "ml", Name: name, AppliedHash: applied, FieldsDigest: digest}
	}
	tests := []struct {
		name    string
		live    *unstructured.Unstructured
		entries []inventory.Entry
		want    bool
	}{
		{
			name:    "hash and managedFields digest as recorded",
			live:    withManagedFields(t, hash, fields),
			entries: []inventory.Entry{entry("cfg", hash, recorded)},
			want:    true,
		},
		{
			name:    "live annotation differs from the desired hash",
			live:    withManagedFields(t, other, fields),
			entries: []inventory.Entry{entry("cfg", hash, recorded)},
		},
		{
			name:    "live object has no applied-hash annotation",
			live:    withManagedFields(t, "", fields),
			entries: []inventory.Entry{entry("cfg", hash, recorded)},
		},
		{
			name:    "no inventory entry for the object",
			live:    withManagedFields(t, hash, fields),
			entries: []inventory.Entry{entry(otherName, hash, recorded)},
		},
		{
			name: "empty inventory",
			live: withManagedFields(t, hash, fields),
		},
		{
			name:    "entry has no fields digest",
			live:    withManagedFields(t, hash, fields),
			entries: []inventory.Entry{entry("cfg", hash, "")},
		},
		{
			name:    "entry recorded another applied hash",
			live:    withManagedFields(t, hash, fields),
			entries: []inventory.Entry{entry("cfg", other, recorded)},
		},
		{
			name:    "another writer took a field out of geofed's entry",
			live:    withManagedFields(t, hash, fewer),
			entries: []inventory.Entry{entry("cfg", hash, recorded)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &inventory.Inventory{Topology: "ai", Exists: true, Entries: tt.entries}
			if got := unchanged(want, tt.live, inv); got != tt.want {
				t.Errorf("unchanged = %v, want %v", got, tt.want)
			}
			// Listed as metadata alone, as plan lists, it is judged alike.
			meta := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
				Name: tt.live.GetName(), Namespace: tt.live.GetNamespace(),
				Annotations: tt.live.GetAnnotations(), ManagedFields: tt.live.GetManagedFields(),
			}}
			if got := unchanged(want, meta, inv); got != tt.want {
				t.Errorf("unchanged, from metadata = %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("geofed has no Apply entry any more", func(t *testing.T) {
		live := withManagedFields(t, hash, fields)
		mf := live.GetManagedFields()
		mf[1].Operation = metav1.ManagedFieldsOperationUpdate
		live.SetManagedFields(mf)
		inv := &inventory.Inventory{Entries: []inventory.Entry{entry("cfg", hash, recorded)}}
		if unchanged(want, live, inv) {
			t.Error("unchanged = true for an object geofed no longer applies")
		}
	})
}

func TestObjectLess(t *testing.T) {
	want := []Object{
		{Kind: "Namespace", Name: "a"},
		{Kind: "Namespace", Name: "b"},
		{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition", Name: "jobs.ml.io"},
		{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition", Name: "runs.ml.io"},
		// Cluster-scoped objects (namespace "") come before namespaced
		// ones, by kind. The example.io kinds are not the core Namespace
		// nor the apiextensions CRD: they get no tier of their own.
		{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "reader"},
		{Group: "example.io", Kind: "CustomResourceDefinition", Name: "fake"},
		{Group: "example.io", Kind: "Namespace", Name: "fake"},
		{Kind: "ConfigMap", Namespace: "a", Name: "z"},
		{Kind: "ConfigMap", Namespace: "ml", Name: "a"},
		{Kind: "ConfigMap", Namespace: "ml", Name: "b"},
		{Group: "apps", Kind: "Deployment", Namespace: "ml", Name: "web"},
		// Same namespace, kind and name: group breaks the tie.
		{Group: "apps", Kind: "Thing", Namespace: "ml", Name: "x"},
		{Group: "other.io", Kind: "Thing", Namespace: "ml", Name: "x"},
	}

	r := rand.New(rand.NewSource(1))
	for i := 0; i < 20; i++ {
		got := append([]Object(nil), want...)
		r.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
		sort.Slice(got, func(i, j int) bool { return objectLess(got[i], got[j]) })
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("sorted order (-want +got):\n%s", diff)
		}
	}
}

// applyConflict is the error the API server returns for a server-side apply
// conflict, built as k8s.io/apimachinery's field manager builds it.
func applyConflict(managers ...string) error {
	var causes []metav1.StatusCause
	for i, m := range managers {
		causes = append(causes, metav1.StatusCause{
			Type:    metav1.CauseTypeFieldManagerConflict,
			Message: fmt.Sprintf("conflict with %q using apps/v1", m),
			Field:   fmt.Sprintf(".spec.field%d", i),
		})
	}
	msg := fmt.Sprintf("Apply failed with %d conflicts", len(managers))
	return apierrors.NewApplyConflict(causes, msg)
}

func TestConflictReason(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		contains []string
	}{
		{
			name:     "one manager",
			err:      applyConflict("helm"),
			contains: []string{`conflict with "helm" using apps/v1`, "--force-conflicts"},
		},
		{
			name:     "two managers",
			err:      applyConflict("helm", "kubectl-client-side-apply"),
			contains: []string{`"helm"`, `"kubectl-client-side-apply"`, "--force-conflicts"},
		},
		{
			name:     "wrapped",
			err:      fmt.Errorf("dry-running Deployment ml/web: %w", applyConflict("argocd")),
			contains: []string{`"argocd"`, "--force-conflicts"},
		},
		{
			name:     "no causes: the status message",
			err:      apierrors.NewApplyConflict(nil, `Apply failed with 1 conflict: conflict with "helm": .spec.replicas`),
			contains: []string{`conflict with "helm": .spec.replicas`, "--force-conflicts"},
		},
		{
			name:     "not an API error",
			err:      errors.New("connection reset"),
			contains: []string{"connection reset", "--force-conflicts"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := conflictReason(tt.err)
			for _, c := range tt.contains {
				if !strings.Contains(got, c) {
					t.Errorf("conflictReason = %q, want it to contain %q", got, c)
				}
			}
		})
	}
}

// TestConflictReasonNamesEachManagerOnce: the server sends one cause per
// conflicting field, so a manager that took three fields would otherwise be
// named three times in one plan line.
func TestConflictReasonNamesEachManagerOnce(t *testing.T) {
	got := conflictReason(applyConflict("kubectl-edit", "kubectl-edit", "kubectl-edit", "helm"))
	for manager, want := range map[string]int{`"kubectl-edit"`: 1, `"helm"`: 1} {
		if n := strings.Count(got, manager); n != want {
			t.Errorf("conflictReason names %s %d times, want %d: %q", manager, n, want, got)
		}
	}
}

func TestPrintableHash(t *testing.T) {
	const hash = "sha256:0123456789abcdef0123456789abcdef"
	tests := []struct {
		apiVersion, kind string
		want             string
	}{
		{"v1", "Secret", ""}, // a function of the values: never printed
		{"v1", "ConfigMap", hash},
		{"apps/v1", "Deployment", hash},
		{"example.io/v1", "Secret", hash}, // not the core Secret
	}
	for _, tt := range tests {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(tt.apiVersion)
		u.SetKind(tt.kind)
		u.SetName("x")
		if got := printableHash(desired.Object{Hash: hash, Object: u}); got != tt.want {
			t.Errorf("printableHash(%s %s) = %q, want %q", tt.apiVersion, tt.kind, got, tt.want)
		}
	}
}
