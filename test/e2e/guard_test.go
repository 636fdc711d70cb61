package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// guardTopology is three clusters of one storefront: web goes where
// tier=front (labels[] gives each cluster's tier), api goes everywhere.
func guardTopology(tiers [3]string) string {
	return fmt.Sprintf(`apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: storefront}
spec:
  regions:
  - name: us-east1
    clusters:
    - {name: web-a, labels: {tier: %s}, kubeconfig: {context: web-a}}
  - name: europe-west1
    clusters:
    - {name: web-b, labels: {tier: %s}, kubeconfig: {context: web-b}}
  - name: asia-east1
    clusters:
    - {name: web-c, labels: {tier: %s}, kubeconfig: {context: web-c}}
  workloads:
  - name: web
    source: apps/web
    placement:
      clusterSelector: {matchLabels: {tier: front}}
  - name: api
    source: apps/api
`, tiers[0], tiers[1], tiers[2])
}

// guardWeb is the web workload: five objects, one of which (ConfigMap
// keep) carries geofed.io/prune: disabled on its manifest.
const guardWeb = `---
apiVersion: v1
kind: Namespace
metadata: {name: web}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: flags, namespace: web}
data: {color: blue}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: keep
  namespace: web
  annotations: {geofed.io/prune: disabled}
data: {why: audit trail}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
`

