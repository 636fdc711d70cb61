package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/geofed-io/kubectl-geofed/internal/lab/gkeemu"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// TestApply walks the apply acceptance of the seed scenario: the joined
// cluster serving-us exists, neither GKE cluster does.
func TestApply(t *testing.T) {
	e := newEnv(t, gpuNodes("serving-us", "us-east1", 3))

	// 1. No terminal to confirm on and no --yes: refused, nothing changed.
	r := e.run("apply", "-f", e.topology)
	if r.code != 1 || !strings.Contains(r.stderr, "refusing to apply without confirmation") {
		t.Fatalf("apply without --yes: exit %d, want 1 and a refusal\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "+ cluster training-us") {
		t.Errorf("apply without --yes did not show the plan first:\n%s", r.stdout)
	}
	if names := e.gkeClusters(); len(names) != 0 {
		t.Errorf("after a refused apply GKE has clusters %v, want none", names)
	}
	if _, err := e.clientset("serving-us").CoreV1().Namespaces().Get(context.Background(), "serving", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after a refused apply, namespace serving on serving-us: %v, want NotFound", err)
	}

	// 2. --yes: both GKE clusters are created through the emulator,
	// everything is applied and waited for.
	start := time.Now()
	r = e.run("apply", "-f", e.topology, "--yes")
	elapsed := time.Since(start)
	if r.code != 0 {
		t.Fatalf("apply --yes: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("apply --yes took %s (two GKE clusters created, 14 objects applied, waited until ready); progress:\n%s", elapsed.Round(100*time.Millisecond), r.stderr)
	golden(t, "apply-fresh.golden", r.stdout)
	for _, want := range []string{"training-us: creating GKE cluster training-us", "serving-eu: creating GKE cluster serving-eu", "CREATE_CLUSTER: DONE", "serving-us: ready"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("progress lacks %q:\n%s", want, r.stderr)
		}
	}
	if names := e.gkeClusters(); strings.Join(names, " ") != "serving-eu training-us" {
		t.Errorf("GKE clusters after apply: %v, want serving-eu and training-us", names)
	}
	e.wantAvailable("training-us", "ml", "trainer", 4)
	e.wantAvailable("serving-eu", "serving", "model-server", 4)
	e.wantAvailable("serving-us", "serving", "model-server", 2)

	// 3. Nothing left to do.
	if r = e.run("plan", "-f", e.topology, "--detailed-exitcode"); r.code != 0 {
		t.Errorf("plan after apply: exit %d, want 0 (no changes)\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// 4. A saved plan goes stale when a live object changes after it was
	// made: refused, naming the object, and nothing is applied.
	e.editFile("apps/model-server/base/configmap.yaml", func(s string) string {
		return strings.Replace(s, "acme-llm-7b/v12", "acme-llm-7b/v13", 1)
	})
	saved := filepath.Join(t.TempDir(), "plan.json")
	if r = e.run("plan", "-f", e.topology, "--out", saved, "--detailed-exitcode"); r.code != 2 {
		t.Fatalf("plan --out: exit %d, want 2\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	e.kubectl("serving-us", "annotate", "configmap", "-n", "serving", "model-server-config", "reviewed-by=someone")
	r = e.run("apply", saved)
	if r.code != 1 || !strings.Contains(r.stderr, "the saved plan is stale") ||
		!strings.Contains(r.stderr, "cluster serving-us: ConfigMap serving/model-server-config changed live since the plan was made") {
		t.Errorf("apply of a stale plan: exit %d, want 1 naming the ConfigMap\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if uri := e.configMapValue("serving-eu", "serving", "model-server-config", "MODEL_URI"); !strings.HasSuffix(uri, "/v12") {
		t.Errorf("a refused stale plan changed serving-eu: MODEL_URI %q", uri)
	}

	// 5. The same change, planned again: the saved plan is applied as is,
	// without asking.
	if r = e.run("plan", "-f", e.topology, "--out", saved); r.code != 0 {
		t.Fatalf("plan --out: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = e.run("apply", saved)
	if r.code != 0 {
		t.Fatalf("apply of a fresh saved plan: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if want := "Apply complete: 0 clusters created, 2 objects applied, 0 pruned. All workloads ready.\n"; !strings.HasSuffix(r.stdout, want) {
		t.Errorf("apply of a saved plan ends with %q, want %q", lastLine(r.stdout), want)
	}
	for _, c := range []string{"serving-eu", "serving-us"} {
		if uri := e.configMapValue(c, "serving", "model-server-config", "MODEL_URI"); !strings.HasSuffix(uri, "/v13") {
			t.Errorf("%s: MODEL_URI %q after applying the saved plan, want .../v13", c, uri)
		}
	}

	// 6. Someone scales a Deployment by hand: apply refuses the cluster,
	// naming the other manager, until --force-conflicts takes the field back.
	e.kubectl("serving-us", "scale", "-n", "serving", "deployment/model-server", "--replicas=3")
	r = e.run("apply", "-f", e.topology, "--yes")
	if r.code != 1 || !strings.Contains(r.stdout, "! serving-us (us-east1): failed: nothing applied to cluster serving-us: apps/Deployment serving/model-server: conflict with \"kubectl\"") ||
		!strings.Contains(r.stdout, "--force-conflicts") {
		t.Errorf("apply with a conflict: exit %d, want 1 naming the manager and --force-conflicts\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if got := e.replicas("serving-us", "serving", "model-server"); got != 3 {
		t.Errorf("a refused conflict changed spec.replicas to %d, want the 3 kubectl set", got)
	}
	if r = e.run("apply", "-f", e.topology, "--yes", "--force-conflicts"); r.code != 0 {
		t.Fatalf("apply --force-conflicts: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	e.wantAvailable("serving-us", "serving", "model-server", 2)
}

// TestApplyQuotaThenResume: with --waves, the first region failing stops
// the others. Without, GKE refusing both clusters for quota fails them with
// errors naming the clusters and the quota while the joined cluster is still
// applied, exit 1. With the quota raised, an apply interrupted while GKE
// creates the clusters is resumed by the next apply, which waits for the
// creates in flight instead of asking again. A cluster that goes dark is
// reported failed while the others take its share.
func TestApplyQuotaThenResume(t *testing.T) {
	e := newEnv(t, gpuNodes("serving-us", "us-east1", 3))
	e.emu.SetQuota("us-west1", gkeemu.Quota{CPUs: gkeemu.Unlimited, GPUs: 2})
	e.emu.SetQuota("europe-west1", gkeemu.Quota{CPUs: gkeemu.Unlimited, GPUs: 0})

	// 1. Waves in topology order: us-west1 fails, the rest is not tried.
	r := e.run("apply", "-f", e.topology, "--yes", "--waves")
	if r.code != 1 {
		t.Fatalf("apply --waves under quota: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"! training-us (us-west1): failed: creating GKE cluster training-us",
		"! serving-eu (europe-west1): skipped: region us-west1 did not become healthy (--waves)",
		"! serving-us (us-east1): skipped: region us-west1 did not become healthy (--waves)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("apply --waves summary lacks %q:\n%s", want, r.stdout)
		}
	}
	if _, err := e.clientset("serving-us").CoreV1().Namespaces().Get(context.Background(), "serving", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after waves stopped at us-west1, namespace serving on serving-us: %v, want NotFound", err)
	}

	// 2. All regions at once: both GKE clusters fail, serving-us is applied.
	r = e.run("apply", "-f", e.topology, "--yes")
	if r.code != 1 {
		t.Fatalf("apply under quota: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"! training-us (us-west1): failed: creating GKE cluster training-us (projects/acme-ml/locations/us-west1-b): ",
		`Insufficient regional quota to satisfy request: resource "NVIDIA_A100_GPUS"`,
		"! serving-eu (europe-west1): failed: creating GKE cluster serving-eu (projects/acme-ml/locations/europe-west1-b): ",
		`resource "NVIDIA_L4_GPUS"`,
		"  serving-us (us-east1): 5 applied, 0 pruned, ready",
		"Apply failed on 2 of 3 clusters: 0 clusters created, 5 objects applied, 0 pruned.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "error: apply failed on 2 of 3 clusters: serving-eu, training-us") {
		t.Errorf("stderr does not end with the failure: %s", r.stderr)
	}
	if names := e.gkeClusters(); len(names) != 0 {
		t.Errorf("GKE clusters after quota errors: %v, want none", names)
	}
	e.wantAvailable("serving-us", "serving", "model-server", 2)

	// 3. Quota raised; the apply is interrupted once GKE is creating
	// training-us.
	e.emu.SetQuota("us-west1", gkeemu.Quota{CPUs: gkeemu.Unlimited, GPUs: gkeemu.Unlimited})
	e.emu.SetQuota("europe-west1", gkeemu.Quota{CPUs: gkeemu.Unlimited, GPUs: gkeemu.Unlimited})
	r = e.runInterrupted("training-us: operation-", "apply", "-f", e.topology, "--yes")
	if r.code == 0 {
		t.Fatalf("interrupted apply: exit 0, want a failure\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	if names := e.gkeClusters(); !strings.Contains(strings.Join(names, " "), "training-us") {
		t.Fatalf("after the interrupted apply GKE has %v, want training-us being created", names)
	}

	// 4. The next apply converges: training-us is not created again.
	r = e.run("apply", "-f", e.topology, "--yes")
	if r.code != 0 {
		t.Fatalf("apply after the interruption: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, "creating GKE cluster training-us") {
		t.Errorf("apply after the interruption created training-us again:\n%s", r.stderr)
	}
	t.Logf("apply after the interruption:\n%s", r.stderr)
	e.wantAvailable("training-us", "ml", "trainer", 4)
	e.wantAvailable("serving-eu", "serving", "model-server", 4)
	e.wantAvailable("serving-us", "serving", "model-server", 2)

	// 5. serving-us goes dark: it is reported failed with the reason, its
	// share moves to serving-eu (up to max 5), which is applied; exit 1.
	if err := e.joined["serving-us"].StopAPIServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	r = e.run("apply", "-f", e.topology, "--yes", "--wait=false", "--cluster-timeout", "3s")
	if r.code != 1 {
		t.Fatalf("apply with serving-us unreachable: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"! serving-us (us-east1): failed: unreachable when planned: connecting to cluster serving-us (context serving-us): ",
		"refused the connection",
		"  serving-eu (europe-west1): 1 applied, 0 pruned, readiness not checked",
		"  training-us (us-west1): 0 applied, 0 pruned, readiness not checked",
		"Apply failed on 1 of 3 clusters: 0 clusters created, 1 objects applied, 0 pruned.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	if got := e.replicas("serving-eu", "serving", "model-server"); got != 5 {
		t.Errorf("serving-eu runs %d model-server replicas with serving-us unreachable, want 5 (max)", got)
	}
}

// runInterrupted runs kubectl-geofed like run, and interrupts it (SIGINT,
// as Ctrl-C does) as soon as a line of its stderr contains marker.
func (e *env) runInterrupted(marker string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(),
		"KUBECONFIG="+e.kubecfg,
		gke.EmulatorHostEnv+"="+e.emuAddr,
		"NO_COLOR=1",
	)
	var out, errOut bytes.Buffer
	cmd.Stdout = &out
	pipe, err := cmd.StderrPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	sc := bufio.NewScanner(pipe)
	interrupted := false
	for sc.Scan() {
		errOut.WriteString(sc.Text() + "\n")
		if !interrupted && strings.Contains(sc.Text(), marker) {
			interrupted = true
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	r := result{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		e.t.Fatalf("running kubectl-geofed %s: %v", strings.Join(args, " "), err)
	}
	if !interrupted {
		e.t.Fatalf("kubectl-geofed %s never printed %q:\n%s", strings.Join(args, " "), marker, r.stderr)
	}
	return r
}

// gkeClusters lists the emulator's clusters of the scenario's project.
func (e *env) gkeClusters() []string {
	e.t.Helper()
	ctx := context.Background()
	c := e.containerClient(ctx)
	defer c.Close()
	resp, err := c.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/acme-ml/locations/-"})
	if err != nil {
		e.t.Fatal(err)
	}
	var names []string
	for _, cl := range resp.GetClusters() {
		names = append(names, cl.GetName())
	}
	return names
}

// clientset reaches a cluster of the scenario as geofed does.
func (e *env) clientset(name string) kubernetes.Interface {
	e.t.Helper()
	t, err := topology.Load(e.topology)
	if err != nil {
		e.t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(e.memberConn(context.Background(), t, name).Config)
	if err != nil {
		e.t.Fatal(err)
	}
	return cs
}

// wantAvailable checks that a Deployment runs the replicas placement gave
// the cluster, all of them available.
func (e *env) wantAvailable(cluster, ns, name string, replicas int32) {
	e.t.Helper()
	d, err := e.clientset(cluster).AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Errorf("%s: Deployment %s/%s: %v", cluster, ns, name, err)
		return
	}
	available := false
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
			available = true
		}
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != replicas || d.Status.AvailableReplicas != replicas || !available {
		e.t.Errorf("%s: Deployment %s/%s: spec.replicas %v, %d available (Available=%t), want %d available",
			cluster, ns, name, d.Spec.Replicas, d.Status.AvailableReplicas, available, replicas)
	}
}

func (e *env) replicas(cluster, ns, name string) int32 {
	e.t.Helper()
	d, err := e.clientset(cluster).AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil || d.Spec.Replicas == nil {
		e.t.Fatalf("%s: Deployment %s/%s: %v", cluster, ns, name, err)
	}
	return *d.Spec.Replicas
}

func (e *env) configMapValue(cluster, ns, name, key string) string {
	e.t.Helper()
	cm, err := e.clientset(cluster).CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatalf("%s: ConfigMap %s/%s: %v", cluster, ns, name, err)
	}
	return cm.Data[key]
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}
