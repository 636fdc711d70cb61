package e2e

import (
	"context"
	"flag"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var gkeResumeSeed = flag.Uint64("gke-resume-seed", 0, "seed of TestGKEResume's kill delays; 0 picks one (the test logs it)")

// gkeResumeWindow bounds the delays: the lab takes a few seconds to create
// the seed's two GKE clusters, and a delay past the creates would kill
// apply during the member apply instead, which other tests cover.
const gkeResumeWindow = 2400 * time.Millisecond

// TestGKEResume kills apply (SIGKILL: nothing of it runs after, no lock is
// released, no operation is cancelled) at a random point while it waits for
// GKE to create the seed's two clusters, and re-runs it: each cluster is
// asked of GKE exactly once over both runs, the re-run awaiting a create in
// flight instead of repeating it; the re-run succeeds, plan has nothing
// left to do and the workloads run where placement put them.
//
// Each subtest draws its delay from its third of gkeResumeWindow, so early,
// middle and late points of the wait are all hit; a failure is reproduced
// with -gke-resume-seed.
func TestGKEResume(t *testing.T) {
	seed := *gkeResumeSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (reproduce with -gke-resume-seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	points := []string{"early", "middle", "late"}
	third := gkeResumeWindow / time.Duration(len(points))
	for i, point := range points {
		delay := (time.Duration(i)*third + time.Duration(rng.Int64N(int64(third)))).Round(time.Millisecond)
		t.Run(point, func(t *testing.T) {
			t.Logf("seed %d: SIGKILL %s after the first CREATE_CLUSTER progress line", seed, delay)
			testGKEResume(t, delay)
		})
	}
}

func testGKEResume(t *testing.T, delay time.Duration) {
	e := newEnv(t, gpuNodes("serving-us", "us-east1", 3))
	managed := []string{"serving-eu", "training-us"}

	// A short lock TTL: a lock the kill leaves on a member expires in
	// seconds, and the re-run waits that out with --lock-timeout.
	p := e.start("apply", "-f", e.topology, "--yes", "--lock-ttl", "3s")
	if !p.waitFor("CREATE_CLUSTER: ", 2*time.Minute) {
		p.kill()
		r := p.wait()
		t.Fatalf("apply never reported a CREATE_CLUSTER operation (exit %d)\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	time.Sleep(delay)
	p.kill()
	killed := time.Now()
	r := p.wait()
	if r.code != -1 {
		t.Fatalf("apply ended by itself (exit %d) before the SIGKILL %s after the first CREATE_CLUSTER line\nstdout:\n%s\nstderr:\n%s", r.code, delay, r.stdout, r.stderr)
	}
	inFlight := e.createsInFlight()
	t.Logf("killed; creates still in flight in GKE: %v; CreateCluster calls so far: %v; the killed apply's progress:\n%s",
		inFlight, e.emu.CreateClusterCalls(), r.stderr)
	if len(inFlight) == 0 {
		// Not a failure of apply, but the point of the test was missed.
		t.Errorf("the SIGKILL %s after the first CREATE_CLUSTER line came after GKE had created both clusters: lower gkeResumeWindow", delay)
	}
	if calls := sortedCopy(e.emu.CreateClusterCalls()); len(slices.Compact(slices.Clone(calls))) != len(calls) {
		t.Errorf("the killed apply asked GKE to create a cluster more than once: %v", calls)
	}
	if _, err := e.clientset("serving-us").CoordinationV1().Leases("kube-system").Get(context.Background(), "geofed-ai-platform", metav1.GetOptions{}); err == nil {
		t.Logf("the kill left the lock on serving-us (TTL 3s)")
	} else if !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}

	// The re-run awaits what is in flight and creates only what is not
	// there. The first run may have died holding a lock: wait it out.
	r = e.run("apply", "-f", e.topology, "--yes", "--lock-timeout", "30s")
	t.Logf("re-run %s after the kill; its progress:\n%s", time.Since(killed).Round(100*time.Millisecond), r.stderr)
	if r.code != 0 {
		t.Fatalf("apply after the SIGKILL: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if calls := sortedCopy(e.emu.CreateClusterCalls()); !slices.Equal(calls, managed) {
		t.Errorf("CreateCluster calls over the killed apply and its re-run: %v, want exactly one per cluster: %v", calls, managed)
	}
	for _, name := range inFlight {
		if strings.Contains(r.stderr, "creating GKE cluster "+name) {
			t.Errorf("the re-run asked to create %s, whose create was still in flight", name)
		}
	}
	if names := e.gkeClusters(); !slices.Equal(names, managed) {
		t.Errorf("GKE clusters after the re-run: %v, want %v", names, managed)
	}

	if r = e.run("plan", "-f", e.topology, "--detailed-exitcode"); r.code != 0 {
		t.Errorf("plan after the re-run: exit %d, want 0 (no changes)\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	e.wantAvailable("training-us", "ml", "trainer", 4)
	e.wantAvailable("serving-eu", "serving", "model-server", 4)
	e.wantAvailable("serving-us", "serving", "model-server", 2)
}

// createsInFlight names the clusters whose CREATE_CLUSTER operation the
// emulator is still running, sorted.
func (e *env) createsInFlight() []string {
	e.t.Helper()
	ctx := context.Background()
	c := e.containerClient(ctx)
	defer c.Close()
	resp, err := c.ListOperations(ctx, &containerpb.ListOperationsRequest{Parent: "projects/acme-ml/locations/-"})
	if err != nil {
		e.t.Fatal(err)
	}
	var names []string
	for _, op := range resp.GetOperations() {
		if op.GetOperationType() == containerpb.Operation_CREATE_CLUSTER && op.GetStatus() != containerpb.Operation_DONE {
			names = append(names, path.Base(op.GetTargetLink()))
		}
	}
	slices.Sort(names)
	return names
}

// sortedCopy is s sorted, s left as it was.
func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
