package bench

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// scenario is a fleet the benchmark plans and applies: joined clusters,
// spread over real regions, and workloads that every cluster receives whole.
type scenario struct {
	// Clusters is how many member clusters, named fleet-00, fleet-01, …
	Clusters int
	// Workloads is how many kustomize apps, each in a namespace of its own.
	Workloads int
	// PerKind is how many ConfigMaps, Services, Deployments and
	// ServiceAccounts each workload renders.
	PerKind int
}

// size is how a scenario is named in the sweep: clusters × objects per
// cluster, as asked (the scenario renders about that many).
type size struct{ clusters, objects int }

func (s size) String() string { return fmt.Sprintf("%dx%d", s.clusters, s.objects) }

// scenarioFor lays out about s.objects objects per cluster: more workloads
// (so more namespaces, so more LISTs) as fleets grow, as real ones do.
func scenarioFor(s size) scenario {
	workloads := 2
	switch {
	case s.objects >= 5000:
		workloads = 10
	case s.objects >= 1000:
		workloads = 5
	}
	perKind := max((s.objects/workloads+1)/4, 1) // rounded: 2 × (1 + 4 × 25) = 202
	return scenario{Clusters: s.clusters, Workloads: workloads, PerKind: perKind}
}

// objectsPerCluster is how many objects every cluster receives: each
// workload's Namespace and its four kinds.
func (s scenario) objectsPerCluster() int { return s.Workloads * (1 + 4*s.PerKind) }

// changedPerCluster is how many objects a revision changes on each cluster:
// the ConfigMap and the Deployment of every fifth name, about 10%.
func (s scenario) changedPerCluster() int {
	n := 0
	for i := 0; i < s.PerKind; i++ {
		if revised(i) {
			n += 2
		}
	}
	return n * s.Workloads
}

func revised(i int) bool { return i%5 == 0 }

// clusterNames returns the clusters sorted by name.
func (s scenario) clusterNames() []string {
	names := make([]string, s.Clusters)
	for i := range names {
		names[i] = fmt.Sprintf("fleet-%02d", i)
	}
	return names
}

// regionOf spreads the clusters over real regions, two per region past
// the first eight, as a fleet that grows adds clusters where it already is.
func (s scenario) regionOf(i int) string {
	regions := []string{"us-west1", "us-east1", "europe-west1", "asia-northeast1", "us-central1", "europe-west4", "asia-southeast1", "australia-southeast1"}
	return regions[i%len(regions)]
}

func (s scenario) workloadNames() []string {
	names := make([]string, s.Workloads)
	for i := range names {
		names[i] = fmt.Sprintf("app-%02d", i)
	}
	return names
}

// write lays the scenario out under dir, as a user's repository would hold
// it, for a topology of the given name whose namespaces carry prefix, at a
// revision ("" the first), and returns the topology file's path.
func (s scenario) write(dir, name, prefix, revision string) (string, error) {
	var t strings.Builder
	fmt.Fprintf(&t, "apiVersion: geofed.io/v1alpha1\nkind: Topology\nmetadata:\n  name: %s\nspec:\n  regions:\n", name)
	byRegion := map[string][]string{}
	var order []string
	for i, c := range s.clusterNames() {
		r := s.regionOf(i)
		if byRegion[r] == nil {
			order = append(order, r)
		}
		byRegion[r] = append(byRegion[r], c)
	}
	for _, r := range order {
		fmt.Fprintf(&t, "  - name: %s\n    clusters:\n", r)
		for _, c := range byRegion[r] {
			fmt.Fprintf(&t, "    - name: %s\n      kubeconfig:\n        context: %s\n", c, c)
		}
	}
	t.WriteString("  workloads:\n")
	for _, w := range s.workloadNames() {
		ns := prefix + w
		fmt.Fprintf(&t, "  - name: %s\n    source: apps/%s\n", ns, ns)
		app := filepath.Join(dir, "apps", ns)
		if err := os.MkdirAll(app, 0o755); err != nil {
			return "", fmt.Errorf("writing workload %s: %w", ns, err)
		}
		files := map[string]string{
			"kustomization.yaml": "resources:\n- objects.yaml\n",
			"objects.yaml":       s.objects(ns, revision),
		}
		for file, content := range files {
			if err := os.WriteFile(filepath.Join(app, file), []byte(content), 0o644); err != nil {
				return "", fmt.Errorf("writing workload %s: %w", ns, err)
			}
		}
	}
	path := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(path, []byte(t.String()), 0o644); err != nil {
		return "", fmt.Errorf("writing topology: %w", err)
	}
	return path, nil
}

// manifests is every workload's objects in one stream, in namespaces with
// prefix, as a kubectl user would apply them to each cluster.
func (s scenario) manifests(prefix, revision string) string {
	var docs []string
	for _, w := range s.workloadNames() {
		docs = append(docs, s.objects(prefix+w, revision))
	}
	return strings.Join(docs, "---\n")
}

