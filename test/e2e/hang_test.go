package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// hungBound is how long any command may take with one member hung. With
// --cluster-timeout 5s and --request-timeout 10s a hung member should cost
// seconds; the bound is loose because the lab machine is small and shared,
// but far below what waiting on the member would take (forever).
const hungBound = time.Minute

// hungFlags keep the member deadlines short.
var hungFlags = []string{"--cluster-timeout", "5s", "--request-timeout", "10s"}

// TestHungMember: the apiserver of one of two joined clusters is paused
// (SIGSTOP), so connections to it are accepted and never answered rather
// than refused. Plan, apply and reading spare capacity give up on it in
// bounded time, name it, and go on with the other cluster; once it is
// resumed it is planned like the other.
func TestHungMember(t *testing.T) {
	e := newEnv(t, gpuNodes("steady", "us-east1", 2), gpuNodes("paused", "europe-west1", 2))
	topo := writeHungTopology(t, false)
	if err := e.joined["paused"].PauseAPIServer(); err != nil {
		t.Fatal(err)
	}

	t.Run("plan", func(t *testing.T) {
		r := e.runBounded(t, append([]string{"plan", "-f", topo}, hungFlags...)...)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		// Given up on after --cluster-timeout, not refused.
		if region := section(r.stdout, "Region europe-west1"); !strings.Contains(region, "! cluster paused (joined): unreachable: ") || !strings.Contains(region, "within 5s") {
			t.Errorf("europe-west1 does not report paused unreachable after 5s:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		}
		if region := section(r.stdout, "Region us-east1"); !strings.Contains(region, "cluster steady") || !strings.Contains(region, "+ ConfigMap hang/web-config") {
			t.Errorf("us-east1 does not plan steady's objects:\n%s", r.stdout)
		}
		if !strings.Contains(r.stderr, "1 cluster(s) unreachable") {
			t.Errorf("stderr does not say why the plan failed: %q", r.stderr)
		}
	})

	t.Run("apply", func(t *testing.T) {
		r := e.runBounded(t, append([]string{"apply", "-f", topo, "--yes", "--timeout", "45s"}, hungFlags...)...)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{"! paused (europe-west1): failed: unreachable", "steady (us-east1): 3 applied"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("apply summary lacks %q:\nstdout:\n%s\nstderr:\n%s", want, r.stdout, r.stderr)
			}
		}
		ctx := context.Background()
		cs := hungClient(t, e, "steady")
		cm, err := cs.CoreV1().ConfigMaps("hang").Get(ctx, "web-config", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("steady: ConfigMap hang/web-config: %v", err)
		}
		if cm.Data["greeting"] != "hello" || cm.Labels["geofed.io/topology"] != "hang" {
			t.Errorf("steady: ConfigMap hang/web-config data %v labels %v, want greeting=hello and the topology's label", cm.Data, cm.Labels)
		}
		if _, err := cs.AppsV1().Deployments("hang").Get(ctx, "web", metav1.GetOptions{}); err != nil {
			t.Errorf("steady: Deployment hang/web: %v", err)
		}
	})

	// trainer divides its 2 replicas by spare GPUs: steady has 2 free, and
	// paused cannot say.
	topo = writeHungTopology(t, true)

	t.Run("render reads capacity", func(t *testing.T) {
		// render places as if every cluster were reachable, so it cannot
		// leave paused out: it names it, why, and the figure to give.
		r := e.runBounded(t, "render", "-f", topo, "--cluster-timeout", "5s")
		if r.code != 1 || !strings.Contains(r.stderr, "paused") || !strings.Contains(r.stderr, "--capacity paused=N") || !strings.Contains(r.stderr, "within 5s") {
			t.Errorf("render: exit %d, want 1 naming paused and how to give its figure\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		// With paused's figure given, steady's is read and all of trainer
		// goes there.
		r = e.runBounded(t, "render", "-f", topo, "--cluster-timeout", "5s", "--cluster", "steady", "--capacity", "paused=0")
		if r.code != 0 {
			t.Fatalf("render --capacity paused=0: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(trainerManifest(r.stdout), "replicas: 2") {
			t.Errorf("render --capacity paused=0 does not give steady both trainer replicas:\n%s", r.stdout)
		}
	})

	t.Run("plan reads capacity", func(t *testing.T) {
		r := e.runBounded(t, append([]string{"plan", "-f", topo, "-o", "json"}, hungFlags...)...)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		p := decodePlan(t, r.stdout)
		if c := findCluster(t, p, "paused"); c.Unreachable == "" {
			t.Errorf("paused: not unreachable in the plan: %+v", c)
		}
		shares := hungShares(t, p, "trainer")
		if s := shares["paused"]; s.Excluded == "" || s.Replicas != nil {
			t.Errorf("trainer on paused: %+v, want excluded with the reason", s)
		}
		if s := shares["steady"]; s.Replicas == nil || *s.Replicas != 2 || s.Weight == nil || *s.Weight != 2 {
			t.Errorf("trainer on steady: %+v, want its 2 spare GPUs read and both replicas", s)
		}
		if c := findCluster(t, p, "steady"); c.Unreachable != "" || c.Error != "" || len(changed(c)) == 0 {
			t.Errorf("steady: not planned: %+v", c)
		}
	})

	if err := e.joined["paused"].ResumeAPIServer(); err != nil {
		t.Fatal(err)
	}
	waitHungRecovered(t, e, "paused")

	t.Run("resumed", func(t *testing.T) {
		r := e.runBounded(t, append([]string{"plan", "-f", topo, "-o", "json"}, hungFlags...)...)
		if r.code != 0 {
			t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		p := decodePlan(t, r.stdout)
		c := findCluster(t, p, "paused")
		if c.Unreachable != "" || c.Error != "" {
			t.Fatalf("paused after resuming: unreachable %q, error %q", c.Unreachable, c.Error)
		}
		creates := 0
		for _, o := range c.Objects {
			if o.Action == object.ActionCreate {
				creates++
			}
		}
		if creates != len(c.Objects) || creates == 0 {
			t.Errorf("paused after resuming: %v, want every object created (nothing was applied there)", changed(c))
		}
		shares := hungShares(t, p, "trainer")
		for _, name := range []string{"paused", "steady"} {
			if s := shares[name]; s.Excluded != "" || s.Replicas == nil || *s.Replicas != 1 {
				t.Errorf("trainer on %s after resuming: %+v, want 1 of 2 replicas", name, s)
			}
		}
	})

	// Paused once connected, mid-apply: as soon as paused's objects are
	// applied, while apply waits for them to be ready (trainer is not
	// available before its minReadySeconds).
	t.Run("paused while apply waits", func(t *testing.T) {
		start := time.Now()
		args := append([]string{"apply", "-f", topo, "--yes", "--timeout", "20s"}, hungFlags...)
		r, paused := e.runPausing(t, e.joined["paused"], "paused: 4 objects applied", args...)
		elapsed := time.Since(start)
		t.Logf("kubectl-geofed %s: exit %d in %s", strings.Join(args, " "), r.code, elapsed.Round(100*time.Millisecond))
		if !paused {
			t.Fatalf("paused's objects were never applied\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		}
		// The readiness deadline, then a last look at the pods (5s) and
		// releasing the apply lock (10s), each on a hung connection.
		if elapsed > hungBound {
			t.Errorf("apply took %s, want under %s with a member hung mid-apply", elapsed, hungBound)
		}
		if r.code != 1 {
			t.Errorf("exit %d, want 1", r.code)
		}
		for _, want := range []string{"! paused (europe-west1): 4 applied, 0 pruned, failed: cluster paused: not ready after 20s", "steady (us-east1): 1 applied, 0 pruned, ready"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("apply summary lacks %q\nstdout:\n%s\nstderr:\n%s", want, r.stdout, r.stderr)
			}
		}
	})

	// Resumed, paused takes a change and is ready: the apply lock that the
	// hung apply could not release has expired meanwhile.
	if err := e.joined["paused"].ResumeAPIServer(); err != nil {
		t.Fatal(err)
	}
	waitHungRecovered(t, e, "paused")
	t.Run("applied after resuming", func(t *testing.T) {
		web := filepath.Join(filepath.Dir(topo), "apps", "web", "manifests.yaml")
		b, err := os.ReadFile(web)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(web, []byte(strings.Replace(string(b), "greeting: hello", "greeting: again", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		r := e.runBounded(t, append([]string{"apply", "-f", topo, "--yes", "--timeout", "45s"}, hungFlags...)...)
		if r.code != 0 {
			t.Fatalf("exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		cs := hungClient(t, e, "paused")
		ctx := context.Background()
		cm, err := cs.CoreV1().ConfigMaps("hang").Get(ctx, "web-config", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cm.Data["greeting"] != "again" {
			t.Errorf("paused: ConfigMap hang/web-config data %v, want greeting=again", cm.Data)
		}
		d, err := cs.AppsV1().Deployments("hang").Get(ctx, "trainer", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status.AvailableReplicas != 1 {
			t.Errorf("paused: Deployment hang/trainer has %d available replicas, want 1", d.Status.AvailableReplicas)
		}
	})
}

// runPausing runs kubectl-geofed as run does, and pauses cluster c's
// apiserver as soon as a line of stderr contains marker; paused says
// whether one did.
func (e *env) runPausing(t *testing.T, c *lab.Cluster, marker string, args ...string) (r result, paused bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.kubecfg, gke.EmulatorHostEnv+"="+e.emuAddr, "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(pipe)
	for lines.Scan() {
		stderr.WriteString(lines.Text() + "\n")
		if !paused && strings.Contains(lines.Text(), marker) {
			if err := c.PauseAPIServer(); err != nil {
				t.Error(err)
			}
			paused = true
		}
	}
	err = cmd.Wait()
	r = result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running kubectl-geofed %s: %v", strings.Join(args, " "), err)
	}
	return r, paused
}

// runBounded runs kubectl-geofed and fails the test when it takes longer
// than hungBound.
func (e *env) runBounded(t *testing.T, args ...string) result {
	t.Helper()
	start := time.Now()
	r := e.run(args...)
	elapsed := time.Since(start)
	t.Logf("kubectl-geofed %s: exit %d in %s", strings.Join(args, " "), r.code, elapsed.Round(100*time.Millisecond))
	if elapsed > hungBound {
		t.Errorf("kubectl-geofed %s took %s, want under %s with a hung member", strings.Join(args, " "), elapsed, hungBound)
	}
	return r
}

// writeHungTopology writes a topology of the two lab clusters into a new
// directory: workload web on both, and with capacity, workload trainer,
// which divides 2 one-GPU replicas by spare GPUs and is available 5s after
// its pods run.
func writeHungTopology(t *testing.T, capacity bool) string {
	t.Helper()
	dir := t.TempDir()
	topo := `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: hang
spec:
  regions:
  - name: us-east1
    clusters:
    - name: steady
      kubeconfig:
        context: steady
  - name: europe-west1
    clusters:
    - name: paused
      kubeconfig:
        context: paused
  workloads:
  - name: web
    source: apps/web
`
	apps := map[string]string{"web": `apiVersion: v1
kind: Namespace
metadata:
  name: hang
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: hang
data:
  greeting: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: hang
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
`}
	if capacity {
		topo += `  - name: trainer
    source: apps/trainer
    placement:
      replicas:
        total: 2
        divideBy: capacity
        resource: nvidia.com/gpu
`
		apps["trainer"] = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: trainer
  namespace: hang
spec:
  replicas: 1
  minReadySeconds: 5
  selector:
    matchLabels:
      app: trainer
  template:
    metadata:
      labels:
        app: trainer
    spec:
      containers:
      - name: main
        image: registry.example/trainer:1
        resources:
          limits:
            nvidia.com/gpu: 1
`
	}
	files := map[string]string{"topology.yaml": topo}
	for name, manifests := range apps {
		files[filepath.Join("apps", name, "kustomization.yaml")] = "resources:\n- manifests.yaml\n"
		files[filepath.Join("apps", name, "manifests.yaml")] = manifests
	}
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

// trainerManifest is the trainer Deployment's document in render's YAML.
func trainerManifest(rendered string) string {
	for doc := range strings.SplitSeq(rendered, "\n---\n") {
		if strings.Contains(doc, "kind: Deployment") && strings.Contains(doc, "name: trainer\n") {
			return doc
		}
	}
	return ""
}

func hungShares(t *testing.T, p *plan.Plan, workload string) map[string]placement.Share {
	t.Helper()
	for _, res := range p.Placements {
		if res.Workload == workload {
			out := map[string]placement.Share{}
			for _, s := range res.Shares {
				out[s.Cluster] = s
			}
			return out
		}
	}
	t.Fatalf("no placement of workload %s in the plan", workload)
	return nil
}

func hungClient(t *testing.T, e *env, name string) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(e.joined[name].RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// waitHungRecovered waits until a resumed cluster serves and its nodes are
// Ready without taints again: its controllers were stalled along with it,
// and capacity counts Ready, untainted nodes only.
func waitHungRecovered(t *testing.T, e *env, name string) {
	t.Helper()
	cs := hungClient(t, e, name)
	start := time.Now()
	var why string
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			why = err.Error()
			return false, nil
		}
		for _, n := range nodes.Items {
			if len(n.Spec.Taints) > 0 {
				why = fmt.Sprintf("node %s has taints %v", n.Name, n.Spec.Taints)
				return false, nil
			}
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
					why = fmt.Sprintf("node %s is Ready=%s", n.Name, c.Status)
					return false, nil
				}
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("%s after resuming: %s: %v", name, why, err)
	}
	t.Logf("%s serves with Ready nodes %s after resuming", name, time.Since(start).Round(100*time.Millisecond))
}
