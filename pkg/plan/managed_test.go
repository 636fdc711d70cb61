package plan

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

// The FieldsV1 below are byte for byte what an API server writes (fields in
// sorted order, "." first, list-map keys with their defaulted key fields);
// TestManagedFixturesAreCanonical holds them to that.
const (
	// geofed's apply of Deployment ml/web: one container, an env var, a port
	// whose key carries the defaulted protocol, a GPU limit. selector and
	// args are atomic, so they are owned whole.
	deployApplied = `{"f:metadata":{"f:annotations":{"f:geofed.io/applied-hash":{}},"f:labels":{"f:app":{},"f:app.kubernetes.io/managed-by":{},"f:applyset.kubernetes.io/part-of":{},"f:geofed.io/topology":{},"f:geofed.io/workload":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:args":{},"f:env":{"k:{\"name\":\"MODEL\"}":{".":{},"f:name":{},"f:value":{}}},"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{}}},"f:resources":{"f:limits":{"f:nvidia.com/gpu":{}}}}}}}}}`
	// The same apply after the render swapped MODEL for MODEL_PATH and
	// dropped the workload label.
	deployAppliedNext = `{"f:metadata":{"f:annotations":{"f:geofed.io/applied-hash":{}},"f:labels":{"f:app":{},"f:app.kubernetes.io/managed-by":{},"f:applyset.kubernetes.io/part-of":{},"f:geofed.io/topology":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:args":{},"f:env":{"k:{\"name\":\"MODEL_PATH\"}":{".":{},"f:name":{},"f:value":{}}},"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{}}},"f:resources":{"f:limits":{"f:nvidia.com/gpu":{}}}}}}}}}`
	deployRevision    = `{"f:metadata":{"f:annotations":{"f:deployment.kubernetes.io/revision":{}}}}`
	deployStatus      = `{"f:status":{"f:availableReplicas":{},"f:conditions":{".":{},"k:{\"type\":\"Available\"}":{".":{},"f:lastTransitionTime":{},"f:lastUpdateTime":{},"f:message":{},"f:reason":{},"f:status":{},"f:type":{}}},"f:observedGeneration":{},"f:readyReplicas":{},"f:replicas":{},"f:updatedReplicas":{}}}`
	// kubectl rollout restart.
	deployRestart = `{"f:spec":{"f:template":{"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/restartedAt":{}}}}}}`
	// kubectl set resources -c app --requests=cpu=500m: another manager
	// owning part of geofed's container.
	deploySetResources = `{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{"f:resources":{"f:requests":{".":{},"f:cpu":{}}}}}}}}}`

	// geofed's apply of Service ml/dns-cache: ports are keyed by port and
	// protocol; the selector is an atomic map.
	svcApplied = `{"f:metadata":{"f:labels":{"f:geofed.io/topology":{}}},"f:spec":{"f:ports":{"k:{\"port\":53,\"protocol\":\"UDP\"}":{".":{},"f:name":{},"f:port":{},"f:protocol":{},"f:targetPort":{}},"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{},"f:targetPort":{}}},"f:selector":{}}}`
	// Someone added 53/TCP by hand: same port number, other protocol.
	svcOps = `{"f:spec":{"f:ports":{"k:{\"port\":53,\"protocol\":\"TCP\"}":{".":{},"f:name":{},"f:port":{},"f:protocol":{},"f:targetPort":{}}}}}`

	// geofed's apply of ConfigMap ml/trainer-config, with a finalizer:
	// finalizers are a set, each value owned on its own.
	cmApplied  = `{"f:data":{"f:MODEL_PATH":{},"f:config.yaml":{}},"f:metadata":{"f:finalizers":{"v:\"geofed.io/protect\"":{}},"f:labels":{"f:geofed.io/topology":{}}}}`
	cmBackup   = `{"f:metadata":{"f:finalizers":{"v:\"backup.example.com/protect\"":{}}}}`
	cmReloader = `{"f:data":{"f:last-reload":{}}}`

	// geofed's apply of Secret ml/hf-token, and a rotator keeping the
	// previous token next to it.
	secretApplied = `{"f:data":{"f:token":{}},"f:metadata":{"f:labels":{"f:geofed.io/topology":{}}},"f:type":{}}`
	secretRotator = `{"f:data":{"f:token.previous":{}},"f:metadata":{"f:annotations":{".":{},"f:rotator.example.com/rotated-at":{}}}}`
)

