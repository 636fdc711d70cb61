package inventory

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"testing"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func fromJSON(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(doc)); err != nil {
		t.Fatalf("parsing %s: %v", doc, err)
	}
	return u
}

func mustHash(t *testing.T, u *unstructured.Unstructured) string {
	t.Helper()
	h, err := AppliedHash(u)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var hashFormat = regexp.MustCompile(`^sha256:[0-9a-f]{32}$`)

const deployment = `{"apiVersion":"apps/v1","kind":"Deployment",
 "metadata":{"name":"web","namespace":"ml","labels":{"app":"web","tier":"1"},"annotations":{"note":"x"}},
 "spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"web","image":"web:1"}]}}}}`

func TestAppliedHash(t *testing.T) {
	base := mustHash(t, fromJSON(t, deployment))
	if !hashFormat.MatchString(base) {
		t.Fatalf("hash %q is not sha256:<32 hex>", base)
	}

	same := []struct {
		name string
		doc  string
		edit func(*unstructured.Unstructured)
	}{
		{
			name: "keys in another order",
			doc: `{"spec":{"template":{"spec":{"containers":[{"image":"web:1","name":"web"}]}},"replicas":2},
 "metadata":{"annotations":{"note":"x"},"labels":{"tier":"1","app":"web"},"namespace":"ml","name":"web"},
 "kind":"Deployment","apiVersion":"apps/v1"}`,
		},
		{
			name: "with its own applied-hash annotation",
			doc:  deployment,
			edit: func(u *unstructured.Unstructured) {
				ann := u.GetAnnotations()
				ann[object.AnnotationAppliedHash] = "sha256:whatever"
				u.SetAnnotations(ann)
			},
		},
	}
	for _, tt := range same {
		t.Run("same: "+tt.name, func(t *testing.T) {
			u := fromJSON(t, tt.doc)
			if tt.edit != nil {
				tt.edit(u)
			}
			if got := mustHash(t, u); got != base {
				t.Errorf("hash %s, want %s", got, base)
			}
		})
	}

	different := []struct {
		name string
		edit func(*unstructured.Unstructured)
	}{
		{"replicas", func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, int64(3), "spec", "replicas")
		}},
		{"a label", func(u *unstructured.Unstructured) {
			l := u.GetLabels()
			l["tier"] = "2"
			u.SetLabels(l)
		}},
		{"another annotation", func(u *unstructured.Unstructured) {
			a := u.GetAnnotations()
			a["note"] = "y"
			u.SetAnnotations(a)
		}},
		{"the image", func(u *unstructured.Unstructured) {
			c, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
			c[0].(map[string]interface{})["image"] = "web:2"
			_ = unstructured.SetNestedSlice(u.Object, c, "spec", "template", "spec", "containers")
		}},
		{"the namespace", func(u *unstructured.Unstructured) { u.SetNamespace("serving") }},
	}
	for _, tt := range different {
		t.Run("differs: "+tt.name, func(t *testing.T) {
			u := fromJSON(t, deployment)
			tt.edit(u)
			if got := mustHash(t, u); got == base {
				t.Errorf("hash unchanged after changing %s", tt.name)
			}
		})
	}
}

func TestAppliedHashOfObjectWithoutAnnotations(t *testing.T) {
	plain := fromJSON(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"k":"v"}}`)
	want := mustHash(t, plain)

	// Setting the hash as the only annotation, as plan does, and hashing
	// again gives the same hash: the annotation map it created is dropped.
	annotated := plain.DeepCopy()
	annotated.SetAnnotations(map[string]string{object.AnnotationAppliedHash: want})
	if got := mustHash(t, annotated); got != want {
		t.Errorf("hash with only the applied-hash annotation = %s, want %s", got, want)
	}
	// And hashing leaves the object alone.
	if got := annotated.GetAnnotations()[object.AnnotationAppliedHash]; got != want {
		t.Errorf("AppliedHash removed the caller's annotation: %q", got)
	}
}

func TestFieldsDigest(t *testing.T) {
	const geofedFields = `{"f:spec":{"f:replicas":{}}}`
	digestOf := func(raw string) string {
		sum := sha256.Sum256([]byte(raw))
		return "sha256:" + hex.EncodeToString(sum[:16])
	}
	entry := func(manager string, op metav1.ManagedFieldsOperationType, raw string) metav1.ManagedFieldsEntry {
		e := metav1.ManagedFieldsEntry{Manager: manager, Operation: op, APIVersion: "apps/v1", FieldsType: "FieldsV1"}
		if raw != "" {
			e.FieldsV1 = &metav1.FieldsV1{Raw: []byte(raw)}
		}
		return e
	}
	tests := []struct {
		name    string
		entries []metav1.ManagedFieldsEntry
		want    string
	}{
		{
			name: "geofed's Apply entry among others",
			entries: []metav1.ManagedFieldsEntry{
				entry("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, `{"f:metadata":{"f:annotations":{"f:rev":{}}}}`),
				entry(object.FieldManager, metav1.ManagedFieldsOperationUpdate, `{"f:metadata":{"f:labels":{}}}`),
				entry("helm", metav1.ManagedFieldsOperationApply, `{"f:spec":{"f:paused":{}}}`),
				entry(object.FieldManager, metav1.ManagedFieldsOperationApply, geofedFields),
			},
			want: digestOf(geofedFields),
		},
		{
			name: "another field set",
			entries: []metav1.ManagedFieldsEntry{
				entry(object.FieldManager, metav1.ManagedFieldsOperationApply, `{"f:spec":{"f:template":{}}}`),
			},
			want: digestOf(`{"f:spec":{"f:template":{}}}`),
		},
		{
			name: "only an Update entry of the manager",
			entries: []metav1.ManagedFieldsEntry{
				entry(object.FieldManager, metav1.ManagedFieldsOperationUpdate, geofedFields),
			},
			want: "",
		},
		{
			name: "only other managers",
			entries: []metav1.ManagedFieldsEntry{
				entry("kubectl", metav1.ManagedFieldsOperationApply, geofedFields),
			},
			want: "",
		},
		{
			name: "Apply entry without fields",
			entries: []metav1.ManagedFieldsEntry{
				entry(object.FieldManager, metav1.ManagedFieldsOperationApply, ""),
			},
			want: "",
		},
		{
			name: "no managedFields",
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := fromJSON(t, deployment)
			if tt.entries != nil {
				u.SetManagedFields(tt.entries)
			}
			if got := FieldsDigest(u, object.FieldManager); got != tt.want {
				t.Errorf("FieldsDigest = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRecordedHash(t *testing.T) {
	for _, tt := range []struct {
		apiVersion, kind string
		want             string
	}{
		{"v1", "ConfigMap", "sha256:h"},
		{"apps/v1", "Deployment", "sha256:h"},
		// A Secret's hash is a function of its values: never recorded.
		{"v1", "Secret", ""},
		// Only the core Secret is one.
		{"example.com/v1", "Secret", "sha256:h"},
	} {
		obj := &unstructured.Unstructured{}
		obj.SetAPIVersion(tt.apiVersion)
		obj.SetKind(tt.kind)
		if got := RecordedHash(obj, "sha256:h"); got != tt.want {
			t.Errorf("RecordedHash(%s %s) = %q, want %q", tt.apiVersion, tt.kind, got, tt.want)
		}
	}
}
