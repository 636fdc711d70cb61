package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// edge is the one joined lab cluster the engine tests apply to.
const edge = "edge"

// TestEngine checks the engine's semantics on a real control plane, each
// against a topology of its own (so inventories and locks do not meet) on
// one shared lab cluster, reading every result back from the cluster.
func TestEngine(t *testing.T) {
	e := newEnv(t, gpuNodes(edge, "us-east1", 3))
	t.Run("PruneKeepsWhatANamespaceStillHolds", func(t *testing.T) { testPruneSafety(e.on(t)) })
	t.Run("PruneSparesARecreatedObject", func(t *testing.T) { testUIDPrecondition(e.on(t)) })
	t.Run("Lock", func(t *testing.T) { testLock(e.on(t)) })
	t.Run("KilledApplyConverges", func(t *testing.T) { testKilled(e.on(t)) })
	t.Run("NoPhantomChanges", func(t *testing.T) { testNoPhantom(e.on(t)) })
	t.Run("BeingDeleted", func(t *testing.T) { testBeingDeleted(e.on(t)) })
	t.Run("ForeignNeedsAdopt", func(t *testing.T) { testForeign(e.on(t)) })
	t.Run("ExistingNamespaceIsDryRun", func(t *testing.T) { testExistingNamespace(e.on(t)) })
	t.Run("PruneKeepsACRDWithCustomResources", func(t *testing.T) { testCRDPrune(e.on(t)) })
	t.Run("SameClusterTwice", func(t *testing.T) { testSameClusterTwice(e.on(t)) })
	t.Run("SecretHashesStayHidden", func(t *testing.T) { testSecretHashes(e.on(t)) })
	t.Run("JobThatCannotRunFailsTheWait", func(t *testing.T) { testUnschedulableJob(e.on(t)) })
}

// A training Job whose pods ask for 2 GPUs on nodes with one each never
// runs: a started Job is not a ready one. Apply fails the wait naming the
// scheduler's reason, and so does a re-run with nothing left to change.
func testUnschedulableJob(e *env) {
	t := e.t
	tp := e.newTopology("job")
	tp.set("train", namespace("train")+`---
apiVersion: batch/v1
kind: Job
metadata:
  name: train
  namespace: train
spec:
  parallelism: 2
  completions: 2
  template:
    spec:
      restartPolicy: Never
      tolerations:
      - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
      containers:
      - name: main
        image: registry.example/train:1
        resources:
          limits: {nvidia.com/gpu: 2}
`)
	for i, want := range []string{"Plan:", "No changes. Checking that every workload is ready."} {
		r := e.run("apply", "-f", tp.file(), "--yes", "--timeout", "6s")
		out := r.stdout + r.stderr
		if r.code != 1 || !strings.Contains(r.stdout, want) {
			t.Fatalf("apply #%d: exit %d, want 1 and %q\nstdout:\n%s\nstderr:\n%s", i+1, r.code, want, r.stdout, r.stderr)
		}
		for _, name := range []string{"Job train/train", "0/2 pods running", "Insufficient nvidia.com/gpu"} {
			if !strings.Contains(out, name) {
				t.Errorf("apply #%d does not say %q:\n%s", i+1, name, out)
			}
		}
	}
}