type managedEntry struct {
	manager     string
	op          metav1.ManagedFieldsOperationType
	subresource string
	fields      string
}

func geofedApply(fields string) managedEntry {
	return managedEntry{manager: object.FieldManager, op: metav1.ManagedFieldsOperationApply, fields: fields}
}

func updateBy(manager, fields string) managedEntry {
	return managedEntry{manager: manager, op: metav1.ManagedFieldsOperationUpdate, fields: fields}
}

// withEntries parses a manifest and gives it managedFields, keeping each
// entry's FieldsV1 bytes as written.
func withEntries(t *testing.T, manifest string, entries ...managedEntry) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{Object: obj(t, manifest)}
	var mfs []metav1.ManagedFieldsEntry
	for _, e := range entries {
		mfs = append(mfs, metav1.ManagedFieldsEntry{
			Manager:     e.manager,
			Operation:   e.op,
			APIVersion:  u.GetAPIVersion(),
			Time:        &metav1.Time{Time: time.Date(2025, 6, 1, 9, 30, 0, 0, time.UTC)},
			FieldsType:  "FieldsV1",
			FieldsV1:    &metav1.FieldsV1{Raw: []byte(e.fields)},
			Subresource: e.subresource,
		})
	}
	u.SetManagedFields(mfs)
	return u
}

// fieldsSet decodes FieldsV1 as managedSet does.
func fieldsSet(t *testing.T, fields string) *fieldpath.Set {
	t.Helper()
	s := &fieldpath.Set{}
	if err := s.FromJSON(strings.NewReader(fields)); err != nil {
		t.Fatalf("decoding FieldsV1 %s: %v", fields, err)
	}
	return s
}

