package plan

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"
)

// obj parses YAML into the map shape unstructured objects have (int64 and
// float64 numbers), so tests read like manifests.
func obj(t *testing.T, y string) map[string]interface{} {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatalf("parsing test YAML: %v", err)
	}
	out := map[string]interface{}{}
	if err := utiljson.Unmarshal(j, &out); err != nil {
		t.Fatalf("parsing test JSON: %v", err)
	}
	return out
}

func TestFieldChanges(t *testing.T) {
	tests := []struct {
		name          string
		before, after map[string]interface{}
		secret        bool
		want          []FieldChange
	}{
		{
			name:   "equal objects have no changes",
			before: map[string]interface{}{"spec": map[string]interface{}{"replicas": int64(2), "x": []interface{}{"a"}}},
			after:  map[string]interface{}{"spec": map[string]interface{}{"replicas": int64(2), "x": []interface{}{"a"}}},
			want:   nil,
		},
		{
			name:   "scalar in nested maps",
			before: map[string]interface{}{"spec": map[string]interface{}{"replicas": int64(2), "paused": false}},
			after:  map[string]interface{}{"spec": map[string]interface{}{"replicas": int64(3), "paused": false}},
			want:   []FieldChange{{Path: "spec.replicas", Before: "2", After: "3"}},
		},
		{
			name: "keys added and removed in a nested map, in path order",
			before: map[string]interface{}{"metadata": map[string]interface{}{"labels": map[string]interface{}{
				"b": "1", "keep": "x",
			}}},
			after: map[string]interface{}{"metadata": map[string]interface{}{"labels": map[string]interface{}{
				"a": "2", "keep": "x",
			}}},
			want: []FieldChange{
				{Path: "metadata.labels.a", After: "2"},
				{Path: "metadata.labels.b", Before: "1"},
			},
		},
		{
			name:   "list gets shorter",
			before: obj(t, "spec:\n  containers:\n  - name: a\n    image: a:1\n  - name: b\n    image: b:1\n"),
			after:  obj(t, "spec:\n  containers:\n  - name: a\n    image: a:1\n"),
			want: []FieldChange{
				{Path: "spec.containers[1].image", Before: "b:1"},
				{Path: "spec.containers[1].name", Before: "b"},
			},
		},
		{
			name:   "list gets longer and an element changes",
			before: obj(t, "args: [--a, --b]\n"),
			after:  obj(t, "args: [--a, --c, --d]\n"),
			want: []FieldChange{
				{Path: "args[1]", Before: "--b", After: "--c"},
				{Path: "args[2]", After: "--d"},
			},
		},
		{
			// Paths sort bytewise, so "." comes before "[".
			name: "keys with dots, slashes and quotes are bracketed",
			before: map[string]interface{}{
				"metadata": map[string]interface{}{"labels": map[string]interface{}{"app.kubernetes.io/name": "web"}},
				"a.b":      "x",
				"data":     map[string]interface{}{`say"hi"`: "1", "1st": "y", "ok-key_2": "z"},
			},
			after: map[string]interface{}{
				"metadata": map[string]interface{}{"labels": map[string]interface{}{"app.kubernetes.io/name": "api"}},
				"a.b":      "y",
				"data":     map[string]interface{}{`say"hi"`: "2", "1st": "n", "ok-key_2": "w"},
			},
			want: []FieldChange{
				{Path: `["a.b"]`, Before: "x", After: "y"},
				{Path: "data.ok-key_2", Before: "z", After: "w"},
				{Path: `data["1st"]`, Before: "y", After: "n"},
				{Path: `data["say\"hi\""]`, Before: "1", After: "2"},
				{Path: `metadata.labels["app.kubernetes.io/name"]`, Before: "web", After: "api"},
			},
		},
		{
			name:   "empty map and list are leaves",
			before: obj(t, "spec:\n  selector: {}\n  volumes: []\n"),
			after:  obj(t, "spec:\n  selector:\n    app: web\n"),
			want: []FieldChange{
				{Path: "spec.selector", Before: "{}"},
				{Path: "spec.selector.app", After: "web"},
				{Path: "spec.volumes", Before: "[]"},
			},
		},
		{
			name:   "empty map and list unchanged",
			before: obj(t, "spec:\n  selector: {}\n  volumes: []\n"),
			after:  obj(t, "spec:\n  selector: {}\n  volumes: []\n"),
			want:   nil,
		},
		{
			name:   "map becomes scalar",
			before: obj(t, "spec:\n  x:\n    z: 1\n"),
			after:  obj(t, "spec:\n  x: 2\n"),
			want: []FieldChange{
				{Path: "spec.x", After: "2"},
				{Path: "spec.x.z", Before: "1"},
			},
		},
		{
			name:   "scalar becomes list",
			before: obj(t, "command: run\n"),
			after:  obj(t, "command: [run, --fast]\n"),
			want: []FieldChange{
				{Path: "command", Before: "run"},
				{Path: "command[0]", After: "run"},
				{Path: "command[1]", After: "--fast"},
			},
		},
		{
			name:   "string becomes number: listed, though both render alike",
			before: map[string]interface{}{"port": "80"},
			after:  map[string]interface{}{"port": int64(80)},
			want:   []FieldChange{{Path: "port", Before: "80", After: "80"}},
		},
		{
			name:   "null, bool and float leaves render as JSON",
			before: map[string]interface{}{"a": nil, "b": true, "c": 0.5},
			after:  map[string]interface{}{"a": "set", "b": false, "c": 1.5},
			want: []FieldChange{
				{Path: "a", Before: "null", After: "set"},
				{Path: "b", Before: "true", After: "false"},
				{Path: "c", Before: "0.5", After: "1.5"},
			},
		},
		{
			name: "a ConfigMap's data is shown",
			before: obj(t, `
kind: ConfigMap
data:
  mode: slow
`),
			after: obj(t, `
kind: ConfigMap
data:
  mode: fast
`),
			want: []FieldChange{{Path: "data.mode", Before: "slow", After: "fast"}},
		},
		{
			name: "Secret values are masked, keys and other fields are not",
			before: obj(t, `
kind: Secret
metadata:
  labels: {tier: db}
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"data":{"password":"aHVudGVyMg=="}}'
data:
  password: aHVudGVyMg==
  tls.crt: Y2VydC1vbGQ=
  gone: Z29uZS12YWx1ZQ==
  same: c2FtZS12YWx1ZQ==
stringData:
  token: old-token
`),
			after: obj(t, `
kind: Secret
metadata:
  labels: {tier: cache}
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"data":{"password":"czNjcjN0"}}'
data:
  password: czNjcjN0
  tls.crt: Y2VydC1uZXc=
  added: YWRkZWQtdmFsdWU=
  same: c2FtZS12YWx1ZQ==
stringData:
  token: new-token
`),
			secret: true,
			want: []FieldChange{
				{Path: "data.added", After: sensitiveChanged},
				{Path: "data.gone", Before: sensitive},
				{Path: "data.password", Before: sensitive, After: sensitiveChanged},
				{Path: `data["tls.crt"]`, Before: sensitive, After: sensitiveChanged},
				{Path: `metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]`, Before: sensitive, After: sensitiveChanged},
				{Path: "metadata.labels.tier", Before: "db", After: "cache"},
				{Path: "stringData.token", Before: sensitive, After: sensitiveChanged},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fieldChanges(tt.before, tt.after, tt.secret)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("fieldChanges (-want +got):\n%s", diff)
			}
		})
	}
}

