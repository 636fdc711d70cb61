package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/apply"
	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// TestPlan walks the plan acceptance of the seed scenario: one GKE cluster
// missing (training-us), one existing (serving-eu), one joined (serving-us).
func TestPlan(t *testing.T) {
	e := newEnv(t, gpuNodes("serving-us", "us-east1", 3))
	e.createGKE("serving-eu")

	// 1. Nothing applied yet: training-us is created with all its objects,
	// the existing clusters get every object as new, through dry-run.
	r := e.run("plan", "-f", e.topology, "--detailed-exitcode")
	if r.code != 2 {
		t.Fatalf("plan: exit %d, want 2 (changes)\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	golden(t, "plan-fresh.golden", r.stdout)

	// 2. Apply to the existing clusters (what apply does per cluster), then
	// the plan shows no object changes there.
	e.applyExisting("serving-eu", "serving-us")
	r = e.run("plan", "-f", e.topology, "-o", "json")
	if r.code != 0 {
		t.Fatalf("plan -o json: exit %d\n%s", r.code, r.stderr)
	}
	p := decodePlan(t, r.stdout)
	for _, name := range []string{"serving-eu", "serving-us"} {
		c := findCluster(t, p, name)
		if got := changed(c); len(got) != 0 {
			t.Errorf("%s after apply: changes %v, want none", name, got)
		}
		// Unchanged objects need no dry-run: the version check, discovery,
		// the kube-system GET that tells one cluster from another, a GET of
		// the inventory and a LIST per kind and namespace: at most 2 per
		// object besides the identity GET. model-server divides its
		// replicas, so capacity is counted from a LIST of nodes (which also
		// gives a GKE cluster's node pool sizes) and one of bound pods.
		if budget := 2*len(c.Objects) + 1 + 2; int(c.Requests) > budget {
			t.Errorf("%s: %d requests for %d objects, want <= %d", name, c.Requests, len(c.Objects), budget)
		}
		for _, o := range c.Objects {
			if o.DryRun {
				t.Errorf("%s: %s %s/%s was dry-run although unchanged", name, o.Kind, o.Namespace, o.Name)
			}
		}
		t.Logf("%s: %d objects planned with %d requests", name, len(c.Objects), c.Requests)
	}
	if c := findCluster(t, p, "training-us"); c.GKE == nil || c.GKE.Action != object.ActionCreate {
		t.Errorf("training-us: GKE change %+v, want create", c.GKE)
	}

	// 3. Someone edits live objects: the plan shows exactly those fields.
	e.kubectl("serving-us", "scale", "-n", "serving", "deployment/model-server", "--replicas=7")
	e.kubectlGKE("serving-eu", "set", "image", "-n", "serving", "deployment/model-server", "model-server=us-docker.pkg.dev/acme-ml/serving/model-server:hotfix")
	// base64 of "leaked-value": a Secret edited live shows as changed, never
	// with its value.
	e.kubectl("serving-us", "patch", "secret", "-n", "serving", "model-server-token", "-p", `{"data":{"token":"bGVha2VkLXZhbHVl"}}`)
	r = e.run("plan", "-f", e.topology, "--detailed-exitcode")
	if r.code != 2 {
		t.Fatalf("plan after edits: exit %d, want 2\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"~ apps/Deployment serving/model-server (conflict with \"kubectl\" with subresource \"scale\"",
		"~ spec.replicas: 7 → 2",
		"~ spec.template.spec.containers[0].image: us-docker.pkg.dev/acme-ml/serving/model-server:hotfix → ",
		"~ data.token: (sensitive) → (sensitive, changed)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan after edits lacks %q:\n%s", want, r.stdout)
		}
	}
	golden(t, "plan-drift.golden", r.stdout)
	noSecrets(t, r.stdout, e.run("plan", "-f", e.topology, "--diff").stdout, e.run("plan", "-f", e.topology, "-o", "json", "--diff").stdout)

	// 4. The changed set equals kubectl diff --server-side's, per cluster.
	e.compareWithKubectlDiff(t, "serving-us")
	e.compareWithKubectlDiff(t, "serving-eu")

	// 5. A workload removed from the topology: its objects are pruned (-).
	e.editFile("topology.yaml", func(s string) string {
		i := strings.Index(s, "  - name: model-server")
		if i < 0 {
			return s
		}
		return s[:i]
	})
	r = e.run("plan", "-f", e.topology, "-o", "json")
	if r.code != 0 {
		t.Fatalf("plan without model-server: exit %d\n%s", r.code, r.stderr)
	}
	p = decodePlan(t, r.stdout)
	for _, name := range []string{"serving-eu", "serving-us"} {
		c := findCluster(t, p, name)
		var deleted []string
		for _, o := range c.Objects {
			if o.Action != object.ActionDelete {
				t.Errorf("%s: %s %s is %s, want delete", name, o.Kind, o.Name, o.Action)
			}
			deleted = append(deleted, o.Kind+"/"+o.Name)
		}
		sort.Strings(deleted)
		want := []string{"ConfigMap/model-server-config", "Deployment/model-server", "Namespace/serving", "Secret/model-server-token", "Service/model-server"}
		if strings.Join(deleted, " ") != strings.Join(want, " ") {
			t.Errorf("%s: deletes %v, want %v", name, deleted, want)
		}
	}
	if p.Summary.ObjectsToDelete != 10 {
		t.Errorf("summary: %d objects to delete, want 10", p.Summary.ObjectsToDelete)
	}
	noSecrets(t, r.stdout, e.run("plan", "-f", e.topology, "--diff").stdout)
}

// noSecrets fails when a Secret value of the scenario (as written, as
// edited live, or decoded) appears in any output.
func noSecrets(t *testing.T, outputs ...string) {
	t.Helper()
	values := []string{
		"cGxhY2Vob2xkZXItbm90LWEtcmVhbC10b2tlbg==", "placeholder-not-a-real-token",
		"bGVha2VkLXZhbHVl", "leaked-value",
	}
	for i, out := range outputs {
		for _, v := range values {
			if strings.Contains(out, v) {
				t.Errorf("output %d contains the Secret value %q", i, v)
			}
		}
	}
}

// TestPlanUnreachable: a cluster that cannot be reached is reported in its
// region with the reason, the other regions are still planned, exit 1.
func TestPlanUnreachable(t *testing.T) {
	e := newEnv(t, gpuNodes("serving-us", "us-east1", 2))
	if err := e.joined["serving-us"].StopAPIServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := e.run("plan", "-f", e.topology, "--cluster-timeout", "3s")
	if r.code != 1 {
		t.Fatalf("plan: exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	region := section(r.stdout, "Region us-east1")
	if !strings.Contains(region, "! cluster serving-us (joined): unreachable: ") || !strings.Contains(region, "refused the connection") {
		t.Errorf("us-east1 does not report serving-us unreachable with the reason:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	for _, want := range []string{"Region europe-west1", "+ cluster serving-eu", "Region us-west1", "+ cluster training-us"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "serving-us unreachable") || !strings.Contains(r.stdout, "excluded") {
		t.Errorf("placement does not warn that serving-us is excluded:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "1 cluster(s) unreachable") {
		t.Errorf("stderr does not say why the plan failed: %q", r.stderr)
	}
	// The other serving cluster takes serving-us's share, up to max 5.
	if !regexp.MustCompile(`serving-eu 5`).MatchString(r.stdout) {
		t.Errorf("serving-eu did not take the redistributed share:\n%s", r.stdout)
	}
}

func section(out, head string) string {
	i := strings.Index(out, head)
	if i < 0 {
		return ""
	}
	rest := out[i:]
	if j := strings.Index(rest, "\n\n"); j >= 0 {
		return rest[:j]
	}
	return rest
}

func decodePlan(t *testing.T, s string) *plan.Plan {
	t.Helper()
	var p plan.Plan
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		t.Fatalf("decoding plan JSON: %v\n%s", err, s)
	}
	if p.FormatVersion != plan.FormatVersion {
		t.Fatalf("formatVersion %q, want %q", p.FormatVersion, plan.FormatVersion)
	}
	return &p
}

func findCluster(t *testing.T, p *plan.Plan, name string) plan.Cluster {
	t.Helper()
	for _, r := range p.Regions {
		for _, c := range r.Clusters {
			if c.Name == name {
				return c
			}
		}
	}
	t.Fatalf("cluster %s not in the plan", name)
	return plan.Cluster{}
}

func changed(c plan.Cluster) []string {
	var out []string
	for _, o := range c.Objects {
		if o.Action != object.ActionNoop {
			out = append(out, string(o.Action)+" "+o.Kind+" "+o.Namespace+"/"+o.Name)
		}
	}
	return out
}

// memberConn connects to a cluster of the scenario as geofed does.
func (e *env) memberConn(ctx context.Context, t *topology.Topology, name string) *member.Conn {
	e.t.Helper()
	ref, _ := t.Cluster(name)
	target := member.Target{Name: name, Region: ref.Region, Kubeconfig: ref.Cluster.Kubeconfig}
	if ref.Cluster.Managed() {
		client, err := gke.NewClient(ctx, gke.ClientOptions{EmulatorHost: e.emuAddr})
		if err != nil {
			e.t.Fatal(err)
		}
		defer client.Close()
		d := gke.Desired(t, ref)
		live, err := client.GetCluster(ctx, gke.Project(d), d.GetLocation(), name)
		if err != nil || live == nil {
			e.t.Fatalf("getting GKE cluster %s: %v", name, err)
		}
		target.Config, err = gke.RESTConfig(live, nil)
		if err != nil {
			e.t.Fatal(err)
		}
	}
	conns := member.Connect(ctx, []member.Target{target}, member.Options{KubeconfigPath: e.kubecfg})
	if conns[0].Err != nil {
		e.t.Fatalf("connecting to %s: %v", name, conns[0].Err)
	}
	return conns[0]
}

// applyExisting applies the scenario to clusters that exist, with geofed's
// per-cluster apply.
func (e *env) applyExisting(names ...string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t, err := topology.Load(e.topology)
	if err != nil {
		e.t.Fatal(err)
	}
	d, err := desired.Compute(desired.Options{Topology: t})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, name := range names {
		conn := e.memberConn(ctx, t, name)
		dc, _ := d.Cluster(name)
		if _, err := apply.Cluster(ctx, apply.ClusterOptions{
			Topology: t.Metadata.Name, Cluster: name, Client: conn.Dynamic, Mapper: conn.Mapper, Objects: dc.Objects, Prune: true,
		}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// kubectlBin is the lab's kubectl, of the lab's Kubernetes version.
func kubectlBin(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GEOFED_LAB_BIN")
	for _, name := range []string{"kubectl", "kube"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			if name == "kube" {
				return p + " kubectl"
			}
			return p
		}
	}
	t.Fatalf("no kubectl in GEOFED_LAB_BIN=%q (make lab-bin builds it)", dir)
	return ""
}

// kubectl runs the lab's kubectl against a joined cluster's context.
func (e *env) kubectl(context string, args ...string) string {
	e.t.Helper()
	return e.kubectlWith(append([]string{"--kubeconfig", e.kubecfg, "--context", context}, args...)...)
}

// kubectlGKE runs kubectl against an emulator cluster.
func (e *env) kubectlGKE(name string, args ...string) string {
	e.t.Helper()
	return e.kubectlWith(append([]string{"--kubeconfig", e.gkeKubeconfig(name)}, args...)...)
}

func (e *env) kubectlWith(args ...string) string {
	e.t.Helper()
	bin := strings.Fields(kubectlBin(e.t))
	cmd := exec.Command(bin[0], append(bin[1:], args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		// kubectl diff exits 1 when there are differences.
		if !(len(args) > 0 && containsArg(args, "diff") && errors.As(err, &ee) && ee.ExitCode() == 1) {
			e.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return string(out)
}

func containsArg(args []string, a string) bool {
	for _, x := range args {
		if x == a {
			return true
		}
	}
	return false
}

// gkeKubeconfig writes a kubeconfig for an emulator cluster from GetCluster.
func (e *env) gkeKubeconfig(name string) string {
	e.t.Helper()
	ctx := context.Background()
	t, err := topology.Load(e.topology)
	if err != nil {
		e.t.Fatal(err)
	}
	conn := e.memberConn(ctx, t, name)
	cfg := conn.Config
	kc := map[string]interface{}{
		"apiVersion":      "v1",
		"kind":            "Config",
		"current-context": name,
		"clusters":        []interface{}{map[string]interface{}{"name": name, "cluster": map[string]interface{}{"server": cfg.Host, "certificate-authority-data": cfg.CAData}}},
		"users":           []interface{}{map[string]interface{}{"name": name, "user": map[string]interface{}{"client-certificate-data": cfg.CertData, "client-key-data": cfg.KeyData}}},
		"contexts":        []interface{}{map[string]interface{}{"name": name, "context": map[string]interface{}{"cluster": name, "user": name}}},
	}
	b, err := yaml.Marshal(kc)
	if err != nil {
		e.t.Fatal(err)
	}
	path := filepath.Join(e.t.TempDir(), name+".kubeconfig")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// compareWithKubectlDiff checks that the objects plan reports as changed on
// a cluster are exactly those `kubectl diff --server-side` reports for the
// same manifests and field manager.
func (e *env) compareWithKubectlDiff(t *testing.T, name string) {
	t.Helper()
	topo, err := topology.Load(e.topology)
	if err != nil {
		t.Fatal(err)
	}
	d, err := desired.Compute(desired.Options{Topology: topo})
	if err != nil {
		t.Fatal(err)
	}
	dc, _ := d.Cluster(name)
	var docs []string
	for _, o := range dc.Objects {
		b, err := yaml.Marshal(o.Object.Object)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	manifest := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(manifest, []byte(strings.Join(docs, "---\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	// --force-conflicts: the plan shows what forcing would change too, and
	// marks it a conflict.
	args := []string{"diff", "--server-side", "--force-conflicts", "--field-manager=kubectl-geofed", "-f", manifest}
	var out string
	if ref, _ := topo.Cluster(name); ref.Cluster.Managed() {
		out = e.kubectlGKE(name, args...)
	} else {
		out = e.kubectl(name, args...)
	}
	// kubectl names each differing object's file group.version.Kind.namespace.name.
	kubectlSet := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^diff -u -N \S+/(\S+) `).FindAllStringSubmatch(out, -1) {
		kubectlSet[m[1]] = true
	}

	r := e.run("plan", "-f", e.topology, "-o", "json")
	p := decodePlan(t, r.stdout)
	planSet := map[string]bool{}
	for _, o := range findCluster(t, p, name).Objects {
		if o.Action == object.ActionNoop {
			continue
		}
		gv := o.Version
		if o.Group != "" {
			gv = o.Group + "." + o.Version
		}
		key := gv + "." + o.Kind + "."
		if o.Namespace != "" {
			key += o.Namespace + "."
		}
		planSet[key+o.Name] = true
	}
	if len(planSet) == 0 {
		t.Errorf("%s: the plan reports no changes; the parity check needs some", name)
	}
	if strings.Join(sortedSet(planSet), " ") != strings.Join(sortedSet(kubectlSet), " ") {
		t.Errorf("%s: plan reports %v changed, kubectl diff --server-side %v\nkubectl output:\n%s", name, sortedSet(planSet), sortedSet(kubectlSet), out)
	}
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
