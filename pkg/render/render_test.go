package render

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/geofed-io/kubectl-geofed/internal/memfs"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const kustomizeResources = "resources:\n- app.yaml\n"

const appYAML = `apiVersion: v1
kind: ConfigMap
metadata:
  name: config
  namespace: ml
data:
  k: v
`

// kustomizations returns a tree holding a kustomization (named name) plus
// its app.yaml in each of dirs.
func kustomizations(name string, dirs ...string) map[string]string {
	files := map[string]string{}
	for _, d := range dirs {
		files[filepath.Join(d, name)] = kustomizeResources
		files[filepath.Join(d, "app.yaml")] = appYAML
	}
	return files
}

func merge(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestChooseOverlay(t *testing.T) {
	const s = "/topo/apps/trainer"
	all := kustomizations("kustomization.yaml",
		s, s+"/base", s+"/overlays/us-west1", s+"/overlays/training-us")
	tests := []struct {
		name    string
		files   map[string]string
		source  string
		want    string
		wantErr string
	}{
		{
			name:  "cluster overlay wins over region, base and root",
			files: all,
			want:  s + "/overlays/training-us",
		},
		{
			name:  "region overlay when no cluster overlay",
			files: kustomizations("kustomization.yaml", s, s+"/base", s+"/overlays/us-west1", s+"/overlays/serving-eu"),
			want:  s + "/overlays/us-west1",
		},
		{
			name:  "base when no overlay matches",
			files: kustomizations("kustomization.yaml", s, s+"/base", s+"/overlays/europe-west1", s+"/overlays/serving-eu"),
			want:  s + "/base",
		},
		{
			name:  "the source itself when it has no base",
			files: kustomizations("kustomization.yaml", s, s+"/overlays/europe-west1"),
			want:  s,
		},
		{
			name: "a cluster overlay directory without a kustomization is passed over",
			files: merge(
				kustomizations("kustomization.yaml", s+"/base", s+"/overlays/us-west1"),
				map[string]string{s + "/overlays/training-us/README.md": "notes"},
			),
			want: s + "/overlays/us-west1",
		},
		{
			name:  "kustomization.yml is recognised",
			files: kustomizations("kustomization.yml", s+"/base", s+"/overlays/training-us"),
			want:  s + "/overlays/training-us",
		},
		{
			name:  "Kustomization is recognised",
			files: kustomizations("Kustomization", s+"/base", s+"/overlays/us-west1"),
			want:  s + "/overlays/us-west1",
		},
		{
			name:   "source given uncleaned",
			files:  all,
			source: s + "/../trainer/",
			want:   s + "/overlays/training-us",
		},
		{
			name:    "missing source",
			files:   kustomizations("kustomization.yaml", "/topo/apps/other"),
			wantErr: "source /topo/apps/trainer is not a directory",
		},
		{
			name:  "source with no kustomization anywhere",
			files: map[string]string{s + "/base/app.yaml": appYAML},
			wantErr: "no kustomization in any of [/topo/apps/trainer/overlays/training-us /topo/apps/trainer/overlays/us-west1 " +
				"/topo/apps/trainer/base /topo/apps/trainer] (looked for [kustomization.yaml kustomization.yml Kustomization])",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			source := tc.source
			if source == "" {
				source = s
			}
			got, err := ChooseOverlay(memfs.New(t, tc.files), source, "training-us", "us-west1")
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("ChooseOverlay() error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ChooseOverlay() error = %v", err)
			}
			if got != tc.want {
				t.Errorf("ChooseOverlay() = %q, want %q", got, tc.want)
			}
		})
	}
}

// scalableApp has every kind Workload scales, one it must not confuse with
// them (a Deployment of another group), one whose nested parallelism it must
// leave alone (a CronJob), and objects with labels and selectors.
const scalableApp = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ml
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.27
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
  namespace: ml
spec:
  serviceName: db
  selector:
    matchLabels:
      app: db
  template:
    metadata:
      labels:
        app: db
    spec:
      containers:
      - name: db
        image: postgres:17
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: cache
  namespace: ml
spec:
  replicas: 1
  selector:
    matchLabels:
      app: cache
  template:
    metadata:
      labels:
        app: cache
    spec:
      containers:
      - name: cache
        image: redis:7
---
apiVersion: batch/v1
kind: Job
metadata:
  name: train
  namespace: ml