// secretValues are the values secretPair's Secrets hold (data base64,
// stringData clear): none may appear in any output.
var secretValues = []string{"aHVudGVyMg==", "czNjcjN0", "c2FtZS12YWx1ZQ==", "old-token", "new-token"}

func secretPair(t *testing.T) (before, after map[string]interface{}) {
	t.Helper()
	before = obj(t, `
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: ml
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"data":{"password":"aHVudGVyMg=="},"stringData":{"token":"old-token"}}'
    note: visible
data:
  password: aHVudGVyMg==
  same: c2FtZS12YWx1ZQ==
stringData:
  token: old-token
`)
	after = obj(t, `
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: ml
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"data":{"password":"czNjcjN0"},"stringData":{"token":"new-token"}}'
    note: visible
data:
  password: czNjcjN0
  same: c2FtZS12YWx1ZQ==
stringData:
  token: new-token
`)
	return before, after
}

func TestFieldChangesNeverShowSecretValues(t *testing.T) {
	before, after := secretPair(t)
	got, err := json.Marshal(fieldChanges(before, after, true))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range secretValues {
		if strings.Contains(string(got), v) {
			t.Errorf("changes hold the secret value %q: %s", v, got)
		}
	}
	if !strings.Contains(string(got), sensitiveChanged) {
		t.Errorf("changes do not say the values change: %s", got)
	}
}