// 1. Removing a workload never deletes a Namespace that still holds what
// geofed does not delete: a hand-made ConfigMap, another workload's
// Deployment. It stays owned and goes once it is empty.
func testPruneSafety(e *env) {
	t := e.t
	tp := e.newTopology("prune")
	tp.set("a", namespace("ml")+configMap("ml", "a-config", "v1")+deployment("ml", "a-server", 1, ""))
	tp.set("b", deployment("ml", "feature-cache", 1, ""))
	e.mustApply(tp)
	e.kubectl(edge, "create", "configmap", "notes", "-n", "ml", "--from-literal=todo=ask before deleting")

	tp.remove("a")
	r := e.run("plan", "-f", tp.file())
	if r.code != 0 {
		t.Fatalf("plan without workload a: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("plan without workload a:\n%s", r.stdout)
	kept := lineWith(r.stdout, "! Namespace ml: kept — holds ")
	if !strings.Contains(kept, "ConfigMap notes") || !strings.Contains(kept, "Deployment feature-cache") {
		t.Errorf("plan without workload a does not keep Namespace ml naming ConfigMap notes and Deployment feature-cache:\n%s", r.stdout)
	}
	for _, want := range []string{
		"- ConfigMap ml/a-config",
		"- apps/Deployment ml/a-server",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan without workload a lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "- Namespace ml") {
		t.Errorf("plan deletes Namespace ml although it holds other objects:\n%s", r.stdout)
	}

	r = e.run("apply", "-f", tp.file(), "--yes")
	if r.code != 0 {
		t.Fatalf("apply without workload a: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	cs := e.edge()
	ctx := context.Background()
	if _, err := cs.CoreV1().ConfigMaps("ml").Get(ctx, "notes", metav1.GetOptions{}); err != nil {
		t.Errorf("the hand-made ConfigMap ml/notes after the prune: %v", err)
	}
	if _, err := cs.AppsV1().Deployments("ml").Get(ctx, "feature-cache", metav1.GetOptions{}); err != nil {
		t.Errorf("workload b's Deployment ml/feature-cache after workload a was pruned: %v", err)
	}
	e.wantGone("ConfigMap ml/a-config", func() error {
		_, err := cs.CoreV1().ConfigMaps("ml").Get(ctx, "a-config", metav1.GetOptions{})
		return err
	})
	e.wantGone("Deployment ml/a-server", func() error {
		_, err := cs.AppsV1().Deployments("ml").Get(ctx, "a-server", metav1.GetOptions{})
		return err
	})
	if ns, err := cs.CoreV1().Namespaces().Get(ctx, "ml", metav1.GetOptions{}); err != nil || ns.DeletionTimestamp != nil {
		t.Errorf("Namespace ml after the prune: %v (deletionTimestamp %v), want it kept", err, nsDeletion(ns))
	}
	if !e.inventoryHas(tp.name, object.Key("", "Namespace", "", "ml")) {
		t.Errorf("the inventory no longer lists the kept Namespace ml: %v", e.inventoryKeys(tp.name))
	}
	if r = e.run("plan", "-f", tp.file(), "--detailed-exitcode"); r.code != 0 {
		t.Errorf("plan after the prune: exit %d, want 0 (a kept Namespace is no change)\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// Empty once b is gone and the note deleted: the next apply deletes it.
	tp.remove("b")
	e.kubectl(edge, "delete", "configmap", "notes", "-n", "ml")
	r = e.run("apply", "-f", tp.file(), "--yes")
	if r.code != 0 {
		t.Fatalf("apply without any workload: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"- Namespace ml", "- apps/Deployment ml/feature-cache"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("apply without any workload lacks %q:\n%s", want, r.stdout)
		}
	}
	if dep, ns := strings.Index(r.stderr, "deleted apps/Deployment ml/feature-cache"), strings.Index(r.stderr, "deleted Namespace ml"); dep < 0 || ns < dep {
		t.Errorf("prune did not delete the workload before its Namespace:\n%s", r.stderr)
	}
	e.wantGone("Namespace ml", func() error {
		_, err := cs.CoreV1().Namespaces().Get(ctx, "ml", metav1.GetOptions{})
		return err
	})
	if keys := e.inventoryKeys(tp.name); len(keys) != 0 {
		t.Errorf("inventory after everything was pruned: %v, want empty", keys)
	}
}

// 2. An object deleted by hand and re-created under the same name is not
// geofed's: a prune never deletes it, whether it carries geofed's labels or
// not, and whether it was re-created before the plan or between the plan
// and the delete (the UID precondition).
func testUIDPrecondition(e *env) {
	t := e.t
	ctx := context.Background()
	cs := e.edge()
	tp := e.newTopology("uid")
	tp.set("w", namespace("uidns")+configMap("uidns", "stays", "1")+configMap("uidns", "labelled", "1")+
		configMap("uidns", "bare", "1")+configMap("uidns", "raced", "1"))
	e.mustApply(tp)

	// Re-created before the plan: one with geofed's labels copied, one
	// without.
	for _, name := range []string{"labelled", "bare"} {
		old, err := cs.CoreV1().ConfigMaps("uidns").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := cs.CoreV1().ConfigMaps("uidns").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		mine := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "uidns"}, Data: map[string]string{"owner": "a person"}}
		if name == "labelled" {
			mine.Labels = old.Labels
		}
		if _, err := cs.CoreV1().ConfigMaps("uidns").Create(ctx, mine, metav1.CreateOptions{FieldManager: "by-hand"}); err != nil {
			t.Fatal(err)
		}
	}
	tp.set("w", namespace("uidns")+configMap("uidns", "stays", "1"))
	r := e.run("plan", "-f", tp.file())
	if r.code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "! ConfigMap uidns/labelled: not deleted: re-created since geofed applied it") {
		t.Errorf("plan does not flag the re-created, labelled ConfigMap:\n%s", r.stdout)
	}
	for _, name := range []string{"labelled", "bare"} {
		if strings.Contains(r.stdout, "- ConfigMap uidns/"+name) {
			t.Errorf("plan deletes the re-created ConfigMap %s:\n%s", name, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "- ConfigMap uidns/raced") {
		t.Fatalf("plan does not delete ConfigMap raced:\n%s", r.stdout)
	}

	// Re-created between the plan and the delete: apply is slowed down
	// (--qps) so the test can replace raced once the plan is printed.
	p := e.start("apply", "-f", tp.file(), "--yes", "--qps", "3", "--burst", "1")
	if !p.waitFor("Plan: ", time.Minute) {
		p.kill()
		t.Fatalf("apply never printed its plan:\n%s", p.wait().stdout)
	}
	if err := cs.CoreV1().ConfigMaps("uidns").Delete(ctx, "raced", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps("uidns").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "raced", Namespace: "uidns"}, Data: map[string]string{"owner": "a person"},
	}, metav1.CreateOptions{FieldManager: "by-hand"}); err != nil {
		t.Fatal(err)
	}
	r = p.wait()
	if r.code != 0 {
		t.Errorf("apply: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "not deleting ConfigMap uidns/raced: re-created since the plan") {
		t.Errorf("apply does not say it spared the re-created ConfigMap raced (did the race happen too late?):\n%s", r.stderr)
	}
	for _, name := range []string{"labelled", "bare", "raced"} {
		cm, err := cs.CoreV1().ConfigMaps("uidns").Get(ctx, name, metav1.GetOptions{})
		if err != nil || cm.Data["owner"] != "a person" {
			t.Errorf("the re-created ConfigMap uidns/%s after the prune: %v (data %v), want it kept", name, err, cmData(cm))
		}
	}
	if keys := e.inventoryKeys(tp.name); !slices.Equal(keys, []string{object.Key("", "ConfigMap", "uidns", "stays"), object.Key("", "Namespace", "", "uidns")}) {
		t.Errorf("inventory after the prune: %v, want only what is rendered", keys)
	}
	if r = e.run("plan", "-f", tp.file(), "--detailed-exitcode"); r.code != 0 {
		t.Errorf("plan after the prune: exit %d, want 0\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// 3. A second apply of the same topology is refused while the first holds
// the lock, naming the holder; a killed apply's lock expires after its TTL
// and the next apply (waiting with --lock-timeout) converges.
func testLock(e *env) {
	t := e.t
	ctx := context.Background()
	cs := e.edge()
	tp := e.newTopology("lock")
	// No node has this label: the Deployment never becomes ready, so the
	// first apply holds the lock while it waits.
	tp.set("w", namespace("lockns")+configMap("lockns", "settings", "v1")+deployment("lockns", "stuck", 1, "geofed-e2e/never"))
	first := e.start("apply", "-f", tp.file(), "--yes", "--timeout", "60s", "--lock-ttl", "3s")
	if !first.waitFor("edge: 3 objects applied", time.Minute) {
		first.kill()
		r := first.wait()
		t.Fatalf("the first apply never applied its objects: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	lease, err := cs.CoordinationV1().Leases("kube-system").Get(ctx, "geofed-lock", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the first apply holds no Lease kube-system/geofed-lock: %v", err)
	}
	holder := fmt.Sprintf("/pid %d", first.cmd.Process.Pid)
	if h := deref(lease.Spec.HolderIdentity); !strings.HasSuffix(h, holder) {
		t.Errorf("Lease holder %q, want the first apply (…%s)", h, holder)
	}

	tp.set("w", namespace("lockns")+configMap("lockns", "settings", "v2")+deployment("lockns", "stuck", 1, "geofed-e2e/never"))
	r := e.run("apply", "-f", tp.file(), "--yes")
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "cluster edge: apply of topology lock is held by ") ||
		!strings.Contains(r.stdout+r.stderr, holder+" since ") {
		t.Errorf("second apply while the first holds the lock: exit %d, want 1 naming the holder (…%s since …)\nstdout:\n%s\nstderr:\n%s", r.code, holder, r.stdout, r.stderr)
	}
	if v := e.configMapData("lockns", "settings")["value"]; v != "v1" {
		t.Errorf("the refused apply changed ConfigMap lockns/settings to %q", v)
	}

	// kill -9: nothing releases the Lease, it expires.
	first.kill()
	first.wait()
	lease, err = cs.CoordinationV1().Leases("kube-system").Get(ctx, "geofed-lock", metav1.GetOptions{})
	if err != nil {
		t.Errorf("after kill -9 the Lease is gone (%v), want it left by the killed apply", err)
	} else if h, ttl := deref(lease.Spec.HolderIdentity), deref(lease.Spec.LeaseDurationSeconds); !strings.HasSuffix(h, holder) || ttl != 3 {
		t.Errorf("after kill -9 the Lease is held by %q for %ds, want the killed apply (…%s) for 3s", h, ttl, holder)
	}
	tp.set("w", namespace("lockns")+configMap("lockns", "settings", "v2")+deployment("lockns", "stuck", 1, ""))
	start := time.Now()
	r = e.run("apply", "-f", tp.file(), "--yes", "--lock-timeout", "30s", "--timeout", "60s")
	if r.code != 0 {
		t.Fatalf("apply after the killed one: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("apply after kill -9 took %s (waited for the 3s lock to expire)", time.Since(start).Round(100*time.Millisecond))
	if v := e.configMapData("lockns", "settings")["value"]; v != "v2" {
		t.Errorf("ConfigMap lockns/settings is %q after the apply, want v2", v)
	}
	e.wantAvailableOnEdge("lockns", "stuck", 1)
	if _, err := cs.CoordinationV1().Leases("kube-system").Get(ctx, "geofed-lock", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Lease after a finished apply: %v, want it released (NotFound)", err)
	}
	if r = e.run("plan", "-f", tp.file(), "--detailed-exitcode"); r.code != 0 {
		t.Errorf("plan after the apply: exit %d, want 0\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	e.wantInventoryMatchesLive(tp)
}

// 4. kill -9 of apply right after the inventory is widened, between two
// objects, and during prune: each time the next apply converges, plan
// finds nothing to do and the inventory records exactly what is live.
func testKilled(e *env) {
	t := e.t
	ctx := context.Background()
	cs := e.edge()
	tp := e.newTopology("crash")
	manifests := namespace("crashns")
	for i := range 8 {
		manifests += configMap("crashns", fmt.Sprintf("c%d", i), "v1")
	}
	tp.set("w", manifests+deployment("crashns", "worker", 2, ""))
	// Throttled so that every step takes long enough to be killed in;
	// a lock left by a kill expires quickly.
	slow := []string{"--yes", "--qps", "5", "--burst", "1", "--lock-ttl", "2s"}
	converge := func(when string) {
		t.Helper()
		r := e.run("apply", "-f", tp.file(), "--yes", "--lock-timeout", "30s")
		if r.code != 0 {
			t.Fatalf("apply after kill -9 %s: exit %d\nstdout:\n%s\nstderr:\n%s", when, r.code, r.stdout, r.stderr)
		}
		if r = e.run("plan", "-f", tp.file(), "--detailed-exitcode"); r.code != 0 {
			t.Errorf("plan after kill -9 %s and a re-run: exit %d, want 0\n%s\n%s", when, r.code, r.stdout, r.stderr)
		}
		e.wantInventoryMatchesLive(tp)
	}

	// a. Right after the inventory is first written, widened with what the
	// apply is about to send.
	p := e.startKilledOnCreate(cs.CoreV1().ConfigMaps("kube-system"), "geofed-crash", append([]string{"apply", "-f", tp.file()}, slow...)...)
	entries := e.inventory(tp.name)
	noUID := 0
	for _, en := range entries {
		if en.UID == "" {
			noUID++
		}
	}
	if len(entries) != 10 || noUID == 0 {
		t.Errorf("inventory after kill -9 right after it was widened: %d entries, %d without UID; want 10 widened ones", len(entries), noUID)
	}
	t.Logf("killed after the inventory was widened: %d entries, %d not yet applied\n%s", len(entries), noUID, p.stderr)
	converge("after the inventory was widened")

	// b. Between objects: new ConfigMaps n0..n3 after the changed c0..c7,
	// killed once n1 exists. n0 and n1 were sent but their UIDs never
	// recorded; then they, and c0..c3, are no longer rendered.
	manifests = namespace("crashns")
	for i := range 8 {
		manifests += configMap("crashns", fmt.Sprintf("c%d", i), "v2")
	}
	for i := range 4 {
		manifests += configMap("crashns", fmt.Sprintf("n%d", i), "v1")
	}
	tp.set("w", manifests+deployment("crashns", "worker", 2, ""))
	p = e.startKilledOnCreate(cs.CoreV1().ConfigMaps("crashns"), "n1", append([]string{"apply", "-f", tp.file()}, slow...)...)
	var created []string
	for i := range 4 {
		if _, err := cs.CoreV1().ConfigMaps("crashns").Get(ctx, fmt.Sprintf("n%d", i), metav1.GetOptions{}); err == nil {
			created = append(created, fmt.Sprintf("n%d", i))
		}
	}
	if len(created) == 4 {
		t.Errorf("kill -9 between objects: all of n0..n3 were created, want the apply killed before the last")
	}
	for _, en := range e.inventory(tp.name) {
		if en.Name == "n1" && en.UID != "" {
			t.Errorf("inventory after kill -9 between objects records n1's UID %s: it was never written after n1 was sent", en.UID)
		}
	}
	t.Logf("killed between objects: created %v\n%s", created, p.stderr)
	manifests = namespace("crashns")
	for i := 4; i < 8; i++ {
		manifests += configMap("crashns", fmt.Sprintf("c%d", i), "v2")
	}
	tp.set("w", manifests+deployment("crashns", "worker", 2, ""))
	converge("between objects")
	for _, name := range []string{"c0", "c1", "c2", "c3", "n0", "n1", "n2", "n3"} {
		e.wantGone("ConfigMap crashns/"+name, func() error {
			_, err := cs.CoreV1().ConfigMaps("crashns").Get(ctx, name, metav1.GetOptions{})
			return err
		})
	}

	// c. During prune: after the workload tier, between two deletes of
	// the next.
	tp.set("w", namespace("crashns")+configMap("crashns", "c7", "v2"))
	p = e.startKilledOnLine("deleted ConfigMap crashns/c4", append([]string{"apply", "-f", tp.file()}, slow...)...)
	left := 0
	for i := 4; i < 7; i++ {
		if _, err := cs.CoreV1().ConfigMaps("crashns").Get(ctx, fmt.Sprintf("c%d", i), metav1.GetOptions{}); err == nil {
			left++
		}
	}
	t.Logf("killed during prune: %d of 3 ConfigMaps to prune left\n%s", left, p.stderr)
	converge("during prune")
	if _, err := cs.AppsV1().Deployments("crashns").Get(ctx, "worker", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment crashns/worker after the prune was resumed: %v, want NotFound", err)
	}
	for i := 4; i < 7; i++ {
		if _, err := cs.CoreV1().ConfigMaps("crashns").Get(ctx, fmt.Sprintf("c%d", i), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("ConfigMap crashns/c%d after the prune was resumed: %v, want NotFound", i, err)
		}
	}
}

// 5. A full dry-run right after apply reports nothing, while Deployments
// roll out and after.
func testNoPhantom(e *env) {
	t := e.t
	tp := e.newTopology("phantom")
	apps := func(image string) string {
		return namespace("phantom") + configMap("phantom", "settings", "v1") + `---
apiVersion: v1
kind: Secret
metadata:
  name: token
  namespace: phantom
type: Opaque
stringData:
  token: not-a-real-token
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: server
  namespace: phantom
---
apiVersion: v1
kind: Service
metadata:
  name: server
  namespace: phantom
spec:
  selector:
    app: server
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: server
  namespace: phantom
spec:
  replicas: 3
  selector:
    matchLabels:
      app: server
  template:
    metadata:
      labels:
        app: server
    spec:
      serviceAccountName: server
      containers:
      - name: server
        image: ` + image + `
        ports:
        - containerPort: 8080
        env:
        - name: MODE
          value: serve
        resources:
          requests:
            cpu: 100m
            memory: 128Mi
---
apiVersion: batch/v1
kind: Job
metadata:
  name: warmup
  namespace: phantom
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: warmup
        image: busybox
`
	}
	fullPlan := func(when string) {
		t.Helper()
		for _, refresh := range []string{"full", "inventory"} {
			if r := e.run("plan", "-f", tp.file(), "--refresh="+refresh, "--detailed-exitcode"); r.code != 0 {
				t.Errorf("plan --refresh=%s %s: exit %d, want 0\n%s\n%s", refresh, when, r.code, r.stdout, r.stderr)
			}
		}
	}
	tp.set("server", apps("registry.example/server:1"))
	if r := e.run("apply", "-f", tp.file(), "--yes", "--wait=false"); r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for i := range 3 {
		fullPlan(fmt.Sprintf("during the first rollout (%d)", i+1))
	}
	tp.set("server", apps("registry.example/server:2"))
	if r := e.run("apply", "-f", tp.file(), "--yes", "--wait=false"); r.code != 0 {
		t.Fatalf("apply of a new image: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for i := range 3 {
		fullPlan(fmt.Sprintf("during the second rollout (%d)", i+1))
	}
	if r := e.run("apply", "-f", tp.file(), "--yes"); r.code != 0 {
		t.Fatalf("apply waiting for readiness: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	e.wantAvailableOnEdge("phantom", "server", 3)
	fullPlan("after the rollout")
}

// 6. An object with a deletionTimestamp is neither unchanged nor to be
// deleted: plan shows it as being deleted.
func testBeingDeleted(e *env) {
	t := e.t
	ctx := context.Background()
	cs := e.edge()
	tp := e.newTopology("fin")
	tp.set("w", namespace("finns")+configMap("finns", "doomed", "v1")+configMap("finns", "leaving", "v1")+configMap("finns", "other", "v1"))
	e.mustApply(tp)
	for _, name := range []string{"doomed", "leaving"} {
		e.kubectl(edge, "patch", "configmap", name, "-n", "finns", "--type=merge", "-p", `{"metadata":{"finalizers":["geofed-e2e/hold"]}}`)
		e.kubectl(edge, "delete", "configmap", name, "-n", "finns", "--wait=false")
	}
	// doomed is still rendered, leaving no longer is.
	tp.set("w", namespace("finns")+configMap("finns", "doomed", "v1")+configMap("finns", "other", "v1"))
	r := e.run("plan", "-f", tp.file())
	if r.code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"! ConfigMap finns/doomed: being deleted", "! ConfigMap finns/leaving: being deleted"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, not := range []string{"- ConfigMap finns/leaving", "+ ConfigMap finns/doomed", "~ ConfigMap finns/doomed"} {
		if strings.Contains(r.stdout, not) {
			t.Errorf("plan has %q for an object being deleted:\n%s", not, r.stdout)
		}
	}
	p := decodePlan(t, e.run("plan", "-f", tp.file(), "-o", "json").stdout)
	for _, o := range findCluster(t, p, edge).Objects {
		if (o.Name == "doomed" || o.Name == "leaving") && o.Action != object.ActionBeingDeleted {
			t.Errorf("ConfigMap %s: action %s, want %s", o.Name, o.Action, object.ActionBeingDeleted)
		}
	}

	// Nothing else to change: apply may not create doomed while it is
	// being deleted, so it fails at once saying so (--timeout bounds a
	// wrong wait for its readiness).
	start := time.Now()
	r = e.run("apply", "-f", tp.file(), "--yes", "--timeout", "15s")
	if r.code != 1 || !strings.Contains(r.stdout, "ConfigMap finns/doomed is being deleted") {
		t.Errorf("apply whose only entries are being deleted: exit %d after %s, want 1 saying doomed is being deleted\nstdout:\n%s\nstderr:\n%s", r.code, time.Since(start).Round(time.Second), r.stdout, r.stderr)
	}

	// With a real change besides: apply leaves both alone and says so.
	tp.set("w", namespace("finns")+configMap("finns", "doomed", "v1")+configMap("finns", "other", "v2"))
	r = e.run("apply", "-f", tp.file(), "--yes")
	t.Logf("apply with objects being deleted: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	if r.code != 1 || !strings.Contains(r.stdout, "ConfigMap finns/doomed is being deleted") {
		t.Errorf("apply with a rendered object being deleted: exit %d, want 1 saying doomed is being deleted\n%s", r.code, r.stdout)
	}
	if strings.Contains(r.stdout, "ConfigMap finns/leaving is being deleted") {
		t.Errorf("apply reports the no-longer-rendered ConfigMap leaving as not applied:\n%s", r.stdout)
	}
	for _, name := range []string{"doomed", "leaving"} {
		cm, err := cs.CoreV1().ConfigMaps("finns").Get(ctx, name, metav1.GetOptions{})
		if err != nil || cm.DeletionTimestamp == nil || cm.Data["value"] != "v1" {
			t.Errorf("ConfigMap finns/%s after apply: %v, want it left alone, still being deleted", name, err)
		}
	}
	if v := e.configMapData("finns", "other")["value"]; v != "v2" {
		t.Errorf("ConfigMap finns/other is %q, want v2", v)
	}

	// Once the finalizers are gone, the next apply re-creates doomed.
	for _, name := range []string{"doomed", "leaving"} {
		e.kubectl(edge, "patch", "configmap", name, "-n", "finns", "--type=merge", "-p", `{"metadata":{"finalizers":null}}`)
	}
	if r = e.run("apply", "-f", tp.file(), "--yes"); r.code != 0 {
		t.Fatalf("apply once they are gone: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if v := e.configMapData("finns", "doomed")["value"]; v != "v1" {
		t.Errorf("ConfigMap finns/doomed is %q after it was re-created, want v1", v)
	}
	if r = e.run("plan", "-f", tp.file(), "--detailed-exitcode"); r.code != 0 {
		t.Errorf("plan: exit %d, want 0\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	e.wantInventoryMatchesLive(tp)
}

// 7. An object of another topology or ApplySet is never taken over without
// --adopt.
func testForeign(e *env) {
	t := e.t
	ctx := context.Background()
	cs := e.edge()
	tp := e.newTopology("foreign")
	e.kubectl(edge, "create", "namespace", "forns")
	otherSet := inventory.ID("other")
	for name, labels := range map[string]map[string]string{
		"theirs":      {object.LabelTopology: "other"},
		"their-set":   {object.LabelPartOf: otherSet},
		"untouchable": {object.LabelTopology: "other"},
	} {
		if _, err := cs.CoreV1().ConfigMaps("forns").Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "forns", Labels: labels}, Data: map[string]string{"value": "theirs"},
		}, metav1.CreateOptions{FieldManager: "other-tool"}); err != nil {
			t.Fatal(err)
		}
	}
	tp.set("w", configMap("forns", "mine", "v1")+configMap("forns", "theirs", "v1")+configMap("forns", "their-set", "v1"))
	r := e.run("plan", "-f", tp.file())
	for _, want := range []string{
		"! ConfigMap forns/theirs: belongs to topology other: apply takes it only with --adopt",
		"! ConfigMap forns/their-set: belongs to another ApplySet (" + otherSet + "): apply takes it only with --adopt",
		"+ ConfigMap forns/mine",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	r = e.run("apply", "-f", tp.file(), "--yes")
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "--adopt") {
		t.Errorf("apply with foreign objects: exit %d, want 1 naming --adopt\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, name := range []string{"theirs", "their-set"} {
		if v := e.configMapData("forns", name)["value"]; v != "theirs" {
			t.Errorf("apply without --adopt changed ConfigMap forns/%s to %q", name, v)
		}
	}
	if _, err := cs.CoreV1().ConfigMaps("forns").Get(ctx, "mine", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a refused apply created ConfigMap forns/mine: %v", err)
	}

	// --adopt: the ownership labels and the values were written by
	// other-tool, so taking them is also a conflict; a refusal must name
	// the manager and --force-conflicts.
	r = e.run("apply", "-f", tp.file(), "--yes", "--adopt")
	if r.code != 0 {
		if !strings.Contains(r.stdout+r.stderr, `"other-tool"`) || !strings.Contains(r.stdout+r.stderr, "--force-conflicts") {
			t.Errorf("apply --adopt refused without naming the other manager and --force-conflicts: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		r = e.run("apply", "-f", tp.file(), "--yes", "--adopt", "--force-conflicts")
	}
	if r.code != 0 {
		t.Fatalf("apply --adopt --force-conflicts: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"ConfigMap forns/theirs (adopted from topology other", "ConfigMap forns/their-set (adopted from another ApplySet"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("apply --adopt does not say %q:\n%s", want, r.stdout)
		}
	}
	for _, name := range []string{"theirs", "their-set", "mine"} {
		cm, err := cs.CoreV1().ConfigMaps("forns").Get(ctx, name, metav1.GetOptions{})
		if err != nil || cm.Data["value"] != "v1" || cm.Labels[object.LabelTopology] != "foreign" || cm.Labels[object.LabelPartOf] != inventory.ID("foreign") {
			t.Errorf("ConfigMap forns/%s after apply --adopt: %v, labels %v, data %v; want it geofed's with value v1", name, err, cmLabels(cm), cmData(cm))
		}
	}
	if r = e.run("plan", "-f", tp.file(), "--detailed-exitcode"); r.code != 0 {
		t.Errorf("plan after apply --adopt: exit %d, want 0\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// A foreign object alone, with nothing else to change, is still refused.
	tp.set("w", configMap("forns", "mine", "v1")+configMap("forns", "theirs", "v1")+configMap("forns", "their-set", "v1")+configMap("forns", "untouchable", "v1"))
	r = e.run("apply", "-f", tp.file(), "--yes")
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "--adopt") {
		t.Errorf("apply whose only change is a foreign object: exit %d, want 1 naming --adopt\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if v := e.configMapData("forns", "untouchable")["value"]; v != "theirs" {
		t.Errorf("apply without --adopt changed ConfigMap forns/untouchable to %q", v)
	}
}

// 8. An object that exists in a Namespace geofed did not make is dry-run
// like any other: adopting it is "~" with its diff, never "+".
func testExistingNamespace(e *env) {
	t := e.t
	ctx := context.Background()
	cs := e.edge()
	// Namespace ml of the first subtest is gone by now (it checked).
	e.kubectl(edge, "create", "namespace", "ml")
	e.kubectl(edge, "create", "configmap", "settings", "-n", "ml", "--from-literal=value=by-hand")
	tp := e.newTopology("existing")
	tp.set("w", namespace("ml")+configMap("ml", "settings", "from-geofed"))
	r := e.run("plan", "-f", tp.file(), "--detailed-exitcode")
	if r.code != 2 {
		t.Errorf("plan: exit %d, want 2\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"~ Namespace ml (exists, not applied by geofed: apply adopts it)",
		"~ ConfigMap ml/settings (exists, not applied by geofed: apply adopts it",
		"~ data.value: by-hand → from-geofed",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "+ ConfigMap ml/settings") || strings.Contains(r.stdout, "+ Namespace ml") {
		t.Errorf("plan shows an existing object as new:\n%s", r.stdout)
	}
	// The value belongs to kubectl create's field manager: a conflict,
	// shown and refused naming the manager, until --force-conflicts.
	if !strings.Contains(lineWith(r.stdout, "~ ConfigMap ml/settings"), `conflict with "kubectl-create"`) {
		t.Errorf("plan does not name the conflicting manager of ConfigMap ml/settings:\n%s", r.stdout)
	}
	r = e.run("apply", "-f", tp.file(), "--yes")
	if r.code != 1 || !strings.Contains(r.stdout, `conflict with "kubectl-create"`) || !strings.Contains(r.stdout, "--force-conflicts") {
		t.Errorf("apply over a hand-made value: exit %d, want 1 naming kubectl-create and --force-conflicts\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if v := e.configMapData("ml", "settings")["value"]; v != "by-hand" {
		t.Errorf("a refused apply changed ConfigMap ml/settings to %q", v)
	}
	if r = e.run("apply", "-f", tp.file(), "--yes", "--force-conflicts"); r.code != 0 {
		t.Fatalf("apply --force-conflicts: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if v := e.configMapData("ml", "settings")["value"]; v != "from-geofed" {
		t.Errorf("ConfigMap ml/settings is %q after apply, want from-geofed", v)
	}
	if ns, err := cs.CoreV1().Namespaces().Get(ctx, "ml", metav1.GetOptions{}); err != nil || ns.Labels[object.LabelTopology] != "existing" {
		t.Errorf("Namespace ml after apply: %v, want it adopted", err)
	}
	if r = e.run("plan", "-f", tp.file(), "--detailed-exitcode"); r.code != 0 {
		t.Errorf("plan after apply: exit %d, want 0\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	e.wantInventoryMatchesLive(tp)
}

// A CRD geofed applied is deleted only when no custom resources of it
// remain; in prune order, after the workloads and the rest.
func testCRDPrune(e *env) {
	t := e.t
	ctx := context.Background()
	cs := e.edge()
	tp := e.newTopology("crd")
	tp.set("w", namespace("crdns")+`---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.e2e.geofed.io
spec:
  group: e2e.geofed.io
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
---
apiVersion: e2e.geofed.io/v1
kind: Widget
metadata:
  name: rendered
  namespace: crdns
spec:
  size: 1
`)
	e.mustApply(tp)
	// A Widget a person made, in another namespace.
	e.kubectl(edge, "create", "namespace", "crd-hand")
	manifest := filepath.Join(t.TempDir(), "widget.yaml")
	if err := os.WriteFile(manifest, []byte("apiVersion: e2e.geofed.io/v1\nkind: Widget\nmetadata:\n  name: spare\n  namespace: crd-hand\nspec:\n  size: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.kubectl(edge, "apply", "-f", manifest)

	tp.remove("w")
	r := e.run("plan", "-f", tp.file())
	if r.code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"! apiextensions.k8s.io/CustomResourceDefinition widgets.e2e.geofed.io: kept — holds 1 object geofed did not apply: e2e.geofed.io/Widget crd-hand/spare",
		"- e2e.geofed.io/Widget crdns/rendered",
		"- Namespace crdns",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	if r = e.run("apply", "-f", tp.file(), "--yes"); r.code != 0 {
		t.Fatalf("apply: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	crds := e.kubectl(edge, "get", "crd", "-o", "name")
	if !strings.Contains(crds, "widgets.e2e.geofed.io") {
		t.Fatalf("the CRD holding a hand-made Widget was deleted:\n%s", crds)
	}
	if out := e.kubectl(edge, "get", "widgets", "-n", "crd-hand", "-o", "name"); !strings.Contains(out, "spare") {
		t.Errorf("the hand-made Widget after the prune: %q", out)
	}
	e.wantGone("Namespace crdns", func() error {
		_, err := cs.CoreV1().Namespaces().Get(ctx, "crdns", metav1.GetOptions{})
		return err
	})

	e.kubectl(edge, "delete", "widget", "spare", "-n", "crd-hand")
	r = e.run("apply", "-f", tp.file(), "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "- apiextensions.k8s.io/CustomResourceDefinition widgets.e2e.geofed.io") {
		t.Fatalf("apply once the CRD is empty: exit %d, want it deleted\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	deadline := time.Now().Add(time.Minute)
	for strings.Contains(e.kubectl(edge, "get", "crd", "-o", "name"), "widgets.e2e.geofed.io") {
		if time.Now().After(deadline) {
			t.Fatal("the empty CRD still exists a minute after it was pruned")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if keys := e.inventoryKeys(tp.name); len(keys) != 0 {
		t.Errorf("inventory after everything was pruned: %v, want empty", keys)
	}
}

// The same physical cluster twice in one topology is an error naming both
// entries, whether through the same context or two contexts for one server.
func testSameClusterTwice(e *env) {
	t := e.t
	cfg, err := clientcmd.LoadFromFile(e.kubecfg)
	if err != nil {
		t.Fatal(err)
	}
	ctxEdge := cfg.Contexts[edge]
	server := cfg.Clusters[ctxEdge.Cluster].Server
	cfg.Clusters["by-ip"] = cfg.Clusters[ctxEdge.Cluster].DeepCopy()
	cfg.Contexts["by-ip"] = &clientcmdapi.Context{Cluster: "by-ip", AuthInfo: ctxEdge.AuthInfo}
	byName := cfg.Clusters[ctxEdge.Cluster].DeepCopy()
	byName.Server = strings.Replace(server, "127.0.0.1", "localhost", 1)
	cfg.Clusters["by-name"] = byName
	cfg.Contexts["by-name"] = &clientcmdapi.Context{Cluster: "by-name", AuthInfo: ctxEdge.AuthInfo}
	dir := t.TempDir()
	if err := clientcmd.WriteToFile(*cfg, filepath.Join(dir, "kubeconfig")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, context, want string }{
		{"same-context", edge, `context "edge" is already used by cluster edge (`},
		{"same-server", "by-ip", "is the same cluster as"},
		{"same-server-by-name", "by-name", "is the same cluster as"},
	} {
		topo := fmt.Sprintf(`apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: twice
spec:
  regions:
  - name: us-east1
    clusters:
    - name: edge
      kubeconfig:
        context: edge
        path: kubeconfig
    - name: alias
      kubeconfig:
        context: %s
        path: kubeconfig
`, c.context)
		file := filepath.Join(dir, c.name+".yaml")
		if err := os.WriteFile(file, []byte(topo), 0o644); err != nil {
			t.Fatal(err)
		}
		// Line 9 names cluster edge; lines 13 to 15 are cluster alias.
		r := e.run("plan", "-f", file)
		second := strings.Contains(r.stderr, c.name+".yaml:13") || strings.Contains(r.stderr, c.name+".yaml:15")
		if r.code != 1 || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, c.name+".yaml:9") || !second {
			t.Errorf("%s: plan exit %d, want 1 with %q naming both clusters' lines of %s.yaml\nstdout:\n%s\nstderr:\n%s", c.name, r.code, c.want, c.name, r.stdout, r.stderr)
		}
	}
}

// Neither a Secret's values nor a hash of them appear in any output, in a
// saved plan or in the inventory, also when the Secret changes.
func testSecretHashes(e *env) {
	t := e.t
	tp := e.newTopology("secret")
	secret := func(value string) string {
		return namespace("secns") + "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: token\n  namespace: secns\ntype: Opaque\nstringData:\n  token: " + value + "\n"
	}
	tp.set("w", secret("first-secret-value"))
	hashes := []string{e.secretHash(tp)}
	r := e.run("apply", "-f", tp.file(), "--yes")
	if r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	outputs := map[string]string{"apply": r.stdout + r.stderr}
	tp.set("w", secret("second-secret-value"))
	hashes = append(hashes, e.secretHash(tp))
	saved := filepath.Join(t.TempDir(), "plan.json")
	for name, args := range map[string][]string{
		"plan":           {"plan", "-f", tp.file()},
		"plan --diff":    {"plan", "-f", tp.file(), "--diff"},
		"plan -o json":   {"plan", "-f", tp.file(), "-o", "json", "--diff"},
		"plan --out":     {"plan", "-f", tp.file(), "--out", saved},
		"render":         {"render", "-f", tp.file()},
		"render -o json": {"render", "-f", tp.file(), "-o", "json"},
	} {
		r := e.run(args...)
		outputs[name] = r.stdout + r.stderr
	}
	b, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	outputs["the saved plan"] = string(b)
	r = e.run("apply", saved)
	if r.code != 0 {
		t.Errorf("apply of the saved plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	outputs["apply of the saved plan"] = r.stdout + r.stderr
	cm, err := e.edge().CoreV1().ConfigMaps(inventory.ParentNamespace).Get(context.Background(), inventory.ParentName(tp.name), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	outputs["the inventory"] = cm.Data["inventory.json"]
	for name, out := range outputs {
		for _, v := range append(hashes, "first-secret-value", "second-secret-value") {
			if strings.Contains(out, v) {
				i := strings.Index(out, v)
				t.Errorf("%s contains the Secret's value or the hash of its values %q: …%s…", name, v, out[max(0, i-120):min(len(out), i+len(v))])
			}
		}
	}
}

// secretHash is the applied-hash of the topology's one Secret: a hash of
// its values.
func (e *env) secretHash(tp *engineTopology) string {
	e.t.Helper()
	topo, err := topology.Load(tp.file())
	if err != nil {
		e.t.Fatal(err)
	}
	d, err := desired.Compute(desired.Options{Topology: topo})
	if err != nil {
		e.t.Fatal(err)
	}
	dc, _ := d.Cluster(edge)
	for _, o := range dc.Objects {
		if o.Object.GetKind() == "Secret" {
			return o.Hash
		}
	}
	e.t.Fatal("the topology renders no Secret")
	return ""
}

// on is the shared environment seen from a subtest: failures go to t.
func (e *env) on(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// engineTopology is a topology of plain kustomize apps on the lab cluster
// edge, written into a directory of its own.
type engineTopology struct {
	e    *env
	name string
	dir  string
	// apps holds each workload's manifests, in the order set.
	apps  map[string]string
	order []string
}

func (e *env) newTopology(name string) *engineTopology {
	return &engineTopology{e: e, name: name, dir: e.t.TempDir(), apps: map[string]string{}}
}

func (tp *engineTopology) file() string { return filepath.Join(tp.dir, "topology.yaml") }

// set makes workload name render manifests, and writes the topology.
func (tp *engineTopology) set(name, manifests string) {
	if _, ok := tp.apps[name]; !ok {
		tp.order = append(tp.order, name)
	}
	tp.apps[name] = manifests
	tp.write()
}

// remove takes a workload out of the topology.
func (tp *engineTopology) remove(name string) {
	delete(tp.apps, name)
	tp.order = slices.DeleteFunc(tp.order, func(n string) bool { return n == name })
	tp.write()
}

func (tp *engineTopology) write() {
	t := tp.e.t
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: %s
spec:
  regions:
  - name: us-east1
    clusters:
    - name: %s
      kubeconfig:
        context: %s
`, tp.name, edge, edge)
	if len(tp.order) > 0 {
		b.WriteString("  workloads:\n")
	}
	for _, name := range tp.order {
		fmt.Fprintf(&b, "  - name: %s\n    source: apps/%s\n", name, name)
		dir := filepath.Join(tp.dir, "apps", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources:\n- manifests.yaml\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "manifests.yaml"), []byte(tp.apps[name]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(tp.file(), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func namespace(name string) string {
	return fmt.Sprintf("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", name)
}

func configMap(ns, name, value string) string {
	return fmt.Sprintf("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\ndata:\n  value: %q\n", name, ns, value)
}

// deployment is a Deployment of replicas pods; with nodeLabel its pods only
// fit nodes carrying that label (none do: it never becomes ready).
func deployment(ns, name string, replicas int, nodeLabel string) string {
	selector := ""
	if nodeLabel != "" {
		selector = fmt.Sprintf("      nodeSelector:\n        %s: \"true\"\n", nodeLabel)
	}
	return fmt.Sprintf(`---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[2]s
  namespace: %[1]s
spec:
  replicas: %[3]d
  selector:
    matchLabels:
      app: %[2]s
  template:
    metadata:
      labels:
        app: %[2]s
    spec:
%[4]s      containers:
      - name: main
        image: registry.example/%[2]s:1
`, ns, name, replicas, selector)
}

// mustApply applies the topology and expects success.
func (e *env) mustApply(tp *engineTopology) {
	e.t.Helper()
	if r := e.run("apply", "-f", tp.file(), "--yes"); r.code != 0 {
		e.t.Fatalf("apply of topology %s: exit %d\nstdout:\n%s\nstderr:\n%s", tp.name, r.code, r.stdout, r.stderr)
	}
}

// edge is a client of the lab cluster edge, straight from the kubeconfig.
func (e *env) edge() kubernetes.Interface {
	e.t.Helper()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: e.kubecfg},
		&clientcmd.ConfigOverrides{CurrentContext: edge},
	).ClientConfig()
	if err != nil {
		e.t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return cs
}

// wantAvailableOnEdge checks that a Deployment on edge runs replicas pods,
// all available.
func (e *env) wantAvailableOnEdge(ns, name string, replicas int32) {
	e.t.Helper()
	d, err := e.edge().AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Errorf("Deployment %s/%s: %v", ns, name, err)
		return
	}
	if deref(d.Spec.Replicas) != replicas || d.Status.AvailableReplicas != replicas {
		e.t.Errorf("Deployment %s/%s: spec.replicas %d, %d available, want %d available", ns, name, deref(d.Spec.Replicas), d.Status.AvailableReplicas, replicas)
	}
}

func (e *env) configMapData(ns, name string) map[string]string {
	e.t.Helper()
	cm, err := e.edge().CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Errorf("ConfigMap %s/%s: %v", ns, name, err)
		return nil
	}
	return cm.Data
}

// wantGone waits until get reports NotFound (a deletion may take the
// garbage collector or the namespace controller a moment).
func (e *env) wantGone(what string, get func() error) {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := get()
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Errorf("%s still exists a minute after it was pruned (%v)", what, err)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// inventory reads the entries of the topology's inventory ConfigMap
// kube-system/geofed-<topology> on edge.
func (e *env) inventory(topo string) []inventory.Entry {
	e.t.Helper()
	cm, err := e.edge().CoreV1().ConfigMaps(inventory.ParentNamespace).Get(context.Background(), inventory.ParentName(topo), metav1.GetOptions{})
	if err != nil {
		e.t.Fatalf("inventory of topology %s: %v", topo, err)
	}
	var entries []inventory.Entry
	if err := json.Unmarshal([]byte(cm.Data["inventory.json"]), &entries); err != nil {
		e.t.Fatalf("decoding the inventory of topology %s: %v\n%s", topo, err, cm.Data["inventory.json"])
	}
	return entries
}

func (e *env) inventoryKeys(topo string) []string {
	var keys []string
	for _, en := range e.inventory(topo) {
		keys = append(keys, en.Key())
	}
	slices.Sort(keys)
	return keys
}

func (e *env) inventoryHas(topo, key string) bool {
	return slices.Contains(e.inventoryKeys(topo), key)
}

// wantInventoryMatchesLive checks that the inventory records exactly the
// objects the topology renders, each with the UID, applied-hash and ApplySet
// label the live object has, and that no other live object carries the
// topology's label in the namespaces and kinds it renders.
func (e *env) wantInventoryMatchesLive(tp *engineTopology) {
	t := e.t
	t.Helper()
	ctx := context.Background()
	topo, err := topology.Load(tp.file())
	if err != nil {
		t.Fatal(err)
	}
	d, err := desired.Compute(desired.Options{Topology: topo})
	if err != nil {
		t.Fatal(err)
	}
	dc, _ := d.Cluster(edge)
	conn := e.memberConn(ctx, topo, edge)
	entries := map[string]inventory.Entry{}
	for _, en := range e.inventory(tp.name) {
		entries[en.Key()] = en
	}
	var want, live []string
	listed := map[string]bool{}
	for _, o := range dc.Objects {
		key := object.KeyOf(o.Object)
		want = append(want, key)
		gvk := o.Object.GroupVersionKind()
		m, err := conn.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatal(err)
		}
		ns := o.Object.GetNamespace()
		if m.Scope.Name() != meta.RESTScopeNameNamespace {
			ns = ""
		}
		if l := m.Resource.String() + "@" + ns; !listed[l] {
			listed[l] = true
			list, err := conn.Dynamic.Resource(m.Resource).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: object.LabelTopology + "=" + tp.name})
			if err != nil {
				t.Fatal(err)
			}
			for i := range list.Items {
				item := &list.Items[i]
				live = append(live, object.KeyOf(item))
				en, ok := entries[object.KeyOf(item)]
				switch {
				case !ok:
				case en.UID != item.GetUID():
					t.Errorf("inventory of %s: %s has UID %q, the live object %q", tp.name, en.Key(), en.UID, item.GetUID())
				case en.AppliedHash != item.GetAnnotations()[object.AnnotationAppliedHash]:
					t.Errorf("inventory of %s: %s has applied-hash %q, the live object %q", tp.name, en.Key(), en.AppliedHash, item.GetAnnotations()[object.AnnotationAppliedHash])
				case item.GetLabels()[object.LabelPartOf] != inventory.ID(tp.name):
					t.Errorf("%s of topology %s lacks the ApplySet label: %v", en.Key(), tp.name, item.GetLabels())
				}
			}
		}
	}
	slices.Sort(want)
	slices.Sort(live)
	var recorded []string
	for key := range entries {
		recorded = append(recorded, key)
	}
	slices.Sort(recorded)
	if !slices.Equal(recorded, want) || !slices.Equal(live, want) {
		t.Errorf("topology %s:\n  renders   %v\n  inventory %v\n  live      %v", tp.name, want, recorded, live)
	}
}

// running is kubectl-geofed started in the background, its output kept.
type running struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	err  bytes.Buffer
	done chan struct{}
	res  result
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// start runs kubectl-geofed with the lab's environment, in the background.
func (e *env) start(args ...string) *running {
	e.t.Helper()
	r := &running{t: e.t, done: make(chan struct{})}
	r.cmd = exec.Command(binary, args...)
	r.cmd.Env = append(os.Environ(),
		"KUBECONFIG="+e.kubecfg,
		gke.EmulatorHostEnv+"="+e.emuAddr,
		"NO_COLOR=1",
	)
	r.cmd.Stdout = lockedWriter{&r.mu, &r.out}
	r.cmd.Stderr = lockedWriter{&r.mu, &r.err}
	if err := r.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			r.kill()
			<-r.done
		}
	})
	go func() {
		err := r.cmd.Wait()
		r.mu.Lock()
		r.res = result{stdout: r.out.String(), stderr: r.err.String()}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			r.res.code = ee.ExitCode()
		} else if err != nil {
			r.res.code = -1
		}
		r.mu.Unlock()
		close(r.done)
	}()
	return r
}

// waitFor waits until stdout or stderr contains s; false when the process
// ended or timeout passed first.
func (r *running) waitFor(s string, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		found := strings.Contains(r.out.String(), s) || strings.Contains(r.err.String(), s)
		r.mu.Unlock()
		if found {
			return true
		}
		select {
		case <-r.done:
			return strings.Contains(r.res.stdout, s) || strings.Contains(r.res.stderr, s)
		case <-deadline:
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// kill sends SIGKILL, as kill -9 does: nothing of the process runs after.
func (r *running) kill() {
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		r.t.Fatal(err)
	}
}

func (r *running) wait() result {
	<-r.done
	return r.res
}

// watcher is what startKilledOnCreate watches: ConfigMaps of one namespace.
type watcher interface {
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// startKilledOnCreate runs kubectl-geofed and kills it (SIGKILL) as soon as
// the cluster reports the object named created; the test fails if the
// process ends first.
func (e *env) startKilledOnCreate(w watcher, name string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	wi, err := w.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		e.t.Fatal(err)
	}
	defer wi.Stop()
	p := e.start(args...)
	for {
		select {
		case ev, ok := <-wi.ResultChan():
			if !ok {
				p.kill()
				e.t.Fatalf("the watch on %s ended", name)
			}
			if ev.Type != watch.Added {
				continue
			}
			p.kill()
			r := p.wait()
			if r.code != -1 {
				e.t.Fatalf("kubectl-geofed %s ended (exit %d) before it could be killed once %s was created:\n%s\n%s", strings.Join(args, " "), r.code, name, r.stdout, r.stderr)
			}
			return r
		case <-p.done:
			r := p.wait()
			e.t.Fatalf("kubectl-geofed %s ended (exit %d) before %s was created:\n%s\n%s", strings.Join(args, " "), r.code, name, r.stdout, r.stderr)
		}
	}
}

// startKilledOnLine runs kubectl-geofed and kills it (SIGKILL) as soon as
// its output contains marker.
func (e *env) startKilledOnLine(marker string, args ...string) result {
	e.t.Helper()
	p := e.start(args...)
	if !p.waitFor(marker, 2*time.Minute) {
		p.kill()
		r := p.wait()
		e.t.Fatalf("kubectl-geofed %s never printed %q (exit %d):\n%s\n%s", strings.Join(args, " "), marker, r.code, r.stdout, r.stderr)
	}
	p.kill()
	return p.wait()
}

// lineWith is the first line of out containing s, or "".
func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func nsDeletion(ns *corev1.Namespace) *metav1.Time {
	if ns == nil {
		return nil
	}
	return ns.DeletionTimestamp
}

func cmData(cm *corev1.ConfigMap) map[string]string {
	if cm == nil {
		return nil
	}
	return cm.Data
}

func cmLabels(cm *corev1.ConfigMap) map[string]string {
	if cm == nil {
		return nil
	}
	return cm.Labels
}