func geofedSet(t *testing.T, objs ...*unstructured.Unstructured) *fieldpath.Set {
	t.Helper()
	s, err := managedSet(object.FieldManager, objs...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func setJSON(t *testing.T, s *fieldpath.Set) string {
	t.Helper()
	b, err := s.ToJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const deployManifest = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ml
  uid: 6a1f1c1e-2b7d-4c55-9d2e-0f5a3c7b9e10
  resourceVersion: "18842"
  generation: 2
  creationTimestamp: "2025-06-01T09:30:00Z"
  labels:
    app: web
    app.kubernetes.io/managed-by: kubectl-geofed
    applyset.kubernetes.io/part-of: applyset-2lv2ygjpq2xjiol4ji6zpvfw4e-v1
    geofed.io/topology: ai-platform
    geofed.io/workload: web
  annotations:
    deployment.kubernetes.io/revision: "2"
    geofed.io/applied-hash: sha256:7c1e52a0d9b4f3e8
spec:
  progressDeadlineSeconds: 600
  replicas: 3
  revisionHistoryLimit: 10
  selector:
    matchLabels: {app: web}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}
  template:
    metadata:
      labels: {app: web}
      annotations: {kubectl.kubernetes.io/restartedAt: "2025-06-01T10:00:00Z"}
    spec:
      containers:
      - name: app
        image: ghcr.io/acme/web:1.4
        args: [--port=8080, --workers=4]
        env:
        - {name: MODEL, value: llama-3-8b}
        ports:
        - {containerPort: 8080, name: http, protocol: TCP}
        resources:
          limits: {nvidia.com/gpu: "1"}
          requests: {cpu: 500m}
        imagePullPolicy: IfNotPresent
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
      dnsPolicy: ClusterFirst
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: {}
      terminationGracePeriodSeconds: 30
status:
  availableReplicas: 3
  observedGeneration: 2
  readyReplicas: 3
  replicas: 3
  updatedReplicas: 3
  conditions:
  - {type: Available, status: "True", reason: MinimumReplicasAvailable, message: Deployment has minimum availability., lastTransitionTime: "2025-06-01T09:31:00Z", lastUpdateTime: "2025-06-01T09:31:00Z"}
`

// deployRestricted is deployManifest restricted to deployApplied.
const deployRestricted = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ml
  labels:
    app: web
    app.kubernetes.io/managed-by: kubectl-geofed
    applyset.kubernetes.io/part-of: applyset-2lv2ygjpq2xjiol4ji6zpvfw4e-v1
    geofed.io/topology: ai-platform
    geofed.io/workload: web
  annotations:
    geofed.io/applied-hash: sha256:7c1e52a0d9b4f3e8
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: ghcr.io/acme/web:1.4
        args: [--port=8080, --workers=4]
        env:
        - {name: MODEL, value: llama-3-8b}
        ports:
        - {containerPort: 8080, name: http, protocol: TCP}
        resources:
          limits: {nvidia.com/gpu: "1"}
`

func liveDeployment(t *testing.T) *unstructured.Unstructured {
	return withEntries(t, deployManifest,
		geofedApply(deployApplied),
		updateBy("kube-controller-manager", deployRevision),
		managedEntry{manager: "kube-controller-manager", op: metav1.ManagedFieldsOperationUpdate, subresource: "status", fields: deployStatus},
		updateBy("kubectl-rollout", deployRestart),
		updateBy("kubectl-set", deploySetResources),
	)
}

const svcManifest = `
apiVersion: v1
kind: Service
metadata:
  name: dns-cache
  namespace: ml
  labels: {geofed.io/topology: ai-platform}
spec:
  clusterIP: 10.96.12.34
  clusterIPs: [10.96.12.34]
  internalTrafficPolicy: Cluster
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  ports:
  - {name: http, port: 80, protocol: TCP, targetPort: 8080}
  - {name: dns-udp, port: 53, protocol: UDP, targetPort: 5353}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 5353}
  selector: {app: dns-cache}
  sessionAffinity: None
  type: ClusterIP
status:
  loadBalancer: {}
`

const svcRestricted = `
apiVersion: v1
kind: Service
metadata:
  name: dns-cache
  namespace: ml
  labels: {geofed.io/topology: ai-platform}
spec:
  ports:
  - {name: http, port: 80, protocol: TCP, targetPort: 8080}
  - {name: dns-udp, port: 53, protocol: UDP, targetPort: 5353}
  selector: {app: dns-cache}
`

func liveService(t *testing.T) *unstructured.Unstructured {
	return withEntries(t, svcManifest, geofedApply(svcApplied), updateBy("ops-console", svcOps))
}

const cmManifest = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: trainer-config
  namespace: ml
  labels: {geofed.io/topology: ai-platform}
  finalizers: [geofed.io/protect, backup.example.com/protect]
data:
  MODEL_PATH: /models/llama-3-8b
  config.yaml: |
    batch_size: 64
  last-reload: "2025-06-01T09:45:00Z"
`

const cmRestricted = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: trainer-config
  namespace: ml
  labels: {geofed.io/topology: ai-platform}
  finalizers: [geofed.io/protect]
data:
  MODEL_PATH: /models/llama-3-8b
  config.yaml: |
    batch_size: 64
`

func liveConfigMap(t *testing.T) *unstructured.Unstructured {
	return withEntries(t, cmManifest,
		geofedApply(cmApplied), updateBy("backup-operator", cmBackup), updateBy("config-reloader", cmReloader))
}

const secretManifest = `
apiVersion: v1
kind: Secret
metadata:
  name: hf-token
  namespace: ml
  labels: {geofed.io/topology: ai-platform}
  annotations: {rotator.example.com/rotated-at: "2025-06-01T09:40:00Z"}
type: Opaque
data:
  token: aGZfZmFrZV9uZXc=
  token.previous: aGZfZmFrZV9vbGQ=
`

const secretRestricted = `
apiVersion: v1
kind: Secret
metadata:
  name: hf-token
  namespace: ml
  labels: {geofed.io/topology: ai-platform}
type: Opaque
data:
  token: aGZfZmFrZV9uZXc=
`

func liveSecret(t *testing.T) *unstructured.Unstructured {
	return withEntries(t, secretManifest, geofedApply(secretApplied), updateBy("token-rotator", secretRotator))
}

// floatObj decodes a manifest the way encoding/json does, every number a
// float64, unlike obj's int64.
func floatObj(t *testing.T, manifest string) map[string]interface{} {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]interface{}{}
	if err := json.Unmarshal(j, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestManagedFixturesAreCanonical(t *testing.T) {
	for _, fields := range []string{
		deployApplied, deployAppliedNext, deployRevision, deployStatus, deployRestart, deploySetResources,
		svcApplied, svcOps, cmApplied, cmBackup, cmReloader, secretApplied, secretRotator,
	} {
		if got := setJSON(t, fieldsSet(t, fields)); got != fields {
			t.Errorf("fixture is not in the server's form:\n got %s\nwant %s", got, fields)
		}
	}
}

func TestManagedSet(t *testing.T) {
	liveNext := liveDeployment(t)
	liveNext.SetManagedFields([]metav1.ManagedFieldsEntry{{
		Manager: object.FieldManager, Operation: metav1.ManagedFieldsOperationApply,
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(deployAppliedNext)},
	}})
	withGeofedUpdate := liveDeployment(t)
	withGeofedUpdate.SetManagedFields(append(withGeofedUpdate.GetManagedFields(), metav1.ManagedFieldsEntry{
		Manager: object.FieldManager, Operation: metav1.ManagedFieldsOperationUpdate,
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{"f:tier":{}}}}`)},
	}))

	tests := []struct {
		name string
		objs []*unstructured.Unstructured
		want string
	}{
		{
			name: "only geofed's Apply entry counts, not other managers' nor geofed's own updates",
			objs: []*unstructured.Unstructured{withGeofedUpdate},
			want: deployApplied,
		},
		{
			name: "live and dry-run sets are united: a field geofed stops applying and one it starts applying",
			objs: []*unstructured.Unstructured{liveDeployment(t), liveNext},
			want: `{"f:metadata":{"f:annotations":{"f:geofed.io/applied-hash":{}},"f:labels":{"f:app":{},"f:app.kubernetes.io/managed-by":{},"f:applyset.kubernetes.io/part-of":{},"f:geofed.io/topology":{},"f:geofed.io/workload":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:args":{},"f:env":{"k:{\"name\":\"MODEL\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"MODEL_PATH\"}":{".":{},"f:name":{},"f:value":{}}},"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{}}},"f:resources":{"f:limits":{"f:nvidia.com/gpu":{}}}}}}}}}`,
		},
		{
			name: "a new object: no live object, the dry-run's set",
			objs: []*unstructured.Unstructured{nil, liveService(t)},
			want: svcApplied,
		},
		{
			name: "no objects, or none geofed applied",
			objs: []*unstructured.Unstructured{nil, {Object: obj(t, cmManifest)}},
			want: `{}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := setJSON(t, geofedSet(t, tt.objs...)); got != tt.want {
				t.Errorf("managedSet:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestManagedSetMalformedFields(t *testing.T) {
	// Valid JSON (unstructured refuses to hold anything else), but no path
	// element: a list index must be a number.
	bad := withEntries(t, cmManifest, geofedApply(`{"f:data":{"i:first":{}}}`))
	_, err := managedSet(object.FieldManager, liveSecret(t), bad)
	if err == nil || !strings.Contains(err.Error(), "ConfigMap ml/trainer-config") || !strings.Contains(err.Error(), object.FieldManager) {
		t.Fatalf("managedSet error = %v, want one naming the manager and ConfigMap ml/trainer-config", err)
	}
}

type restrictCase struct {
	name string
	obj  map[string]interface{}
	set  *fieldpath.Set
	want map[string]interface{}
}

func restrictCases(t *testing.T) []restrictCase {
	const selector = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ml, annotations: {a: "1", geofed.io/applied-hash: sha256:7c1e}}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
    matchExpressions:
    - {key: tier, operator: In, values: [gpu]}
`
	const identity = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ml}
`
	svcFloat := floatObj(t, svcManifest)
	return []restrictCase{
		{
			name: "deployment: geofed's fields kept, other managers' fields, defaults and status dropped",
			obj:  liveDeployment(t).Object,
			set:  geofedSet(t, liveDeployment(t)),
			want: obj(t, deployRestricted),
		},
		{
			name: "service: ports matched on port and protocol, 53/TCP of another manager dropped, order kept",
			obj:  liveService(t).Object,
			set:  geofedSet(t, liveService(t)),
			want: obj(t, svcRestricted),
		},
		{
			name: "service decoded with float64 numbers matches keys as int64 objects do",
			obj:  svcFloat,
			set:  geofedSet(t, liveService(t)),
			want: floatObj(t, svcRestricted),
		},
		{
			name: "int keys in the set match float64 numbers in the object",
			obj:  svcFloat,
			set: fieldpath.NewSet(fieldpath.MakePathOrDie("spec", "ports",
				fieldpath.KeyByFields("port", 53, "protocol", "TCP"), "targetPort")),
			want: floatObj(t, `
apiVersion: v1
kind: Service
metadata: {name: dns-cache, namespace: ml}
spec:
  ports:
  - {port: 53, protocol: TCP, targetPort: 5353}
`),
		},
		{
			name: "configmap: a set of scalars keeps only geofed's finalizer; another manager's data key dropped",
			obj:  liveConfigMap(t).Object,
			set:  geofedSet(t, liveConfigMap(t)),
			want: obj(t, cmRestricted),
		},
		{
			name: "secret: another manager's key and annotation dropped",
			obj:  liveSecret(t).Object,
			set:  geofedSet(t, liveSecret(t)),
			want: obj(t, secretRestricted),
		},
		{
			name: "a member without children keeps the whole subtree",
			obj:  obj(t, selector),
			set:  fieldsSet(t, `{"f:spec":{"f:selector":{}}}`),
			want: obj(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ml}
spec:
  selector:
    matchLabels: {app: web}
    matchExpressions:
    - {key: tier, operator: In, values: [gpu]}
`),
		},
		{
			name: `a member listed only by "." keeps the whole subtree too`,
			obj:  obj(t, selector),
			set:  fieldsSet(t, `{"f:spec":{"f:selector":{".":{}}}}`),
			want: obj(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ml}
spec:
  selector:
    matchLabels: {app: web}
    matchExpressions:
    - {key: tier, operator: In, values: [gpu]}
`),
		},
		{
			name: `"." next to children owns the node, not what other managers put in it`,
			obj:  obj(t, selector),
			set:  fieldsSet(t, `{"f:metadata":{"f:annotations":{".":{},"f:geofed.io/applied-hash":{}}}}`),
			want: obj(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ml, annotations: {geofed.io/applied-hash: sha256:7c1e}}
`),
		},
		{
			name: `"." keeps the node even when none of its owned children is left`,
			obj:  obj(t, selector),
			set:  fieldsSet(t, `{"f:metadata":{"f:annotations":{".":{},"f:b":{}}}}`),
			want: obj(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ml, annotations: {}}
`),
		},
		{
			name: "a list-map item keeps its key fields and the children it owns",
			obj:  liveDeployment(t).Object,
			set:  fieldsSet(t, `{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{"f:image":{}}}}}}}`),
			want: obj(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ml}
spec:
  template:
    spec:
      containers:
      - {name: app, image: ghcr.io/acme/web:1.4}
`),
		},
		{
			name: "paths the set covers but the object lacks are skipped",
			obj:  obj(t, identity),
			set:  geofedSet(t, liveDeployment(t)),
			want: obj(t, identity),
		},
		{
			name: "a list index",
			obj:  obj(t, `{kind: Pod, spec: {items: [a, b, c]}}`),
			set:  fieldsSet(t, `{"f:spec":{"f:items":{"i:0":{},"i:2":{}}}}`),
			want: obj(t, `{kind: Pod, spec: {items: [a, c]}}`),
		},
		{
			name: "nil set keeps only identity",
			obj:  liveDeployment(t).Object,
			set:  nil,
			want: obj(t, identity),
		},
		{
			name: "empty set keeps only identity",
			obj:  liveDeployment(t).Object,
			set:  geofedSet(t, nil),
			want: obj(t, identity),
		},
		{
			name: "identity of a cluster-scoped object",
			obj:  obj(t, `{apiVersion: v1, kind: Namespace, metadata: {name: ml, labels: {a: b}}}`),
			set:  &fieldpath.Set{},
			want: obj(t, `{apiVersion: v1, kind: Namespace, metadata: {name: ml}}`),
		},
	}
}

