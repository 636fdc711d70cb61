package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/faultproxy"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// faultFlags keep a hung read short; the clusters hold no pods, so nothing
// is waited for.
var faultFlags = []string{"--request-timeout", "3s", "--cluster-timeout", "10s"}

// TestReadFaults: reads of Deployments on one of two members fail — 500,
// 429, 403, or a LIST that hangs until the client gives up — while the
// topology drops workloads from both. Plan names the failed read on that
// member and plans no deletion there; apply deletes nothing there (read
// back: every object still present) while the other member prunes, and
// exits 1 naming it. With the fault cleared, the member converges.
func TestReadFaults(t *testing.T) {
	e := newEnv(t,
		lab.ClusterSpec{Name: "steady", APIServerOnly: true},
		lab.ClusterSpec{Name: "faulty", APIServerOnly: true})
	proxy := labtest.FaultProxy(t, e.joined["faulty"])
	if err := faultproxy.Route(e.kubecfg, map[string]string{"faulty": proxy.URL}); err != nil {
		t.Fatal(err)
	}
	all := writeFaultTopology(t, "base", "web-a", "web-b")
	if r := e.run(append([]string{"apply", "-f", all, "--yes", "--wait=false"}, faultFlags...)...); r.code != 0 {
		t.Fatalf("first apply: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, c := range []string{"steady", "faulty"} {
		for _, ns := range []string{"web-a", "web-b"} {
			assertWorkload(t, e, c, ns, true)
		}
	}

	dropA := writeFaultTopology(t, "base", "web-b")
	for _, tt := range []struct {
		status faultproxy.Status
		says   string
	}{
		{faultproxy.Status500, "500 Internal Server Error: "},
		{faultproxy.Status429, "429 Too Many Requests: "},
		{faultproxy.StatusForbidden, "403 Forbidden: deployments.apps is forbidden"},
		{faultproxy.StatusTimeout, "timed out: "},
	} {
		t.Run("plan "+string(tt.status), func(t *testing.T) {
			setFault(t, proxy, tt.status)
			r := e.run(append([]string{"plan", "-f", dropA, "-o", "json"}, faultFlags...)...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			p := decodePlan(t, r.stdout)
			faulty := findCluster(t, p, "faulty")
			if want := "reading Deployments (apps/v1): " + tt.says; !strings.Contains(faulty.Error, want) || !strings.Contains(faulty.Error, "faulty") {
				t.Errorf("faulty's error %q does not name the cluster and %q", faulty.Error, want)
			}
			// Other kinds are planned; no Deployment, and no Namespace,
			// whose contents are not known. (Apply leaves the whole
			// cluster alone: its plan failed.)
			if got := deletions(faulty); strings.Join(got, ",") != "ConfigMap web-a/web-config" {
				t.Errorf("faulty: deletions %v with its Deployments unread, want web-a's ConfigMap alone", got)
			}
			for _, o := range []struct{ kind, ns, name string }{{"Namespace", "", "web-a"}, {"Deployment", "web-a", "web"}} {
				if got := findObject(faulty, o.kind, o.ns, o.name); got == nil || got.Action != object.ActionKeep || !strings.Contains(got.Reason, "reading Deployments (apps/v1) failed") {
					t.Errorf("faulty: %s %s/%s planned as %+v, want kept naming the failed read", o.kind, o.ns, o.name, got)
				}
			}
			if got := deletions(findCluster(t, p, "steady")); strings.Join(got, ",") != "ConfigMap web-a/web-config,Deployment web-a/web,Namespace web-a" {
				t.Errorf("steady: deletions %v, want web-a's Deployment, ConfigMap and Namespace", got)
			}
		})
	}

	t.Run("plan text", func(t *testing.T) {
		setFault(t, proxy, faultproxy.Status500)
		r := e.run(append([]string{"plan", "-f", dropA}, faultFlags...)...)
		t.Logf("plan with faulty's Deployments answering 500:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		if r.code != 1 || !strings.Contains(r.stdout, "cluster faulty: reading Deployments (apps/v1): 500 Internal Server Error: ") {
			t.Errorf("exit %d, want 1 and the failed read named", r.code)
		}
	})

	// Apply drops web-a with faulty's Deployments answering 500, then web-b
	// with them hanging.
	dropB := writeFaultTopology(t, "base")
	for _, step := range []struct {
		status  faultproxy.Status
		topo    string
		dropped string
	}{
		{faultproxy.Status500, dropA, "web-a"},
		{faultproxy.StatusTimeout, dropB, "web-b"},
	} {
		t.Run("apply "+string(step.status), func(t *testing.T) {
			setFault(t, proxy, step.status)
			r := e.run(append([]string{"apply", "-f", step.topo, "--yes", "--wait=false"}, faultFlags...)...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, "faulty") || !strings.Contains(r.stdout+r.stderr, "reading Deployments (apps/v1)") {
				t.Errorf("apply does not name faulty's failed read:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			}
			for _, ns := range []string{"web-a", "web-b"} {
				assertWorkload(t, e, "faulty", ns, true)
			}
			assertWorkload(t, e, "steady", step.dropped, false)
		})
	}

	// An aggregated API server that is down leaves its group out of
	// discovery: a kind of it that geofed recorded is unread, not absent.
	t.Run("aggregated API down", func(t *testing.T) {
		proxy.Clear("")
		stopAPI := brokenAPIService(t, e.joined["faulty"])
		defer stopAPI()
		recordWidget(t, e.joined["faulty"], "faults")
		r := e.run(append([]string{"plan", "-f", dropB, "-o", "json"}, faultFlags...)...)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		faulty := findCluster(t, decodePlan(t, r.stdout), "faulty")
		if want := "reading Widgets (broken.example.com/v1): discovery of its API group failed"; !strings.Contains(faulty.Error, want) {
			t.Errorf("faulty's error %q does not name %q", faulty.Error, want)
		}
		if o := findObject(faulty, "Widget", "web-a", "w"); o == nil || o.Action != object.ActionKeep {
			t.Errorf("faulty: the recorded Widget planned as %+v, want kept", o)
		}
		for _, ns := range []string{"web-a", "web-b"} {
			if o := findObject(faulty, "Namespace", "", ns); o == nil || o.Action != object.ActionKeep {
				t.Errorf("faulty: Namespace %s planned as %+v, want kept", ns, o)
			}
		}
	})

	t.Run("cleared", func(t *testing.T) {
		proxy.Clear("")
		r := e.run(append([]string{"apply", "-f", dropB, "--yes", "--wait=false"}, faultFlags...)...)
		if r.code != 0 {
			t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		for _, ns := range []string{"web-a", "web-b"} {
			assertWorkload(t, e, "faulty", ns, false)
		}
	})
}

func setFault(t *testing.T, p *faultproxy.Proxy, st faultproxy.Status) {
	t.Helper()
	if err := p.Set(faultproxy.Fault{Resource: "deployments.apps", Status: st}); err != nil {
		t.Fatal(err)
	}
}

// deletions are the objects a cluster's plan deletes, as "Kind ns/name".
func deletions(c plan.Cluster) []string {
	var out []string
	for _, o := range c.Objects {
		if o.Action == object.ActionDelete {
			name := o.Name
			if o.Namespace != "" {
				name = o.Namespace + "/" + o.Name
			}
			out = append(out, o.Kind+" "+name)
		}
	}
	slices.Sort(out)
	return out
}

func findObject(c plan.Cluster, kind, namespace, name string) *plan.Object {
	for i, o := range c.Objects {
		if o.Kind == kind && o.Namespace == namespace && o.Name == name {
			return &c.Objects[i]
		}
	}
	return nil
}

// assertWorkload reads back, directly from the apiserver, whether a web
// workload's Deployment, ConfigMap and Namespace are on a cluster. Gone
// means deleted: the Namespace may still be terminating (an apiserver-only
// cluster has no namespace controller to finish it).
func assertWorkload(t *testing.T, e *env, cluster, ns string, present bool) {
	t.Helper()
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(e.joined[cluster].RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	_, depErr := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	_, cmErr := cs.CoreV1().ConfigMaps(ns).Get(ctx, "web-config", metav1.GetOptions{})
	n, nsErr := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	for what, err := range map[string]error{"Deployment " + ns + "/web": depErr, "ConfigMap " + ns + "/web-config": cmErr, "Namespace " + ns: nsErr} {
		switch {
		case present && err != nil:
			t.Errorf("%s: %s: %v, want it still there", cluster, what, err)
		case !present && err == nil && what == "Namespace "+ns:
			if n.DeletionTimestamp == nil {
				t.Errorf("%s: %s still there, not being deleted", cluster, what)
			}
		case !present && !apierrors.IsNotFound(err):
			t.Errorf("%s: %s: %v, want it deleted", cluster, what, err)
		}
	}
	if present && n != nil && n.DeletionTimestamp != nil {
		t.Errorf("%s: Namespace %s is being deleted, want it kept", cluster, ns)
	}
}

// writeFaultTopology writes a topology of steady and faulty running the
// named workloads: base (a ConfigMap in its Namespace) and web-a, web-b
// (each a Namespace of its name with ConfigMap web-config and Deployment
// web).
func writeFaultTopology(t *testing.T, workloads ...string) string {
	t.Helper()
	dir := t.TempDir()
	var topo strings.Builder
	topo.WriteString(`apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: faults
spec:
  regions:
  - name: us-east1
    clusters:
    - name: steady
      kubeconfig:
        context: steady
  - name: europe-west1
    clusters:
    - name: faulty
      kubeconfig:
        context: faulty
  workloads:
`)
	files := map[string]string{}
	for _, w := range workloads {
		topo.WriteString("  - name: " + w + "\n    source: apps/" + w + "\n")
		manifests := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + w + "\n---\n" +
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n  namespace: " + w + "\ndata:\n  greeting: hello\n"
		if w != "base" {
			manifests += `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ` + w + `
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: main
        image: registry.example/web:1
`
		}
		files[filepath.Join("apps", w, "kustomization.yaml")] = "resources:\n- manifests.yaml\n"
		files[filepath.Join("apps", w, "manifests.yaml")] = manifests
	}
	files["topology.yaml"] = topo.String()
	for rel, content := range files {
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "topology.yaml")
}

// brokenAPIService registers an aggregated API, broken.example.com/v1, whose
// backend does not exist, waits until discovery reports the group failed,
// and returns what removes it again and waits until discovery is whole.
func brokenAPIService(t *testing.T, c *lab.Cluster) func() {
	t.Helper()
	ctx := context.Background()
	dyn, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	disco, err := discovery.NewDiscoveryClientForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	apiservices := schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": "v1.broken.example.com"},
		"spec": map[string]any{
			"group": "broken.example.com", "version": "v1",
			"service":               map[string]any{"namespace": "default", "name": "nothing-here", "port": int64(443)},
			"insecureSkipTLSVerify": true, "groupPriorityMinimum": int64(1000), "versionPriority": int64(15),
		},
	}}
	if _, err := dyn.Resource(apiservices).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDiscovery := func(failed bool) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
			_, _, err := disco.ServerGroupsAndResources()
			return discovery.IsGroupDiscoveryFailedError(err) == failed, nil
		})
		if err != nil {
			t.Fatalf("waiting for discovery to report broken.example.com failed=%v: %v", failed, err)
		}
	}
	waitDiscovery(true)
	return func() {
		if err := dyn.Resource(apiservices).Delete(ctx, "v1.broken.example.com", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitDiscovery(false)
	}
}

// recordWidget adds to a topology's inventory on c a Widget of
// broken.example.com, as if geofed had applied one while its API served.
func recordWidget(t *testing.T, c *lab.Cluster, topo string) {
	t.Helper()
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	cm, err := cs.CoreV1().ConfigMaps(inventory.ParentNamespace).Get(ctx, inventory.ParentName(topo), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var entries []inventory.Entry
	if err := json.Unmarshal([]byte(cm.Data["inventory.json"]), &entries); err != nil {
		t.Fatal(err)
	}
	entries = append(entries, inventory.Entry{Group: "broken.example.com", Version: "v1", Kind: "Widget", Namespace: "web-a", Name: "w", UID: "0d5c2a8e-1f3b-4c7d-9e6a-2b4f8c1d3e5a"})
	data, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["inventory.json"] = string(data)
	if _, err := cs.CoreV1().ConfigMaps(inventory.ParentNamespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