spec:
  parallelism: 2
  completions: 8
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: train
        image: trainer:1
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: eval
  namespace: ml
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      parallelism: 1
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: eval
            image: eval:1
---
apiVersion: example.com/v1
kind: Deployment
metadata:
  name: web
  namespace: ml
spec:
  replicas: 7
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: ml
  labels:
    app: web
    app.kubernetes.io/managed-by: helm
spec:
  selector:
    app: web
  ports:
  - port: 80
---
apiVersion: v1
kind: Namespace
metadata:
  name: ml
`

func scalableFS(t *testing.T) filesys.FileSystem {
	return memfs.New(t, map[string]string{
		"/topo/apps/web/base/kustomization.yaml": kustomizeResources,
		"/topo/apps/web/base/app.yaml":           scalableApp,
	})
}

func ptr(n int32) *int32 { return &n }

func TestWorkloadReplicas(t *testing.T) {
	type fields map[string]any // Key + " " + field path -> value, nil = absent
	// Fields Workload must leave alone whatever the share; the comparison
	// with kustomize's output below covers everything else.
	untouched := fields{
		"batch/Job/ml/train spec.completions":                     int64(8),
		"batch/CronJob/ml/eval spec.jobTemplate.spec.parallelism": int64(1),
		"batch/CronJob/ml/eval spec.parallelism":                  nil,
		"example.com/Deployment/ml/web spec.replicas":             int64(7),
		"/Service/ml/web spec.replicas":                           nil,
		"/Namespace//ml spec":                                     nil,
	}
	scaled := func(deploy, sts, rs, job any) fields {
		f := fields{
			"apps/Deployment/ml/web spec.replicas":   deploy,
			"apps/StatefulSet/ml/db spec.replicas":   sts,
			"apps/ReplicaSet/ml/cache spec.replicas": rs,
			"batch/Job/ml/train spec.parallelism":    job,
		}
		for k, v := range untouched {
			f[k] = v
		}
		return f
	}
	tests := []struct {
		name     string
		replicas *int32
		want     fields
	}{
		{
			name: "nil leaves replicas as rendered, adds none",
			want: scaled(int64(2), nil, int64(1), int64(2)),
		},
		{
			name:     "a share sets every scalable kind, adding the field where absent",
			replicas: ptr(5),
			want:     scaled(int64(5), int64(5), int64(5), int64(5)),
		},
		{
			name:     "zero keeps a warm standby at zero",
			replicas: ptr(0),
			want:     scaled(int64(0), int64(0), int64(0), int64(0)),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := scalableFS(t)
			out, err := Workload(Options{
				FS: fs, Topology: "ai-platform", Workload: "web", Source: "/topo/apps/web",
				Cluster: "serving-eu", Region: "europe-west1",
			})
			if err != nil {
				t.Fatalf("Workload() error = %v", err)
			}
			setReplicas(t, out.Objects, tc.replicas)
			byKey := map[string]*unstructured.Unstructured{}
			for _, o := range out.Objects {
				byKey[object.KeyOf(o)] = o
			}
			for k, want := range tc.want {
				key, path, _ := strings.Cut(k, " ")
				obj, ok := byKey[key]
				if !ok {
					t.Fatalf("no object %s in output; have %v", key, keys(out.Objects))
				}
				got, found, err := unstructured.NestedFieldNoCopy(obj.Object, strings.Split(path, ".")...)
				if err != nil {
					t.Fatalf("%s: %v", k, err)
				}
				if !found {
					got = nil
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", k, diff)
				}
			}

			// Nothing but the documented changes, checked against kustomize's
			// own output.
			want := wantRendered(t, fs, "/topo/apps/web/base", "ai-platform", "web", tc.replicas)
			object.Sort(want)
			if diff := cmp.Diff(objectMaps(want), objectMaps(out.Objects)); diff != "" {
				t.Errorf("Workload() differs from kustomize output plus labels and replicas (-want +got):\n%s", diff)
			}
		})
	}
}

func keys(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, object.KeyOf(o))
	}
	return out
}

func objectMaps(objs []*unstructured.Unstructured) []map[string]any {
	var out []map[string]any
	for _, o := range objs {
		out = append(out, o.Object)
	}
	return out
}

func TestWorkloadLabels(t *testing.T) {
	out, err := Workload(Options{
		FS: scalableFS(t), Topology: "ai-platform", Workload: "web", Source: "/topo/apps/web",
		Cluster: "serving-eu", Region: "europe-west1",
	})
	if err != nil {
		t.Fatalf("Workload() error = %v", err)
	}
	setReplicas(t, out.Objects, ptr(3))
	if len(out.Objects) != 8 {
		t.Fatalf("Workload() rendered %d objects, want 8: %v", len(out.Objects), keys(out.Objects))
	}
	owned := map[string]string{
		"app.kubernetes.io/managed-by": "kubectl-geofed",
		"geofed.io/topology":           "ai-platform",
		"geofed.io/workload":           "web",
	}
	// The app's own labels stay; the ownership labels win over an app's
	// managed-by (the Service says helm).
	wantLabels := map[string]map[string]string{
		"apps/Deployment/ml/web": {"app": "web"},
		"/Service/ml/web":        {"app": "web"},
	}
	for _, o := range out.Objects {
		want := map[string]string{}
		for k, v := range wantLabels[object.KeyOf(o)] {
			want[k] = v
		}
		for k, v := range owned {
			want[k] = v
		}
		if diff := cmp.Diff(want, o.GetLabels()); diff != "" {
			t.Errorf("%s labels (-want +got):\n%s", object.KeyOf(o), diff)
		}
	}

	// Selectors and pod templates are where kustomize's commonLabels would
	// also write; geofed must not (selectors are immutable once applied).
	for _, c := range []struct {
		key  string
		path []string
		want map[string]any
	}{
		{"apps/Deployment/ml/web", []string{"spec", "selector", "matchLabels"}, map[string]any{"app": "web"}},
		{"apps/Deployment/ml/web", []string{"spec", "template", "metadata", "labels"}, map[string]any{"app": "web"}},
		{"apps/StatefulSet/ml/db", []string{"spec", "selector", "matchLabels"}, map[string]any{"app": "db"}},
		{"apps/ReplicaSet/ml/cache", []string{"spec", "template", "metadata", "labels"}, map[string]any{"app": "cache"}},
		{"/Service/ml/web", []string{"spec", "selector"}, map[string]any{"app": "web"}},
		{"batch/Job/ml/train", []string{"spec", "template", "metadata"}, nil},
	} {
		var got map[string]any
		for _, o := range out.Objects {
			if object.KeyOf(o) == c.key {
				got, _, _ = unstructured.NestedMap(o.Object, c.path...)
			}
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%s %s (-want +got):\n%s", c.key, strings.Join(c.path, "."), diff)
		}
	}
}

func TestWorkloadOverlayAndOrder(t *testing.T) {
	fs := memfs.New(t, map[string]string{
		"/topo/apps/web/base/kustomization.yaml": kustomizeResources,
		"/topo/apps/web/base/app.yaml":           scalableApp,
		"/topo/apps/web/overlays/europe-west1/kustomization.yaml": "resources:\n- ../../base\n" +
			"patches:\n- patch: |\n    apiVersion: v1\n    kind: Service\n    metadata:\n      name: web\n      namespace: ml\n" +
			"    spec:\n      type: NodePort\n",
	})
	out, err := Workload(Options{
		FS: fs, Topology: "ai-platform", Workload: "web", Source: "/topo/apps/web",
		Cluster: "serving-eu", Region: "europe-west1",
	})
	if err != nil {
		t.Fatalf("Workload() error = %v", err)
	}
	if out.Overlay != "/topo/apps/web/overlays/europe-west1" {
		t.Errorf("Overlay = %q, want the region overlay", out.Overlay)
	}
	wantOrder := []string{
		"/Namespace//ml",
		"batch/CronJob/ml/eval",
		"apps/Deployment/ml/web",
		"example.com/Deployment/ml/web",
		"batch/Job/ml/train",
		"apps/ReplicaSet/ml/cache",
		"/Service/ml/web",
		"apps/StatefulSet/ml/db",
	}
	if diff := cmp.Diff(wantOrder, keys(out.Objects)); diff != "" {
		t.Errorf("object order (-want +got):\n%s", diff)
	}
	for _, o := range out.Objects {
		if object.KeyOf(o) == "/Service/ml/web" {
			if typ, _, _ := unstructured.NestedString(o.Object, "spec", "type"); typ != "NodePort" {
				t.Errorf("Service type = %q, want the overlay's NodePort", typ)
			}
		}
	}
}

func TestWorkloadErrors(t *testing.T) {
	valid := Options{
		Topology: "ai-platform", Workload: "trainer", Source: "/topo/apps/trainer",
		Cluster: "training-us", Region: "us-west1",
	}
	const prefix = "rendering workload trainer for cluster training-us (overlay /topo/apps/trainer/overlays/us-west1): "
	tests := []struct {
		name   string
		files  map[string]string
		modify func(*Options)
		want   string // the whole message, or its start when reason is set
		reason string // part of kustomize's reason, after want
	}{
		{
			name:  "missing source",
			files: kustomizations("kustomization.yaml", "/topo/apps/model-server"),
			want:  "rendering workload trainer for cluster training-us: source /topo/apps/trainer is not a directory",
		},
		{
			name: "kustomization lists a missing resource",
			files: map[string]string{
				"/topo/apps/trainer/overlays/us-west1/kustomization.yaml": "resources:\n- ../../base\n- extra.yaml\n",
				"/topo/apps/trainer/base/kustomization.yaml":              kustomizeResources,
				"/topo/apps/trainer/base/app.yaml":                        appYAML,
			},
			want:   prefix,
			reason: "'/topo/apps/trainer/overlays/us-west1/extra.yaml' doesn't exist",
		},
		{
			name: "kustomization is not YAML",
			files: map[string]string{
				"/topo/apps/trainer/overlays/us-west1/kustomization.yaml": "resources: [\n",
			},
			want:   prefix,
			reason: "invalid Kustomization",
		},
		{
			name: "resource is not a Kubernetes object",
			files: map[string]string{
				"/topo/apps/trainer/overlays/us-west1/kustomization.yaml": kustomizeResources,
				"/topo/apps/trainer/overlays/us-west1/app.yaml":           "just: a map\n",
			},
			want:   prefix,
			reason: "missing Resource metadata",
		},
		{
			name: "patch outside the kustomization root",
			files: map[string]string{
				"/topo/apps/trainer/overlays/us-west1/kustomization.yaml": "resources:\n- app.yaml\npatches:\n- path: ../../patch.yaml\n",
				"/topo/apps/trainer/overlays/us-west1/app.yaml":           appYAML,
				"/topo/apps/trainer/patch.yaml":                           appYAML,
			},
			want:   prefix,
			reason: "file '/topo/apps/trainer/patch.yaml' is not in or below '/topo/apps/trainer/overlays/us-west1'",
		},
		{
			name:   "missing names",
			files:  kustomizations("kustomization.yaml", "/topo/apps/trainer"),
			modify: func(o *Options) { o.Topology, o.Region = "", "" },
			want:   "rendering workload trainer for cluster training-us: no topology name\nno region name",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := valid
			opts.FS = memfs.New(t, tc.files)
			if tc.modify != nil {
				tc.modify(&opts)
			}
			_, err := Workload(opts)
			if err == nil {
				t.Fatal("Workload() succeeded, want an error")
			}
			msg := err.Error()
			if tc.reason != "" {
				if !strings.HasPrefix(msg, tc.want) || !strings.Contains(msg[len(tc.want):], tc.reason) {
					t.Errorf("Workload() error = %q, want %q followed by a reason containing %q", msg, tc.want, tc.reason)
				}
				return
			}
			if msg != tc.want {
				t.Errorf("Workload() error = %q, want %q", msg, tc.want)
			}
		})
	}

	t.Run("no filesystem", func(t *testing.T) {
		_, err := Workload(valid)
		want := "rendering workload trainer for cluster training-us: no filesystem"
		if err == nil || err.Error() != want {
			t.Errorf("Workload() error = %v, want %q", err, want)
		}
	})
}

// setReplicas gives the rendered objects a share, as desired does after
// placing the workload; nil leaves them as rendered.
func setReplicas(t *testing.T, objs []*unstructured.Unstructured, n *int32) {
	t.Helper()
	if n == nil {
		return
	}
	for _, o := range objs {
		if err := SetReplicas(o, *n); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSetReplicasNegative(t *testing.T) {
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("apps/v1")
	obj.SetKind("Deployment")
	if err := SetReplicas(obj, -1); err == nil || err.Error() != "negative replicas -1" {
		t.Errorf("SetReplicas(-1) = %v, want negative replicas -1", err)
	}
}