func TestRestrict(t *testing.T) {
	for _, tt := range restrictCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			before := copyJSONValue(tt.obj)
			got := restrict(tt.obj, tt.set)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("restrict (-want +got):\n%s", diff)
			}
			// The result shares nothing with the argument.
			poison(got)
			if diff := cmp.Diff(before, tt.obj); diff != "" {
				t.Errorf("restrict's result aliases its argument (-before +after):\n%s", diff)
			}
		})
	}
}

// poison overwrites everything reachable from v.
func poison(v interface{}) {
	switch t := v.(type) {
	case map[string]interface{}:
		for k, e := range t {
			poison(e)
			if _, ok := e.(map[string]interface{}); !ok {
				t[k] = "poisoned"
			}
		}
		t["poisoned"] = true
	case []interface{}:
		for i, e := range t {
			poison(e)
			if _, ok := e.(map[string]interface{}); !ok {
				t[i] = "poisoned"
			}
		}
	}
}

// TestManagedNoPhantomChanges is the rule of DESIGN §4: compared through
// geofed's managed set, a dry-run right after an apply shows nothing,
// whatever other writers did, and still shows what geofed's apply changes.
func TestManagedNoPhantomChanges(t *testing.T) {
	tests := []struct {
		name   string
		live   *unstructured.Unstructured
		dryRun func(u *unstructured.Unstructured)
		want   []string
	}{
		{
			name: "deployment: a rollout restart, a revision bump, another manager's requests, status and a default the stored object predates",
			live: liveDeployment(t),
			dryRun: func(u *unstructured.Unstructured) {
				setField(t, u, "3", "metadata", "annotations", "deployment.kubernetes.io/revision")
				setField(t, u, "2025-06-01T11:00:00Z", "spec", "template", "metadata", "annotations", "kubectl.kubernetes.io/restartedAt")
				c := firstContainer(t, u)
				c["resources"].(map[string]interface{})["requests"] = map[string]interface{}{"cpu": "1"}
				c["resizePolicy"] = []interface{}{map[string]interface{}{"resourceName": "cpu", "restartPolicy": "NotRequired"}}
				setField(t, u, int64(3), "metadata", "generation")
				setField(t, u, int64(2), "status", "readyReplicas")
			},
		},
		{
			name: "deployment: geofed's image and replicas change",
			live: liveDeployment(t),
			dryRun: func(u *unstructured.Unstructured) {
				setField(t, u, int64(4), "spec", "replicas")
				firstContainer(t, u)["image"] = "ghcr.io/acme/web:1.5"
			},
			want: []string{"spec.replicas", "spec.template.spec.containers[0].image"},
		},
		{
			name: "deployment: what geofed stops applying (live set) and starts applying (dry-run set)",
			live: liveDeployment(t),
			dryRun: func(u *unstructured.Unstructured) {
				labels := u.GetLabels()
				delete(labels, "geofed.io/workload")
				u.SetLabels(labels)
				firstContainer(t, u)["env"] = []interface{}{map[string]interface{}{"name": "MODEL_PATH", "value": "/models/llama-3-8b"}}
				mf := u.GetManagedFields()
				mf[0].FieldsV1 = &metav1.FieldsV1{Raw: []byte(deployAppliedNext)}
				u.SetManagedFields(mf)
			},
			want: []string{
				`metadata.labels["geofed.io/workload"]`,
				"spec.template.spec.containers[0].env[0].name",
				"spec.template.spec.containers[0].env[0].value",
			},
		},
		{
			name: "service: another manager's port and the allocated clusterIP",
			live: liveService(t),
			dryRun: func(u *unstructured.Unstructured) {
				ports, _, _ := unstructured.NestedSlice(u.Object, "spec", "ports")
				ports[2].(map[string]interface{})["targetPort"] = int64(53)
				setField(t, u, ports, "spec", "ports")
				setField(t, u, "10.96.0.99", "spec", "clusterIP")
			},
		},
		{
			name: "service: geofed's target port",
			live: liveService(t),
			dryRun: func(u *unstructured.Unstructured) {
				ports, _, _ := unstructured.NestedSlice(u.Object, "spec", "ports")
				ports[0].(map[string]interface{})["targetPort"] = int64(8081)
				setField(t, u, ports, "spec", "ports")
			},
			want: []string{"spec.ports[0].targetPort"},
		},
		{
			name: "configmap: a reload stamp and another finalizer",
			live: liveConfigMap(t),
			dryRun: func(u *unstructured.Unstructured) {
				setField(t, u, "2025-06-01T10:15:00Z", "data", "last-reload")
				setField(t, u, []interface{}{"geofed.io/protect", "backup.example.com/protect", "other.example.com/hold"}, "metadata", "finalizers")
			},
		},
		{
			name: "secret: a rotation by another manager is not a change, geofed's token is",
			live: liveSecret(t),
			dryRun: func(u *unstructured.Unstructured) {
				setField(t, u, "aGZfZmFrZV9yb3RhdGVk", "data", "token.previous")
				setField(t, u, "2025-06-01T10:40:00Z", "metadata", "annotations", "rotator.example.com/rotated-at")
				setField(t, u, "aGZfZmFrZV9kZXNpcmVk", "data", "token")
			},
			want: []string{"data.token"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dry := tt.live.DeepCopy()
			tt.dryRun(dry)
			s := geofedSet(t, tt.live, dry)
			before, after := restrict(tt.live.Object, s), restrict(dry.Object, s)
			var got []string
			for _, fc := range fieldChanges(before, after, tt.live.GetKind() == "Secret") {
				got = append(got, fc.Path)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("changed paths (-want +got):\n%s", diff)
			}
		})
	}
}

