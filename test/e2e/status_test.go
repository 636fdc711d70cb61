package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/status"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// statusTopology is a fleet of two serving clusters: serving-eu, a GKE
// cluster apply creates in the emulator (two L4 nodes), and serving-us,
// joined (two GPU nodes). model-server divides 3 replicas 2:1.
const statusTopology = `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: fleet
spec:
  gke: {project: acme-ml, releaseChannel: REGULAR}
  regions:
  - name: europe-west1
    clusters:
    - name: serving-eu
      labels: {role: serving}
      gke:
        location: europe-west1-b
        nodePools:
        - {name: l4, machineType: g2-standard-8, nodeCount: 2, accelerators: [{type: nvidia-l4, count: 1}]}
  - name: us-east1
    clusters:
    - name: serving-us
      labels: {role: serving}
      kubeconfig: {context: serving-us}
  workloads:
  - name: model-server
    source: apps/model-server
    placement:
      clusterSelector: {matchLabels: {role: serving}}
      replicas: {total: 3, divideBy: weight, weights: {europe-west1: 2}}
`

// TestStatus walks status through a fleet's life: before apply, after it,
// after hand edits (drift), with a workload that cannot schedule, watched
// while it recovers, and with a cluster gone dark. Every figure is read
// back from the clusters by the real binary.
func TestStatus(t *testing.T) {
	e := newEnv(t, gpuNodes("serving-us", "us-east1", 2))
	fleet := filepath.Join(e.dir, "fleet.yaml")
	if err := os.WriteFile(fleet, []byte(statusTopology), 0o644); err != nil {
		t.Fatal(err)
	}
	e.topology = fleet // kubectl helpers find clusters in the fleet

	// 1. Nothing applied: serving-eu does not exist, serving-us holds
	// nothing of geofed's. Exit 1.
	r := e.run("status", "-f", fleet, "-o", "json")
	if r.code != 1 {
		t.Fatalf("status before apply: exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	s := decodeStatus(t, r.stdout)
	if c := statusCluster(t, s, "serving-eu"); c.Reachable || c.Unreachable != "the GKE cluster does not exist yet: apply creates it" || c.GKE == nil || c.GKE.Status != "" {
		t.Errorf("serving-eu before apply: reachable %t, %q, GKE %+v; want unreachable, not created", c.Reachable, c.Unreachable, c.GKE)
	}
	us := statusCluster(t, s, "serving-us")
	if w := statusWorkload(t, us, "model-server"); w.Ready || len(w.NotReady) != 5 || w.NotReady[0].Reason != "not found: not applied yet" {
		t.Errorf("serving-us before apply: model-server %+v, want its 5 objects not applied yet", w)
	}
	if !strings.Contains(r.stderr, "error: not everything is reachable and ready: 1 cluster(s) unreachable, 1 workload(s) not ready") {
		t.Errorf("stderr does not say why status failed: %q", r.stderr)
	}

	// 2. Applied: every cluster reachable, with its endpoint, version,
	// nodes and GPUs; nothing drifted; model-server ready with the
	// replicas placement gave. A handful of requests per cluster.
	if r = e.run("apply", "-f", fleet, "--yes"); r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = e.run("status", "-f", fleet, "-o", "json")
	if r.code != 0 {
		t.Fatalf("status after apply: exit %d, want 0\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	s = decodeStatus(t, r.stdout)
	wantReplicas := map[string]int64{"serving-eu": 2, "serving-us": 1}
	for _, name := range []string{"serving-eu", "serving-us"} {
		c := statusCluster(t, s, name)
		if !c.Reachable || !strings.HasPrefix(c.Endpoint, "https://127.0.0.1:") || c.ServerVersion == "" {
			t.Errorf("%s: reachable %t, endpoint %q, version %q; want reachable with both", name, c.Reachable, c.Endpoint, c.ServerVersion)
		}
		if c.Nodes == nil || c.Nodes.Ready != 2 || c.Nodes.Total != 2 {
			t.Errorf("%s: nodes %+v, want 2/2 Ready", name, c.Nodes)
		}
		if got, want := resources(c), "nvidia.com/gpu 2 allocatable "+strconv.FormatInt(wantReplicas[name], 10)+" requested"; got != want {
			t.Errorf("%s: resources %q, want %q", name, got, want)
		}
		if c.Drift == nil || c.Drift.Count != 0 {
			t.Errorf("%s: drift %+v, want 0", name, c.Drift)
		}
		w := statusWorkload(t, c, "model-server")
		if !w.Ready || w.Replicas == nil || w.Replicas.Desired != wantReplicas[name] || w.Replicas.Ready != wantReplicas[name] {
			t.Errorf("%s: model-server %+v, want ready with %d replicas desired and ready", name, w, wantReplicas[name])
		}
		// The version check and discovery (3), the kube-system GET that
		// tells one cluster from another, nodes and bound pods (placement
		// counts what fits), the inventory GET, one LIST per kind and
		// namespace: no dry-run, no GET per object.
		if budget := 7 + listsOf(t, fleet, name); c.Requests > budget {
			t.Errorf("%s: %d requests, want <= %d", name, c.Requests, budget)
		}
		t.Logf("%s: status read with %d requests", name, c.Requests)
	}
	if eu := statusCluster(t, s, "serving-eu"); eu.Mode != "managed" || eu.GKE == nil || eu.GKE.Status != "RUNNING" || eu.GKE.Project != "acme-ml" || eu.GKE.Location != "europe-west1-b" {
		t.Errorf("serving-eu: mode %s, GKE %+v; want managed, RUNNING in acme-ml/europe-west1-b", eu.Mode, eu.GKE)
	}
	if us := statusCluster(t, s, "serving-us"); us.Mode != "joined" || us.GKE != nil {
		t.Errorf("serving-us: mode %s, GKE %+v; want joined", us.Mode, us.GKE)
	}
	golden(t, "status-applied.json.golden", maskStatusJSON(r.stdout))
	r = e.run("status", "-f", fleet)
	if r.code != 0 {
		t.Fatalf("status: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	golden(t, "status-applied.golden", maskStatus(r.stdout))

	// 3. A hand edit: drift 1 on that cluster, still ready, exit 0. The
	// full refresh dry-runs every object (one request each at least) and
	// names the manager that took the field.
	e.kubectl("serving-us", "set", "image", "-n", "serving", "deployment/model-server", "model-server=us-docker.pkg.dev/acme-ml/serving/model-server:hotfix")
	e.kubectl("serving-us", "rollout", "status", "-n", "serving", "deployment/model-server", "--timeout=90s")
	r = e.run("status", "-f", fleet, "-o", "json")
	if r.code != 0 {
		t.Fatalf("status after set image: exit %d, want 0 (drift alone does not fail)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	s = decodeStatus(t, r.stdout)
	inventoryRequests := statusCluster(t, s, "serving-us").Requests
	wantDrift(t, s, "serving-us", "apps/Deployment serving/model-server: fields geofed set were changed by another field manager")
	wantDrift(t, s, "serving-eu")
	r = e.run("status", "-f", fleet, "-o", "json", "--refresh=full")
	if r.code != 0 {
		t.Fatalf("status --refresh=full: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	s = decodeStatus(t, r.stdout)
	if s.Refresh != status.RefreshFull {
		t.Errorf("refresh %q, want full", s.Refresh)
	}
	wantDrift(t, s, "serving-us", `apps/Deployment serving/model-server: conflict with "kubectl-set" using apps/v1: apply needs --force-conflicts to take these fields back`)
	wantDrift(t, s, "serving-eu")
	if full, objects := statusCluster(t, s, "serving-us").Requests, int64(statusWorkload(t, statusCluster(t, s, "serving-us"), "model-server").Objects); full < inventoryRequests+objects {
		t.Errorf("--refresh=full: %d requests, want at least %d (%d without it + a dry-run per object)", full, inventoryRequests+objects, inventoryRequests)
	}
	r = e.run("status", "-f", fleet)
	golden(t, "status-drift.golden", maskStatus(r.stdout))

	// 4. More replicas than GPUs: not ready, naming the scheduler's reason
	// for the Pending pod; exit 1.
	e.kubectl("serving-us", "scale", "-n", "serving", "deployment/model-server", "--replicas=3")
	const pending = "apps/Deployment serving/model-server: 2/3 replicas available; 1 pod Pending: 0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
	var w status.Workload
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Second) {
		r = e.run("status", "-f", fleet, "-o", "json")
		s = decodeStatus(t, r.stdout)
		w = statusWorkload(t, statusCluster(t, s, "serving-us"), "model-server")
		if len(w.NotReady) == 1 && w.NotReady[0].Object+": "+w.NotReady[0].Reason == pending || time.Now().After(deadline) {
			break
		}
	}
	if r.code != 1 || w.Ready || len(w.NotReady) != 1 || w.NotReady[0].Object+": "+w.NotReady[0].Reason != pending {
		t.Errorf("status with a Pending replica: exit %d, model-server %+v; want exit 1, not ready: %q", r.code, w, pending)
	}
	if w.Replicas == nil || w.Replicas.Desired != 1 || w.Replicas.Ready != 2 {
		t.Errorf("model-server replicas %+v, want 1 desired (placement), 2 ready", w.Replicas)
	}
	wantDrift(t, s, "serving-us", "apps/Deployment serving/model-server: fields geofed set were changed by another field manager")
	// Saying why costs one LIST of the pods of the namespace in trouble.
	if budget := 8 + listsOf(t, fleet, "serving-us"); statusCluster(t, s, "serving-us").Requests > budget {
		t.Errorf("serving-us with a workload not ready: %d requests, want <= %d", statusCluster(t, s, "serving-us").Requests, budget)
	}
	r = e.run("status", "-f", fleet)
	if r.code != 1 {
		t.Errorf("status (text) with a Pending replica: exit %d, want 1", r.code)
	}
	golden(t, "status-pending.golden", maskStatus(r.stdout))

	// 5. Watched while it recovers: a block at once, a new one when the
	// replica is gone, nothing while nothing changes; the CPU idles
	// between rounds; Ctrl-C exits as the last block says (0: all ready).
	e.watchStatus(t, fleet, func() {
		e.kubectl("serving-us", "scale", "-n", "serving", "deployment/model-server", "--replicas=1")
	})

	// 6. serving-us goes dark: unreachable with the reason, serving-eu
	// still reported; exit 1.
	if err := e.joined["serving-us"].StopAPIServer(context.Background()); err != nil {
		t.Fatal(err)
	}
	r = e.run("status", "-f", fleet, "-o", "json", "--cluster-timeout", "3s")
	if r.code != 1 {
		t.Fatalf("status with serving-us down: exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	s = decodeStatus(t, r.stdout)
	if c := statusCluster(t, s, "serving-us"); c.Reachable || !strings.Contains(c.Unreachable, "refused the connection") || c.Endpoint == "" {
		t.Errorf("serving-us down: reachable %t, %q, endpoint %q; want unreachable, refused, with its endpoint", c.Reachable, c.Unreachable, c.Endpoint)
	}
	if c := statusCluster(t, s, "serving-eu"); !c.Reachable || !statusWorkload(t, c, "model-server").Ready {
		t.Errorf("serving-eu with serving-us down: %+v, want reachable and ready", c)
	}
	golden(t, "status-unreachable.json.golden", maskStatusJSON(r.stdout))
	r = e.run("status", "-f", fleet, "--cluster-timeout", "3s")
	if r.code != 1 {
		t.Errorf("status (text) with serving-us down: exit %d, want 1", r.code)
	}
	golden(t, "status-unreachable.golden", maskStatus(r.stdout))
}

// watchStatus runs status --watch, waits for its first block (not ready),
// runs fix, waits for the block saying all is ready, checks that nothing
// more is printed while nothing changes and that the process mostly
// sleeps, then interrupts it.
func (e *env) watchStatus(t *testing.T, fleet string, fix func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "status", "-f", fleet, "--watch", "--interval", "1s")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.kubecfg, gke.EmulatorHostEnv+"="+e.emuAddr, "NO_COLOR=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := time.Now()

	// Blocks start with their stamp; summaries end them.
	var mu sync.Mutex
	var blocks []string
	var current strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			current.WriteString(line + "\n")
			if strings.HasPrefix(line, "Status: ") {
				blocks = append(blocks, current.String())
				current.Reset()
			}
			mu.Unlock()
		}
	}()
	waitBlocks := func(n int, what string) []string {
		t.Helper()
		for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			mu.Lock()
			got := append([]string(nil), blocks...)
			mu.Unlock()
			if len(got) >= n {
				return got
			}
		}
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("status --watch printed %d blocks, want %d (%s):\n%s\nstderr:\n%s", len(blocks), n, what, strings.Join(blocks, "\n"), stderr.String())
		return nil
	}

	got := waitBlocks(1, "the first at once")
	if !strings.HasPrefix(got[0], "Status of fleet at ") || !strings.Contains(got[0], "! model-server: not ready") {
		t.Errorf("first block:\n%s\nwant it stamped, model-server not ready", got[0])
	}
	fix()
	got = waitBlocks(2, "one when model-server is ready")
	if !strings.Contains(got[1], "  model-server: ready · replicas 1 desired, 1 ready") || !strings.HasSuffix(got[1], "Status: 2 clusters reachable · 2 workloads ready · 1 object drifted.\n") {
		t.Errorf("block after the fix:\n%s\nwant model-server ready everywhere", got[1])
	}
	// Rounds go on every second; while nothing changes they print nothing.
	time.Sleep(4 * time.Second)
	mu.Lock()
	if len(blocks) != 2 {
		t.Errorf("status --watch printed %d blocks although nothing changed after the second:\n%s", len(blocks), strings.Join(blocks, "\n"))
	}
	mu.Unlock()

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	<-done
	err = cmd.Wait()
	wall := time.Since(started)
	if err != nil {
		t.Errorf("status --watch interrupted with everything ready: %v, want exit 0\nstderr:\n%s", err, stderr.String())
	}
	// Never spinning: a round is a few requests per cluster every second;
	// the rest of the time it sleeps.
	usage := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
	if cpu > wall/2 {
		t.Errorf("status --watch used %s of CPU in %s", cpu, wall.Round(time.Millisecond))
	}
	t.Logf("status --watch: %s of CPU in %s", cpu, wall.Round(time.Millisecond))
}

func decodeStatus(t *testing.T, s string) *status.Status {
	t.Helper()
	var st status.Status
	if err := json.Unmarshal([]byte(s), &st); err != nil {
		t.Fatalf("decoding status JSON: %v\n%s", err, s)
	}
	if st.APIVersion != status.APIVersion {
		t.Fatalf("apiVersion %q, want %q", st.APIVersion, status.APIVersion)
	}
	return &st
}

func statusCluster(t *testing.T, s *status.Status, name string) status.Cluster {
	t.Helper()
	for _, r := range s.Regions {
		for _, c := range r.Clusters {
			if c.Name == name {
				return c
			}
		}
	}
	t.Fatalf("cluster %s not in the status", name)
	return status.Cluster{}
}

func statusWorkload(t *testing.T, c status.Cluster, name string) status.Workload {
	t.Helper()
	for _, w := range c.Workloads {
		if w.Name == name {
			return w
		}
	}
	t.Fatalf("cluster %s: workload %s not in the status (%+v)", c.Name, name, c)
	return status.Workload{}
}

// wantDrift checks a cluster's drifted objects, as "object: reason".
func wantDrift(t *testing.T, s *status.Status, cluster string, want ...string) {
	t.Helper()
	c := statusCluster(t, s, cluster)
	if c.Drift == nil {
		t.Errorf("%s: drift not counted (errors %q)", cluster, c.Errors)
		return
	}
	var got []string
	for _, d := range c.Drift.Objects {
		name := d.Kind + " " + d.Namespace + "/" + d.Name
		if d.Group != "" {
			name = d.Group + "/" + name
		}
		got = append(got, name+": "+d.Reason)
	}
	if c.Drift.Count != len(want) || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: drift %d:\n%s\nwant %d:\n%s", cluster, c.Drift.Count, strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
	}
}

func resources(c status.Cluster) string {
	var parts []string
	for _, r := range c.Resources {
		parts = append(parts, r.Name+" "+r.Allocatable+" allocatable "+r.Requested+" requested")
	}
	return strings.Join(parts, ", ")
}

// listsOf is how many LISTs reading a cluster's objects takes: one per
// kind and namespace it renders.
func listsOf(t *testing.T, file, cluster string) int64 {
	t.Helper()
	topo, err := topology.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	d, err := desired.Compute(desired.Options{Topology: topo})
	if err != nil {
		t.Fatal(err)
	}
	dc, _ := d.Cluster(cluster)
	lists := map[string]bool{}
	for _, o := range dc.Objects {
		lists[o.Object.GetKind()+" "+o.Object.GetNamespace()] = true
	}
	return int64(len(lists))
}

var (
	localPort   = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	jsonVarying = regexp.MustCompile(`("(?:observedAt|topologyFile)": )"[^"]*"|("requests": )\d+`)
)

// maskStatus hides what varies between runs: the lab's ports.
func maskStatus(s string) string { return localPort.ReplaceAllString(s, "127.0.0.1:PORT") }

// maskStatusJSON also hides when the fleet was read, where the topology
// file is, and the request counts (checked against a budget instead).
func maskStatusJSON(s string) string {
	return jsonVarying.ReplaceAllStringFunc(maskStatus(s), func(m string) string {
		sub := jsonVarying.FindStringSubmatch(m)
		if sub[1] != "" {
			return sub[1] + `"MASKED"`
		}
		return sub[2] + "0"
	})
}