// objects renders one workload's manifests into namespace ns. Deployments
// have 0 replicas so that nothing has to run them: the benchmark measures
// planning and applying, not scheduling. A revision changes the ConfigMap
// and the pod template of every fifth name.
func (s scenario) objects(ns, revision string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns)
	for i := 0; i < s.PerKind; i++ {
		name := fmt.Sprintf("%s-%d", ns, i)
		rev := ""
		if revision != "" && revised(i) {
			rev = revision
		}
		extraData, extraAnnotations := "", ""
		if rev != "" {
			extraData = fmt.Sprintf("  REVISION: %q\n", rev)
			extraAnnotations = fmt.Sprintf("      annotations:\n        example.com/revision: %q\n", rev)
		}
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
%[4]s---
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
%[5]s    spec:
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
`, name, ns, (i+1)%s.PerKind, extraData, extraAnnotations)
	}
	return b.String()
}

// TestScenarioRenders checks, without a cluster, that every fleet of the
// sweep is a valid topology whose every cluster receives the intended
// objects, and that a revision changes about 10% of them.
func TestScenarioRenders(t *testing.T) {
	sizes, err := sweepSizes("full")
	if err != nil {
		t.Fatal(err)
	}
	for _, sz := range sizes {
		t.Run(sz.String(), func(t *testing.T) {
			s := scenarioFor(sz)
			if got := s.objectsPerCluster(); got < sz.objects*99/100 || got > sz.objects*101/100 {
				t.Errorf("%d objects per cluster, want about %d", got, sz.objects)
			}
			if frac := float64(s.changedPerCluster()) / float64(s.objectsPerCluster()); frac < 0.08 || frac > 0.11 {
				t.Errorf("a revision changes %.1f%% of the objects, want about 10%%", 100*frac)
			}
			path, err := s.write(t.TempDir(), "bench", "", "r1")
			if err != nil {
				t.Fatal(err)
			}
			topo, err := topology.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(topo.Clusters()); n != s.Clusters {
				t.Fatalf("the topology has %d clusters, want %d", n, s.Clusters)
			}
			// Every cluster receives the same objects: rendering two shows
			// the layout without rendering the whole sweep.
			if s.Clusters > 2 {
				small := s
				small.Clusters = 2
				if path, err = small.write(t.TempDir(), "bench", "", "r1"); err == nil {
					topo, err = topology.Load(path)
				}
				if err != nil {
					t.Fatal(err)
				}
				s = small
			}
			d, err := desired.Compute(desired.Options{Topology: topo})
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Clusters) != s.Clusters {
				t.Fatalf("%d clusters rendered, want %d", len(d.Clusters), s.Clusters)
			}
			for i, dc := range d.Clusters {
				if _, ok := catalog.LookupRegion(dc.Region); !ok {
					t.Errorf("%s: region %s is not a GCP region", dc.Name, dc.Region)
				}
				if i == 0 {
					kinds := map[string]int{}
					for _, o := range dc.Objects {
						kinds[o.Object.GetKind()]++
					}
					n := s.Workloads * s.PerKind
					want := map[string]int{"Namespace": s.Workloads, "ServiceAccount": n, "ConfigMap": n, "Service": n, "Deployment": n}
					if fmt.Sprint(kinds) != fmt.Sprint(want) {
						t.Errorf("%s: renders %v, want %v", dc.Name, kinds, want)
					}
				}
				if len(dc.Objects) != s.objectsPerCluster() {
					t.Errorf("%s: %d objects, objectsPerCluster says %d", dc.Name, len(dc.Objects), s.objectsPerCluster())
				}
			}
		})
	}
}

func TestSweepSizes(t *testing.T) {
	for _, tt := range []struct {
		spec string
		want string // fmt of the sizes; "" = an error
	}{
		{"", "[1x200 4x200 16x200 16x1000]"},
		{"16x1000, 4x200", "[16x1000 4x200]"},
		{"full", "[1x200 4x200 16x200 1x1000 4x1000 16x1000 1x5000 4x5000 16x5000 64x200 64x1000]"},
		{"16", ""},
		{"0x200", ""},
		{"4xmany", ""},
	} {
		got, err := sweepSizes(tt.spec)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("BENCH=%q: %v, want an error", tt.spec, got)
		case tt.want != "" && (err != nil || fmt.Sprint(got) != tt.want):
			t.Errorf("BENCH=%q: %v %v, want %s", tt.spec, got, err, tt.want)
		}
	}
}

// TestFitRSS checks that the memory model recovers known terms, and that
// without a fleet wider than --parallel it fits one per-object term only.
func TestFitRSS(t *testing.T) {
	const mi, ki = 1 << 20, 1 << 10
	truth := func(clusters, per int) float64 {
		return 80*mi + 9*ki*float64(per*min(clusters, defaultParallel)) + 0.5*ki*float64(clusters*per)
	}
	for _, tt := range []struct {
		name  string
		sizes []size
		split bool
		want  string
	}{
		{"with 64", []size{{1, 200}, {4, 200}, {16, 200}, {16, 1000}, {64, 200}, {64, 1000}}, true,
			"80 MiB + 9.0 KiB/object held (objects per cluster × min(clusters, --parallel=16)) + 0.50 KiB/object planned (6 points)"},
		{"up to 16", []size{{1, 200}, {4, 200}, {16, 200}, {16, 1000}}, false,
			"80 MiB + 9.5 KiB/object (4 points; no fleet wider than --parallel=16, so what is held per cluster in flight is not told apart)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var reports []*sizeReport
			for _, sz := range tt.sizes {
				s := scenario{Clusters: sz.clusters, Workloads: 1, PerKind: (sz.objects - 1) / 4}
				r := &sizeReport{size: sz, s: s, objects: sz.clusters * s.objectsPerCluster()}
				r.add(scUnchanged, cPlan, nil, usage{wall: time.Second, rss: int64(truth(sz.clusters, s.objectsPerCluster()))})
				reports = append(reports, r)
			}
			m := fitRSS(reports)
			if !m.ok || m.split != tt.split || m.String() != tt.want {
				t.Fatalf("fit: %s (ok %v, split %v), want %s", m, m.ok, m.split, tt.want)
			}
			if tt.split {
				if got, want := m.predict(1000, 1000), truth(1000, 1000); math.Abs(got-want) > want*1e-6 {
					t.Errorf("predict(1000, 1000) = %.0f, want %.0f", got, want)
				}
			}
		})
	}
}