func setField(t *testing.T, u *unstructured.Unstructured, v interface{}, path ...string) {
	t.Helper()
	if err := unstructured.SetNestedField(u.Object, v, path...); err != nil {
		t.Fatal(err)
	}
}

func firstContainer(t *testing.T, u *unstructured.Unstructured) map[string]interface{} {
	t.Helper()
	cs, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "template", "spec", "containers")
	return cs.([]interface{})[0].(map[string]interface{})
}

// TestRestrictIdempotent: restricting what was restricted changes nothing,
// over the cases above and thousands of seeded sets cut from the fixtures'
// own fields (whole subtrees, partial list-map items, missing paths). Sets
// with list indexes are left out: a kept item moves to a lower index.
func TestRestrictIdempotent(t *testing.T) {
	check := func(t *testing.T, o map[string]interface{}, s *fieldpath.Set) {
		t.Helper()
		once := restrict(o, s)
		if diff := cmp.Diff(once, restrict(once, s)); diff != "" {
			t.Fatalf("restrict twice differs from once (-once +twice):\n%s\nset:\n%s", diff, s)
		}
	}
	for _, tt := range restrictCases(t) {
		if tt.set != nil && hasIndex(tt.set) {
			continue
		}
		check(t, tt.obj, tt.set)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, u := range []*unstructured.Unstructured{liveDeployment(t), liveService(t), liveConfigMap(t), liveSecret(t)} {
		var paths []fieldpath.Path
		fieldpath.SetFromValue(value.NewValueInterface(u.Object)).Iterate(func(p fieldpath.Path) {
			if !hasIndex(fieldpath.NewSet(p)) {
				paths = append(paths, p.Copy())
			}
		})
		for range 2000 {
			s := &fieldpath.Set{}
			for _, p := range paths {
				if rng.IntN(3) == 0 {
					s.Insert(p[:1+rng.IntN(len(p))])
				}
			}
			check(t, u.Object, s)
		}
	}
}

func hasIndex(s *fieldpath.Set) bool {
	found := false
	s.Iterate(func(p fieldpath.Path) {
		for _, pe := range p {
			found = found || pe.Index != nil
		}
	})
	return found
}
