package controller_test

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/push"
)

// podImage is one build of the controller's image by hack/image, the
// program `make image` runs, for this machine's platform only.
type podImage struct {
	version string
	archive string // the OCI archive to import
	ref     string // repository@digest, as install.yaml pins it
	overlay string // a kustomization: manifests/controller with ref, never pulled
}

// buildPodImage builds the controller's image as `make image` does and
// writes the overlay `make demo-controller` applies.
func buildPodImage(t *testing.T, version string) podImage {
	t.Helper()
	out := t.TempDir()
	img := podImage{version: version, overlay: filepath.Join(out, "overlay")}
	cmd := exec.Command("go", "run", "./hack/image",
		"--out", out, "--platforms", "linux/"+goarch(t),
		"--version", version, "--revision", "e2e", "--created", "0",
		"--overlay", img.overlay)
	cmd.Dir = filepath.Join("..", "..")
	o, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run ./hack/image: %v\n%s", err, o)
	}
	archives, err := filepath.Glob(filepath.Join(out, "*.tar"))
	must(t, err)
	if len(archives) != 1 {
		t.Fatalf("hack/image wrote archives %v, want one", archives)
	}
	img.archive = archives[0]
	kust, err := os.ReadFile(filepath.Join(img.overlay, "kustomization.yaml"))
	must(t, err)
	for _, line := range strings.Split(string(kust), "\n") {
		if f := strings.Fields(strings.TrimSpace(line)); len(f) == 2 && f[0] == "digest:" {
			img.ref = "ghcr.io/geofed-io/geofed-controller@" + f[1]
		}
	}
	if !strings.Contains(img.ref, "@sha256:") {
		t.Fatalf("the overlay pins no digest:\n%s", kust)
	}
	return img
}

func goarch(t *testing.T) string {
	t.Helper()
	o, err := exec.Command("go", "env", "GOARCH").Output()
	must(t, err)
	return strings.TrimSpace(string(o))
}