// TestPruneGuard is the incident of issue 24 on the lab: a label typo
// (tier: fornt) takes web off two of three clusters. apply makes every
// other change, deletes nothing there and exits 1 naming the guard; a saved
// plan that allows one of them prunes exactly that one; --allow-prune
// prunes the other. geofed.io/prune: disabled, on a manifest or set by
// hand on a live object, keeps an object through the prune and through
// destroy, recorded in the inventory until it goes.
func TestPruneGuard(t *testing.T) {
	clusters := []string{"web-a", "web-b", "web-c"}
	e := newEnv(t, gpuNodes("web-a", "us-east1", 1), gpuNodes("web-b", "europe-west1", 1), gpuNodes("web-c", "asia-east1", 1))
	dir := t.TempDir()
	file := filepath.Join(dir, "topology.yaml")
	write := func(rel, content string) {
		t.Helper()
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	api := func(version string) {
		write("apps/api/manifests.yaml", namespace("api")+configMap("api", "flags", version))
	}
	write("apps/web/kustomization.yaml", "resources:\n- manifests.yaml\n")
	write("apps/web/manifests.yaml", guardWeb+deployment("web", "web", 1, ""))
	write("apps/api/kustomization.yaml", "resources:\n- manifests.yaml\n")
	api("v1")
	write("topology.yaml", guardTopology([3]string{"front", "front", "front"}))

	if r := e.run("apply", "-f", file, "--yes"); r.code != 0 {
		t.Fatalf("first apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	webObjects := [][3]string{{"namespace", "", "web"}, {"configmap", "web", "flags"}, {"configmap", "web", "keep"}, {"service", "web", "web"}, {"deployment", "web", "web"}}
	for _, c := range clusters {
		for _, o := range webObjects {
			e.wantOn(c, true, o)
		}
	}

	// The typo, on web-a and web-b, with a change to api everywhere.
	write("topology.yaml", guardTopology([3]string{"fornt", "fornt", "front"}))
	api("v2")

	// plan says so, per cluster, naming the workload and why; it is still
	// a plan with changes (2).
	r := e.run("plan", "-f", file, "--detailed-exitcode")
	if r.code != 2 {
		t.Fatalf("plan after the typo: exit %d, want 2\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, c := range []string{"web-a", "web-b"} {
		want := fmt.Sprintf("! prune guard: %s would lose 3 of 7 objects geofed applied (workload web no longer selects it: clusterSelector tier=front, the cluster's labels tier=fornt): apply deletes nothing there without --allow-prune=%s", c, c)
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q\n%s", want, r.stdout)
		}
	}
	for _, want := range []string{
		"! ConfigMap web/keep: kept (prune disabled)",
		"2 clusters held by the prune guard",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "prune guard: web-c") {
		t.Errorf("plan guards web-c, which keeps web:\n%s", r.stdout)
	}
	// The JSON carries the guard per cluster.
	r = e.run("plan", "-f", file, "-o", "json")
	var p plan.Plan
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("plan -o json: %v\n%s", err, r.stdout)
	}
	for _, reg := range p.Regions {
		for _, c := range reg.Clusters {
			g := c.PruneGuard
			switch c.Name {
			case "web-c":
				if g != nil {
					t.Errorf("plan -o json: web-c guarded: %+v", g)
				}
			default:
				if !g.Held() || g.Deleting != 3 || g.Owned != 7 || len(g.Reasons) != 1 || !strings.HasPrefix(g.Reasons[0], "workload web no longer selects it") {
					t.Errorf("plan -o json: %s guard %+v, want held, 3 of 7, the workload's reason", c.Name, g)
				}
			}
		}
	}
	if p.PruneGuard == nil || p.PruneGuard.MaxPrune != "50%,10" || p.PruneGuard.Deleting != 6 || p.PruneGuard.Owned != 21 || p.Summary.Guarded != 2 {
		t.Errorf("plan -o json: guard %+v, summary %+v", p.PruneGuard, p.Summary)
	}

	// apply: every other change made, nothing deleted on either, exit 1
	// naming the guard and the clusters.
	r = e.run("apply", "-f", file, "--yes")
	if r.code != 1 || !strings.Contains(r.stderr, "prune guard: nothing deleted on web-a, web-b, every other change made") ||
		!strings.Contains(r.stderr, "--allow-prune=web-a,web-b") {
		t.Fatalf("apply after the typo: exit %d, want 1 naming the guard\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, c := range clusters {
		for _, o := range webObjects {
			e.wantOn(c, true, o)
		}
		if got := e.kubectl(c, "get", "configmap", "flags", "-n", "api", "-o", "jsonpath={.data.value}"); got != "v2" {
			t.Errorf("%s: api's ConfigMap flags is %q, want v2 (the other changes are made)", c, got)
		}
	}
	// Still recorded: geofed still owns them.
	for _, c := range []string{"web-a", "web-b"} {
		if keys := e.inventoryOn(c); !slices.Contains(keys, "apps/Deployment/web/web") {
			t.Errorf("%s: inventory %v lost the held Deployment", c, keys)
		}
	}

	// A person marks web-a's ConfigMap flags by hand.
	e.kubectl("web-a", "annotate", "configmap", "flags", "-n", "web", "geofed.io/prune=disabled")

	// A saved plan that allows web-b: applying it prunes web-b only, and
	// is refused any other allowance.
	saved := filepath.Join(dir, "allow-b.json")
	if r = e.run("plan", "-f", file, "--out", saved, "--allow-prune=web-b"); r.code != 0 {
		t.Fatalf("plan --out --allow-prune=web-b: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r = e.run("apply", saved, "--allow-prune=all"); r.code != 1 || !strings.Contains(r.stderr, "a saved plan records its prune guard") {
		t.Errorf("apply of a saved plan with --allow-prune: exit %d, want 1 and refused\n%s", r.code, r.stderr)
	}
	r = e.run("apply", saved)
	if r.code != 1 || !strings.Contains(r.stderr, "prune guard: nothing deleted on web-a,") {
		t.Fatalf("apply of the plan allowing web-b: exit %d, want 1 naming web-a\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, o := range webObjects {
		e.wantOn("web-a", true, o)
	}
	e.waitPruned("web-b", [][3]string{{"configmap", "web", "flags"}, {"service", "web", "web"}, {"deployment", "web", "web"}})
	e.wantOn("web-b", true, [3]string{"configmap", "web", "keep"})
	e.wantOn("web-b", true, [3]string{"namespace", "", "web"}) // it holds keep

	// --allow-prune for both: web-a's deletions go, but for what carries
	// the annotation, on the manifest or by hand.
	r = e.run("apply", "-f", file, "--yes", "--allow-prune=web-a,web-b")
	if r.code != 0 {
		t.Fatalf("apply --allow-prune=web-a,web-b: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "! ConfigMap web/flags: kept (prune disabled)") {
		t.Errorf("apply's plan does not show web-a's flags kept:\n%s", r.stdout)
	}
	e.waitPruned("web-a", [][3]string{{"service", "web", "web"}, {"deployment", "web", "web"}})
	for _, o := range [][3]string{{"configmap", "web", "flags"}, {"configmap", "web", "keep"}, {"namespace", "", "web"}} {
		e.wantOn("web-a", true, o)
	}
	for _, o := range webObjects {
		e.wantOn("web-c", true, o)
	}
	keys := e.inventoryOn("web-a")
	for _, k := range []string{"/ConfigMap/web/flags", "/ConfigMap/web/keep", "/Namespace//web"} {
		if !slices.Contains(keys, k) {
			t.Errorf("web-a: inventory %v lacks %s, kept by its annotation", keys, k)
		}
	}
	if slices.Contains(keys, "apps/Deployment/web/web") {
		t.Errorf("web-a: inventory %v still records the pruned Deployment", keys)
	}
	if r = e.run("plan", "-f", file); r.code != 0 || strings.Contains(r.stdout, "prune guard") {
		t.Errorf("plan after the allowed prune: exit %d, still guarded?\n%s", r.code, r.stdout)
	}

	// destroy keeps what carries the annotation, and says so.
	r = e.onTerminal("yes\n", "destroy", "-f", file)
	if r.code != 1 || !strings.Contains(r.stdout, "kept (prune disabled)") {
		t.Fatalf("destroy: exit %d, want 1 (kept)\n%s", r.code, r.stdout)
	}
	e.waitPruned("web-c", [][3]string{{"configmap", "web", "flags"}, {"service", "web", "web"}, {"deployment", "web", "web"}, {"configmap", "api", "flags"}})
	e.wantOn("web-c", true, [3]string{"configmap", "web", "keep"})
	e.wantOn("web-a", true, [3]string{"configmap", "web", "flags"})
	for _, c := range clusters {
		e.wantOn(c, true, [3]string{"configmap", "web", "keep"})
		if keys := e.inventoryOn(c); !slices.Contains(keys, "/ConfigMap/web/keep") {
			t.Errorf("%s: inventory after destroy %v lacks ConfigMap web/keep", c, keys)
		}
	}

	// Once the annotation goes, destroy deletes it.
	for _, c := range clusters {
		e.kubectl(c, "annotate", "configmap", "keep", "-n", "web", "geofed.io/prune-")
	}
	e.kubectl("web-a", "annotate", "configmap", "flags", "-n", "web", "geofed.io/prune-")
	if r = e.onTerminal("yes\n", "destroy", "-f", file); r.code != 0 {
		t.Fatalf("destroy once the annotations went: exit %d\n%s", r.code, r.stdout)
	}
	for _, c := range clusters {
		e.waitPruned(c, [][3]string{{"configmap", "web", "keep"}})
	}
	e.waitPruned("web-a", [][3]string{{"configmap", "web", "flags"}})
}

// wantOn checks that the object (kind, namespace, name) exists on the
// cluster, or does not.
func (e *env) wantOn(cluster string, exists bool, o [3]string) {
	e.t.Helper()
	args := []string{"get", o[0], o[2], "--ignore-not-found", "-o", "name"}
	if o[1] != "" {
		args = append(args, "-n", o[1])
	}
	if got := strings.TrimSpace(e.kubectl(cluster, args...)) != ""; got != exists {
		e.t.Errorf("%s: %s %s/%s exists = %v, want %v", cluster, o[0], o[1], o[2], got, exists)
	}
}

// waitPruned waits until the objects are gone from the cluster (a
// Deployment's foreground bits take the lab's controllers a moment).
func (e *env) waitPruned(cluster string, objs [][3]string) {
	e.t.Helper()
	for _, o := range objs {
		args := []string{"wait", "--for=delete", o[0] + "/" + o[2], "--timeout=60s"}
		if o[1] != "" {
			args = append(args, "-n", o[1])
		}
		e.kubectl(cluster, args...)
		e.wantOn(cluster, false, o)
	}
}

// inventoryOn lists the keys geofed's inventory of storefront records on
// the cluster.
func (e *env) inventoryOn(cluster string) []string {
	e.t.Helper()
	out := e.kubectl(cluster, "get", "configmap", inventory.ParentName("storefront"), "-n", inventory.ParentNamespace, "-o", "jsonpath={.data.inventory\\.json}")
	var entries []inventory.Entry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		e.t.Fatalf("%s: decoding the inventory: %v\n%s", cluster, err, out)
	}
	var keys []string
	for _, en := range entries {
		keys = append(keys, en.Key())
	}
	slices.Sort(keys)
	return keys
}