func TestFlatten(t *testing.T) {
	tests := []struct {
		name string
		in   interface{}
		want map[string]interface{}
	}{
		{
			name: "nested maps and lists",
			in: obj(t, `
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: app
        ports: [{containerPort: 80}]
`),
			want: map[string]interface{}{
				"spec.replicas":                                           int64(2),
				"spec.template.spec.containers[0].name":                   "app",
				"spec.template.spec.containers[0].ports[0].containerPort": int64(80),
			},
		},
		{
			name: "non-identifier keys are quoted, at the top level too",
			in: map[string]interface{}{
				"a/b":      int64(1),
				"metadata": map[string]interface{}{"labels": map[string]interface{}{"geofed.io/cluster": "c1", "plain": "p"}},
			},
			want: map[string]interface{}{
				`["a/b"]`:                              int64(1),
				`metadata.labels["geofed.io/cluster"]`: "c1",
				"metadata.labels.plain":                "p",
			},
		},
		{
			name: "empty containers are kept as leaves",
			in:   map[string]interface{}{"a": map[string]interface{}{}, "b": []interface{}{}, "c": []interface{}{map[string]interface{}{}}},
			want: map[string]interface{}{"a": map[string]interface{}{}, "b": []interface{}{}, "c[0]": map[string]interface{}{}},
		},
		{
			name: "empty top-level object has no leaves",
			in:   map[string]interface{}{},
			want: map[string]interface{}{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]interface{}{}
			flatten("", tt.in, got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("flatten (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnifiedDiffDeploymentReplicas(t *testing.T) {
	const manifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ml
spec:
  replicas: %d
  selector:
    matchLabels:
      app: web
`
	before := obj(t, fmt.Sprintf(manifest, 2))
	after := obj(t, fmt.Sprintf(manifest, 3))
	got, err := unifiedDiff(before, after, false, "Deployment ml/web")
	if err != nil {
		t.Fatal(err)
	}
	want := `--- live/Deployment ml/web
+++ desired/Deployment ml/web
@@ -4,7 +4,7 @@
   name: web
   namespace: ml
 spec:
-  replicas: 2
+  replicas: 3
   selector:
     matchLabels:
       app: web
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unifiedDiff (-want +got):\n%s", diff)
	}

	same, err := unifiedDiff(before, before, false, "Deployment ml/web")
	if err != nil {
		t.Fatal(err)
	}
	if same != "" {
		t.Errorf("unifiedDiff of equal objects = %q, want empty", same)
	}
}

func TestUnifiedDiffSecret(t *testing.T) {
	before, after := secretPair(t)
	beforeJSON, _ := json.Marshal(before)
	afterJSON, _ := json.Marshal(after)

	got, err := unifiedDiff(before, after, true, "Secret ml/db")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range secretValues {
		if strings.Contains(got, v) {
			t.Errorf("diff holds the secret value %q:\n%s", v, got)
		}
	}
	for _, line := range []string{
		"-  password: (sensitive)",
		"+  password: (sensitive, changed)",
		"   same: (sensitive)",
		"-  token: (sensitive)",
		"+  token: (sensitive, changed)",
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("diff lacks line %q:\n%s", line, got)
		}
	}
	// Masking works on copies: the caller's objects keep their values.
	if b, _ := json.Marshal(before); string(b) != string(beforeJSON) {
		t.Errorf("unifiedDiff changed its before argument: %s", b)
	}
	if a, _ := json.Marshal(after); string(a) != string(afterJSON) {
		t.Errorf("unifiedDiff changed its after argument: %s", a)
	}

	// The same objects as a non-Secret diff show the values: the masking
	// above is what hides them.
	clear, err := unifiedDiff(before, after, false, "Secret ml/db")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(clear, "czNjcjN0") {
		t.Errorf("unmasked diff lacks the value it should show:\n%s", clear)
	}
}

func TestMaskSecret(t *testing.T) {
	before, after := secretPair(t)
	delete(after["data"].(map[string]interface{}), "same")
	after["data"].(map[string]interface{})["new"] = "bmV3"
	// The last-applied annotation stays the same here; when it changes, see
	// TestMaskSecretChangedLastApplied.
	after["metadata"].(map[string]interface{})["annotations"] = deepCopyJSON(before)["metadata"].(map[string]interface{})["annotations"]
	beforeJSON, _ := json.Marshal(before)
	afterJSON, _ := json.Marshal(after)

	b, a := maskSecret(before, after)

	wantB := obj(t, `
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: ml
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: (sensitive)
    note: visible
data:
  password: (sensitive)
  same: (sensitive)
stringData:
  token: (sensitive)
`)
	wantA := obj(t, `
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: ml
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: (sensitive)
    note: visible
data:
  password: (sensitive, changed)
  new: (sensitive, changed)
stringData:
  token: (sensitive, changed)
`)
	if diff := cmp.Diff(wantB, b); diff != "" {
		t.Errorf("masked before (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantA, a); diff != "" {
		t.Errorf("masked after (-want +got):\n%s", diff)
	}
	if got, _ := json.Marshal(before); string(got) != string(beforeJSON) {
		t.Errorf("maskSecret changed its before argument: %s", got)
	}
	if got, _ := json.Marshal(after); string(got) != string(afterJSON) {
		t.Errorf("maskSecret changed its after argument: %s", got)
	}
}

func TestMaskSecretUnchangedValueReadsSensitive(t *testing.T) {
	before := obj(t, "kind: Secret\ndata:\n  k: dg==\n")
	_, a := maskSecret(before, before)
	if got := a["data"].(map[string]interface{})["k"]; got != sensitive {
		t.Errorf("unchanged value masks as %q, want %q", got, sensitive)
	}
}

// TestMaskSecretChangedLastApplied: the last-applied annotation repeats the
// values, so when they change it changes too, and the diff should say so as
// it does for data (and as fieldChanges does for the same annotation).
func TestMaskSecretChangedLastApplied(t *testing.T) {
	before, after := secretPair(t)
	b, a := maskSecret(before, after)
	annotation := func(m map[string]interface{}) interface{} {
		return m["metadata"].(map[string]interface{})["annotations"].(map[string]interface{})[lastApplied]
	}
	if got := annotation(b); got != sensitive {
		t.Errorf("before: last-applied = %q, want %q", got, sensitive)
	}
	if got := annotation(a); got != sensitiveChanged {
		t.Errorf("after: changed last-applied = %q, want %q", got, sensitiveChanged)
	}
}