// TestControllerAsPods installs the control plane as a user does — the
// image built by the project, imported into the hub's real node (a real
// kubelet and containerd), `kubectl apply -k` of an overlay that only pins
// the image — and runs it: two replicas of the Deployment, with their
// mounted ServiceAccount tokens, the Role of manifests/controller as their
// only permission, the securityContext and probes of the manifest.
func TestControllerAsPods(t *testing.T) {
	// Four members: the size the control plane's figures are given at.
	specs := []lab.ClusterSpec{{Name: "hub", RealNode: true}}
	for _, m := range podMembers {
		specs = append(specs, lab.ClusterSpec{Name: m, Nodes: []lab.NodeSpec{{Name: "node", Count: 1}}})
	}
	l, clusters := labtest.New(t, specs...)
	hub, members := clusters[0], clusters[1:]
	ctx := t.Context()

	v1, v2 := buildPodImage(t, "v0.0.1-e2e"), buildPodImage(t, "v0.0.2-e2e")
	for _, img := range []podImage{v1, v2} {
		if err := lab.ImportImage(ctx, hub.RealNodeMountNS(), img.archive); err != nil {
			t.Fatalf("importing %s into the hub's real node: %v", img.version, err)
		}
	}

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	must(t, l.Kubeconfig(kubeconfig))
	kubectl := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(os.Getenv("GEOFED_LAB_BIN"), "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	scheme := runtime.NewScheme()
	must(t, clientgoscheme.AddToScheme(scheme))
	must(t, v1alpha1.AddToScheme(scheme))
	hc, err := client.New(hub.RESTConfig(), client.Options{Scheme: scheme})
	must(t, err)
	hcs, err := kubernetes.NewForConfig(hub.RESTConfig())
	must(t, err)

	// A failure is explained by what the controller said: the last lines
	// of every controller Pod's log.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		list, err := hcs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return
		}
		tail := int64(80)
		for _, p := range list.Items {
			body, err := hcs.CoreV1().Pods(namespace).GetLogs(p.Name, &corev1.PodLogOptions{TailLines: &tail}).DoRaw(ctx)
			if err == nil {
				t.Logf("--- last lines of the log of %s ---\n%s", p.Name, body)
			}
		}
	})
	installed := time.Now()
	kubectl("--context", "hub", "apply", "--server-side", "-k", v1.overlay)
	pods := waitRollout(t, hcs, v1.ref, 2, 3*time.Minute)
	t.Logf("installed: both Pods Ready %s after kubectl apply -k", time.Since(installed).Round(100*time.Millisecond))

	// Members are joined as a user joins them, at the address a Pod reaches
	// each member's apiserver at.
	e := &env{hub: hc, members: map[string]*lab.Cluster{}, clients: map[string]kubernetes.Interface{}}
	for _, m := range members {
		join := exec.Command(pluginBinary, "join", m.Name, "--hub", "hub", "--server", m.PodEndpoint(), "--kubeconfig", kubeconfig)
		if out, err := join.CombinedOutput(); err != nil {
			t.Fatalf("kubectl geofed join %s --hub hub: %v\n%s", m.Name, err, out)
		}
		cs, err := kubernetes.NewForConfig(m.RESTConfig())
		must(t, err)
		e.members[m.Name], e.clients[m.Name] = m, cs
	}
	files := maps.Clone(webTopology)
	files["topology.yaml"] = podTopology()
	e.topology = writeTopology(t, files)

	t.Run("push applies to every member", func(t *testing.T) {
		pushTopology(t, e, push.Options{})
		waitFor(t, e, 180*time.Second, "Synced=True", func(topo *v1alpha1.Topology) bool {
			return cond(topo, v1alpha1.ConditionSynced) == "True/Applied"
		})
		for _, name := range podMembers {
			if got := replicas(t, e, name); got != 2 {
				t.Errorf("%s: web has %d replicas, want 2 (8 divided by equal weights)", name, got)
			}
		}
	})

	t.Run("a hand edit is put back", func(t *testing.T) {
		var took []time.Duration
		for i := range 20 {
			took = append(took, putBack(t, e, podMembers[i%len(podMembers)], 30*time.Second))
		}
		slices.Sort(took)
		t.Logf("edit -> put back, controller as a Pod, %d members, %d edits: p50 %s, p95 %s, max %s", len(podMembers), len(took),
			took[len(took)/2].Round(time.Millisecond), took[len(took)*95/100].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	})

	t.Run("a hung member: the others corrected at once, its share moved and back on the failover clocks", func(t *testing.T) {
		const after, restoreAfter, slack, editBudget = 15 * time.Second, 15 * time.Second, 15 * time.Second, 2 * time.Second
		pushTopology(t, e, push.Options{Failover: &v1alpha1.Failover{
			After: &metav1.Duration{Duration: after}, RestoreAfter: &metav1.Duration{Duration: restoreAfter},
		}})
		waitFor(t, e, 60*time.Second, "Synced=True with failover set", func(topo *v1alpha1.Topology) bool {
			return topo.Status.ObservedGeneration == topo.Generation && cond(topo, v1alpha1.ConditionSynced) == "True/Applied"
		})
		hung := members[len(members)-1]
		others := func() int {
			n := 0
			for _, m := range podMembers[:len(podMembers)-1] {
				n += int(replicas(t, e, m))
			}
			return n
		}
		quick := func(cluster, when string) {
			t.Helper()
			if took := putBack(t, e, cluster, 30*time.Second); took > editBudget {
				t.Errorf("%s, an edit on %s put back in %s, want within %s", when, cluster, took.Round(10*time.Millisecond), editBudget)
			} else {
				t.Logf("%s, an edit on %s put back in %s", when, cluster, took.Round(10*time.Millisecond))
			}
		}

		stopped := time.Now()
		must(t, hung.PauseAPIServer())
		t.Cleanup(func() { _ = hung.ResumeAPIServer() })
		quick(podMembers[0], "right after "+hung.Name+" hung")
		for others() != 8 {
			if time.Since(stopped) > after+slack {
				t.Fatalf("%s's share not moved %s after it hung (failover.after %s)", hung.Name, time.Since(stopped).Round(time.Second), after)
			}
			time.Sleep(100 * time.Millisecond)
		}
		moved := time.Since(stopped)
		t.Logf("%s's share moved %s after it hung (failover.after %s)", hung.Name, moved.Round(10*time.Millisecond), after)
		if moved < after {
			t.Errorf("%s's share moved %s after it hung, before failover.after (%s)", hung.Name, moved, after)
		}
		quick(podMembers[1], "after the failover")

		resumed := time.Now()
		must(t, hung.ResumeAPIServer())
		for others() != 6 {
			if time.Since(resumed) > restoreAfter+slack {
				t.Fatalf("%s's share not back %s after it resumed (restoreAfter %s)", hung.Name, time.Since(resumed).Round(time.Second), restoreAfter)
			}
			time.Sleep(100 * time.Millisecond)
		}
		back := time.Since(resumed)
		t.Logf("%s's share back %s after it resumed (restoreAfter %s)", hung.Name, back.Round(10*time.Millisecond), restoreAfter)
		if back < restoreAfter {
			var topo v1alpha1.Topology
			get(t, e, &topo)
			t.Errorf("%s's share back %s after it resumed, before restoreAfter (%s); its status: %+v", hung.Name, back, restoreAfter, clusterStatus(&topo, hung.Name))
			if leader, _ := leaseHolder(t, hcs); leader != "" {
				t.Logf("the leader's log about %s:\n%s", hung.Name, grepLines(podLogs(t, hcs, leader), hung.Name))
			}
		}
		waitFor(t, e, 30*time.Second, "Synced=True with "+hung.Name+" back", func(topo *v1alpha1.Topology) bool {
			c := clusterStatus(topo, hung.Name)
			return c.Reachable && !c.Excluded && cond(topo, v1alpha1.ConditionSynced) == "True/Applied"
		})
	})

	t.Run("the Pods run as the manifest says", func(t *testing.T) {
		for _, p := range pods {
			checkLiveContainer(t, hub, p)
		}
	})

	t.Run("probes and metrics on the Pod's address", func(t *testing.T) {
		leader, _ := leaseHolder(t, hcs)
		for _, p := range pods {
			for _, path := range []string{"8081/proxy/readyz", "8081/proxy/healthz", "8080/proxy/metrics"} {
				body, err := hcs.CoreV1().RESTClient().Get().AbsPath("/api/v1/namespaces", namespace, "pods", p.Name+":"+path).DoRaw(ctx)
				if err != nil {
					t.Errorf("%s: GET :%s: %v", p.Name, path, err)
					continue
				}
				// Both replicas serve controller-runtime's series; only
				// the leader reconciles, so only it has geofed's.
				if strings.HasSuffix(path, "metrics") {
					series := `leader_election_master_status{name="geofed-controller"}`
					if p.Name == leader {
						series = "geofed_reconcile"
					}
					if !strings.Contains(string(body), series) {
						t.Errorf("%s: /metrics has no %s series:\n%.500s", p.Name, series, body)
					}
				}
			}
		}
	})

	t.Run("the leader Pod deleted: the other leads, an edit meanwhile is put back, nothing applied twice", func(t *testing.T) {
		before := versions(t, e)
		leaderPod, _ := leaseHolder(t, hcs)
		deleted := time.Now()
		kubectl("--context", "hub", "delete", "pod", "-n", namespace, leaderPod, "--grace-period=0", "--wait=false")
		edit(t, e, "m2", "debug")
		var next string
		for {
			if h, _ := leaseHolder(t, hcs); h != "" && h != leaderPod {
				next = h
				break
			}
			if time.Since(deleted) > 60*time.Second {
				t.Fatalf("no other Pod leads 60s after the leader %s was deleted", leaderPod)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("leader hand-over with Pods: %s (%s -> %s)", time.Since(deleted).Round(100*time.Millisecond), leaderPod, next)
		for level(t, e, "m2") != "info" {
			if time.Since(deleted) > 90*time.Second {
				t.Fatal("m2: the edit made during the hand-over is still there after 90s")
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("the edit made during the hand-over was put back %s after the leader was deleted", time.Since(deleted).Round(100*time.Millisecond))
		unchangedExcept(t, before, versions(t, e), "m2 ConfigMap web/web-config")
		waitRollout(t, hcs, v1.ref, 2, 3*time.Minute)
	})

	t.Run("an upgrade rolls both Pods with no lost edit and no double apply", func(t *testing.T) {
		before := versions(t, e)
		started := time.Now()
		kubectl("--context", "hub", "set", "image", "-n", namespace, "deployment/geofed-controller", "controller="+v2.ref)
		edit(t, e, "m1", "debug")
		pods = waitRollout(t, hcs, v2.ref, 2, 3*time.Minute)
		t.Logf("upgrade rolled in %s", time.Since(started).Round(100*time.Millisecond))
		for level(t, e, "m1") != "info" {
			if time.Since(started) > 90*time.Second {
				t.Fatal("m1: the edit made during the upgrade is still there after 90s")
			}
			time.Sleep(100 * time.Millisecond)
		}
		unchangedExcept(t, before, versions(t, e), "m1 ConfigMap web/web-config")
		putBack(t, e, "m2", 30*time.Second)
		for _, p := range pods {
			if !strings.Contains(podLogs(t, hcs, p.Name), v2.version) {
				t.Errorf("%s: the log never names version %s", p.Name, v2.version)
			}
		}
	})

	t.Run("the Role of manifests/controller is all it needs", func(t *testing.T) {
		list, err := hcs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
		must(t, err)
		for _, p := range list.Items {
			if logs := podLogs(t, hcs, p.Name); strings.Contains(strings.ToLower(logs), "forbidden") {
				t.Errorf("%s: the controller was refused something:\n%s", p.Name, grepLines(logs, "orbidden"))
			}
		}
	})
}

// putBack edits the ConfigMap on cluster and waits for the controller to
// put it back; it returns how long that took.
func putBack(t *testing.T, e *env, cluster string, timeout time.Duration) time.Duration {
	t.Helper()
	edited := time.Now()
	edit(t, e, cluster, "debug")
	for level(t, e, cluster) != "info" {
		if time.Since(edited) > timeout {
			t.Fatalf("%s: the edit is still there after %s", cluster, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(edited)
}

// unchangedExcept fails for every object whose resourceVersion moved,
// except the one that was edited by hand and put back.
func unchangedExcept(t *testing.T, before, after map[string]string, edited string) {
	t.Helper()
	for k, v := range before {
		if k != edited && after[k] != v {
			t.Errorf("%s was written again (resourceVersion %s -> %s): applied twice", k, v, after[k])
		}
	}
}

// waitRollout waits for the controller's Deployment to run n Ready Pods of
// image ref and no others, and returns them.
func waitRollout(t *testing.T, cs kubernetes.Interface, ref string, n int, timeout time.Duration) []corev1.Pod {
	t.Helper()
	ctx := t.Context()
	deadline := time.Now().Add(timeout)
	for {
		var ready []corev1.Pod
		all := 0
		d, derr := cs.AppsV1().Deployments(namespace).Get(ctx, "geofed-controller", metav1.GetOptions{})
		list, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=geofed-controller"})
		if err == nil && derr == nil {
			for _, p := range list.Items {
				if p.DeletionTimestamp != nil {
					all++
					continue
				}
				all++
				if p.Spec.Containers[0].Image == ref && podReady(&p) {
					ready = append(ready, p)
				}
			}
			if len(ready) == n && all == n && deploymentDone(d) {
				return ready
			}
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			if list != nil {
				for _, p := range list.Items {
					fmt.Fprintf(&b, "%s %s ready=%v image=%s %s\n", p.Name, p.Status.Phase, podReady(&p), p.Spec.Containers[0].Image, waiting(&p))
				}
			}
			t.Fatalf("not %d Ready Pods of %s after %s (%v %v):\n%s", n, ref, timeout, err, derr, b.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func deploymentDone(d *appsv1.Deployment) bool {
	return d.Status.ObservedGeneration == d.Generation && d.Status.UpdatedReplicas == *d.Spec.Replicas &&
		d.Status.AvailableReplicas == *d.Spec.Replicas && d.Status.Replicas == *d.Spec.Replicas
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func waiting(p *corev1.Pod) string {
	for _, s := range p.Status.ContainerStatuses {
		if s.State.Waiting != nil {
			return s.State.Waiting.Reason + ": " + s.State.Waiting.Message
		}
		if s.State.Terminated != nil {
			return fmt.Sprintf("terminated %d %s", s.State.Terminated.ExitCode, s.State.Terminated.Message)
		}
	}
	return ""
}

// leaseHolder is the Pod that holds the leader Lease, and its identity.
func leaseHolder(t *testing.T, cs kubernetes.Interface) (pod, identity string) {
	t.Helper()
	var lease *coordinationv1.Lease
	lease, err := cs.CoordinationV1().Leases(namespace).Get(t.Context(), "geofed-controller", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil {
		return "", ""
	}
	identity = *lease.Spec.HolderIdentity
	// controller-runtime's identity is <hostname>_<uuid>; a Pod's
	// hostname is its name.
	pod, _, _ = strings.Cut(identity, "_")
	return pod, identity
}

func podLogs(t *testing.T, cs kubernetes.Interface, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	body, err := cs.CoreV1().Pods(namespace).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatalf("logs of %s: %v", name, err)
	}
	return string(body)
}

// checkLiveContainer reads the controller container's process from the
// node, not its spec: its user, its capabilities and its root filesystem.
func checkLiveContainer(t *testing.T, hub *lab.Cluster, p corev1.Pod) {
	t.Helper()
	if len(p.Status.ContainerStatuses) == 0 {
		t.Fatalf("%s: no container status", p.Name)
	}
	_, id, ok := strings.Cut(p.Status.ContainerStatuses[0].ContainerID, "://")
	if !ok {
		t.Fatalf("%s: container ID %q", p.Name, p.Status.ContainerStatuses[0].ContainerID)
	}
	pid, err := hub.ContainerPID(t.Context(), id)
	if err != nil {
		t.Fatalf("%s: the container's process: %v", p.Name, err)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	must(t, err)
	if !strings.Contains(string(cmdline), "geofed-controller") {
		t.Fatalf("%s: process %d is %q, not the controller", p.Name, pid, cmdline)
	}
	status := procFields(t, fmt.Sprintf("/proc/%d/status", pid))
	for _, k := range []string{"Uid", "Gid"} {
		for _, id := range strings.Fields(status[k]) {
			if id != "65532" {
				t.Errorf("%s: %s %q, want 65532 throughout", p.Name, k, status[k])
				break
			}
		}
	}
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		if v, err := strconv.ParseUint(status[k], 16, 64); err != nil || v != 0 {
			t.Errorf("%s: %s %q, want no capabilities", p.Name, k, status[k])
		}
	}
	if status["NoNewPrivs"] != "1" {
		t.Errorf("%s: NoNewPrivs %q, want 1 (allowPrivilegeEscalation: false)", p.Name, status["NoNewPrivs"])
	}
	// The root filesystem: the mount at / in the container's namespace.
	mounts, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	must(t, err)
	root := ""
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 5 && f[4] == "/" {
			root = f[5]
		}
	}
	if !slices.Contains(strings.Split(root, ","), "ro") {
		t.Errorf("%s: root filesystem mounted %q, want read-only", p.Name, root)
	}
}

// procFields reads a /proc status file as key: value.
func procFields(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

// podMembers are the members of TestControllerAsPods.
var podMembers = []string{"m1", "m2", "m3", "m4"}

// podTopology has every member of podMembers in a region of its own and
// the web workload of webTopology, 8 replicas divided by weight.
func podTopology() string {
	regions := []string{"us-west1", "europe-west1", "us-east1", "asia-east1"}
	var b strings.Builder
	b.WriteString("apiVersion: geofed.io/v1alpha1\nkind: Topology\nmetadata: {name: " + topoName + "}\nspec:\n  regions:\n")
	for i, m := range podMembers {
		fmt.Fprintf(&b, "  - name: %s\n    clusters:\n    - name: %s\n      kubeconfig: {context: %s}\n", regions[i], m, m)
	}
	b.WriteString("  workloads:\n  - name: web\n    source: apps/web\n    placement:\n      replicas: {total: 8, divideBy: weight}\n")
	return b.String()
}
