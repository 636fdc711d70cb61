package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// scenario is the fleet the benchmark plans: joined clusters, one per
// region, and workloads that every cluster receives whole.
type scenario struct {
	// Clusters maps a cluster (and its kubeconfig context) to its region.
	Clusters map[string]string
	// Workloads are kustomize apps, each in a namespace of its own name.
	Workloads []string
	// PerKind is how many ConfigMaps, Services, Deployments and
	// ServiceAccounts each workload renders.
	PerKind int
}

// benchScenario is DESIGN §4's measurement: 4 clusters × ~200 objects.
var benchScenario = scenario{
	Clusters: map[string]string{
		"fleet-usw": "us-west1",
		"fleet-use": "us-east1",
		"fleet-euw": "europe-west1",
		"fleet-ane": "asia-northeast1",
	},
	Workloads: []string{"web", "batch"},
	PerKind:   25,
}

// objectsPerCluster is how many objects every cluster receives: each
// workload's Namespace and its four kinds.
func (s scenario) objectsPerCluster() int {
	return len(s.Workloads) * (1 + 4*s.PerKind)
}

// clusterNames returns the clusters sorted by name.
func (s scenario) clusterNames() []string {
	names := make([]string, 0, len(s.Clusters))
	for name := range s.Clusters {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// write lays the scenario out under dir, as a user's repository would hold
// it, and returns the topology file's path.
func (s scenario) write(dir string) (string, error) {
	var t strings.Builder
	t.WriteString("apiVersion: geofed.io/v1alpha1\nkind: Topology\nmetadata:\n  name: bench\nspec:\n  regions:\n")
	for _, name := range s.clusterNames() {
		fmt.Fprintf(&t, "  - name: %s\n    clusters:\n    - name: %s\n      kubeconfig:\n        context: %s\n", s.Clusters[name], name, name)
	}
	t.WriteString("  workloads:\n")
	for _, w := range s.Workloads {
		fmt.Fprintf(&t, "  - name: %s\n    source: apps/%s\n", w, w)
		app := filepath.Join(dir, "apps", w)
		if err := os.MkdirAll(app, 0o755); err != nil {
			return "", fmt.Errorf("writing workload %s: %w", w, err)
		}
		files := map[string]string{
			"kustomization.yaml": "resources:\n- objects.yaml\n",
			"objects.yaml":       s.objects(w),
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(app, name), []byte(content), 0o644); err != nil {
				return "", fmt.Errorf("writing workload %s: %w", w, err)
			}
		}
	}
	path := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(path, []byte(t.String()), 0o644); err != nil {
		return "", fmt.Errorf("writing topology: %w", err)
	}
	return path, nil
}

// objects renders workload w's manifests. Deployments have 0 replicas so
// that the lab's fake kubelets have nothing to run: the benchmark measures
// planning, not scheduling.
func (s scenario) objects(w string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", w)
	for i := 0; i < s.PerKind; i++ {
		name := fmt.Sprintf("%s-%d", w, i)
		fmt.Fprintf(&b, `---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: %[1]s
  namespace: %[2]s
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: %[1]s
  namespace: %[2]s
data:
  LOG_LEVEL: info
  LISTEN: ":8080"
  UPSTREAM: http://%[2]s-%[3]d.%[2]s.svc:8080
---
apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  namespace: %[2]s
spec:
  selector:
    app: %[1]s
  ports:
  - name: http
    port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  namespace: %[2]s
  labels:
    app: %[1]s
spec:
  replicas: 0
  selector:
    matchLabels:
      app: %[1]s
  template:
    metadata:
      labels:
        app: %[1]s
    spec:
      serviceAccountName: %[1]s
      containers:
      - name: app
        image: registry.example.com/%[2]s:1.0.%[3]d
        ports:
        - containerPort: 8080
        envFrom:
        - configMapRef:
            name: %[1]s
        resources:
          requests:
            cpu: 100m
            memory: 128Mi
`, name, w, (i+1)%s.PerKind)
	}
	return b.String()
}

// TestScenarioRenders checks, without a cluster, that the generated fleet is
// a valid topology whose every cluster receives the intended objects.
func TestScenarioRenders(t *testing.T) {
	path, err := benchScenario.write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	topo, err := topology.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := desired.Compute(desired.Options{Topology: topo})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Clusters) != len(benchScenario.Clusters) {
		t.Fatalf("%d clusters rendered, want %d", len(d.Clusters), len(benchScenario.Clusters))
	}
	for _, dc := range d.Clusters {
		if want := benchScenario.Clusters[dc.Name]; dc.Region != want {
			t.Errorf("%s: region %s, want %s", dc.Name, dc.Region, want)
		}
		kinds := map[string]int{}
		for _, o := range dc.Objects {
			kinds[o.Object.GetKind()]++
		}
		want := map[string]int{"Namespace": 2, "ServiceAccount": 50, "ConfigMap": 50, "Service": 50, "Deployment": 50}
		if fmt.Sprint(kinds) != fmt.Sprint(want) {
			t.Errorf("%s: renders %v, want %v", dc.Name, kinds, want)
		}
		if len(dc.Objects) != benchScenario.objectsPerCluster() {
			t.Errorf("%s: %d objects, objectsPerCluster says %d", dc.Name, len(dc.Objects), benchScenario.objectsPerCluster())
		}
	}
}
