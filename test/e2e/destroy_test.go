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
	"regexp"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
)

// TestDestroy removes what geofed owns, and only that, from a joined lab
// cluster and a GKE cluster of the emulator: it refuses without a
// confirmation, keeps a Namespace that holds what geofed did not apply
// (and says so, exiting 1), finishes once that is gone, removes the
// inventory and lock last, says there is nothing left on a third run,
// destroys with --yes and no terminal (CI teardown), and deletes a GKE
// cluster only when named and confirmed.
func TestDestroy(t *testing.T) {
	e := newEnv(t, gpuNodes(edge, "us-east1", 1))
	t.Run("Joined", func(t *testing.T) { testDestroyJoined(e.on(t)) })
	t.Run("YesWithoutTerminal", func(t *testing.T) { testDestroyYes(e.on(t)) })
	t.Run("GKE", func(t *testing.T) { testDestroyGKE(e.on(t)) })
}

func testDestroyJoined(e *env) {
	t := e.t
	tp := e.newTopology("teardown")
	tp.set("a", namespace("ml")+configMap("ml", "a-config", "v1")+deployment("ml", "a-server", 1, ""))
	tp.set("b", namespace("web")+configMap("web", "b-config", "v1"))
	e.mustApply(tp)
	e.kubectl(edge, "create", "configmap", "notes", "-n", "ml", "--from-literal=todo=keep me")
	e.kubectl(edge, "create", "configmap", "mine", "-n", "default", "--from-literal=owner=someone else")

	// Refusals change nothing.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"destroy", "-f", tp.file()}, "refusing to destroy without confirmation: standard input is not a terminal. Review the plan above and confirm at a terminal, or re-run with --yes"},
		{[]string{"destroy", "-f", tp.file(), "--clusters", edge, "--yes"}, "--clusters names edge, a joined cluster"},
	} {
		r := e.run(tc.args...)
		if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, want 1 and %q\nstdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), r.code, tc.want, r.stdout, r.stderr)
		}
	}
	if r := e.onTerminal("no\n", "destroy", "-f", tp.file()); r.code != 1 || !strings.Contains(r.stdout, "destroy cancelled: nothing was changed") {
		t.Errorf("destroy answered no: exit %d\n%s", r.code, r.stdout)
	}
	e.mustExist("configmap", "ml", "a-config")

	// Confirmed: everything geofed applied goes but Namespace ml, which
	// holds ConfigMap notes; what others made stays.
	r := e.onTerminal("yes\n", "destroy", "-f", tp.file())
	if r.code != 1 {
		t.Fatalf("destroy with ml holding notes: exit %d, want 1 (incomplete)\n%s", r.code, r.stdout)
	}
	golden(t, "destroy-kept.golden", maskDestroy(tp.file(), r.stdout))
	for _, o := range [][3]string{{"configmap", "ml", "a-config"}, {"deployment", "ml", "a-server"}, {"configmap", "web", "b-config"}} {
		e.mustBeGone(o[0], o[1], o[2])
	}
	e.waitGone("namespace", "", "web")
	for _, o := range [][3]string{{"configmap", "ml", "notes"}, {"configmap", "default", "mine"}, {"namespace", "", "ml"}, {"configmap", "kube-system", inventory.ParentName("teardown")}} {
		e.mustExist(o[0], o[1], o[2])
	}

	// Once ml holds nothing else, a re-run finishes: the inventory and
	// the lock go last.
	e.kubectl(edge, "delete", "configmap", "notes", "-n", "ml")
	r = e.onTerminal("yes\n", "destroy", "-f", tp.file())
	if r.code != 0 || !strings.Contains(r.stdout, "Destroy complete: 1 objects deleted, 1 inventories removed, 0 GKE clusters deleted.") {
		t.Fatalf("destroy after notes went: exit %d, want 0 and complete\n%s", r.code, r.stdout)
	}
	e.waitGone("namespace", "", "ml")
	e.mustBeGone("configmap", "kube-system", inventory.ParentName("teardown"))
	e.mustBeGone("lease", "kube-system", inventory.ParentName("teardown"))
	e.mustExist("configmap", "default", "mine")

	// Nothing left: said so, without asking.
	r = e.run("destroy", "-f", tp.file())
	if r.code != 0 || !strings.Contains(r.stdout, "Nothing to destroy: no member holds anything geofed applied.") {
		t.Errorf("third destroy: exit %d, want 0 and nothing to destroy\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// testDestroyYes tears a topology down as CI does a preview environment:
// --yes, standard input not a terminal (run gives the binary /dev/null),
// no --clusters. Everything geofed applied is read back gone from the
// cluster, its inventory and lock too; what others made stays.
func testDestroyYes(e *env) {
	t := e.t
	tp := e.newTopology("preview")
	tp.set("a", namespace("preview")+configMap("preview", "settings", "v1")+deployment("preview", "server", 1, ""))
	e.mustApply(tp)
	e.kubectl(edge, "create", "configmap", "theirs", "-n", "default", "--from-literal=owner=someone else")
	e.mustExist("deployment", "preview", "server")

	r := e.run("destroy", "-f", tp.file(), "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "Destroy complete: 3 objects deleted, 1 inventories removed, 0 GKE clusters deleted.") {
		t.Fatalf("destroy --yes without a terminal: exit %d, want 0 and complete\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "Only 'yes' is accepted") {
		t.Errorf("destroy --yes asked for confirmation:\n%s", r.stdout)
	}
	e.mustBeGone("configmap", "preview", "settings")
	e.mustBeGone("deployment", "preview", "server")
	e.waitGone("namespace", "", "preview")
	e.mustBeGone("configmap", "kube-system", inventory.ParentName("preview"))
	e.mustBeGone("lease", "kube-system", inventory.ParentName("preview"))
	e.mustExist("configmap", "default", "theirs")

	r = e.run("destroy", "-f", tp.file(), "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "Nothing to destroy: no member holds anything geofed applied.") {
		t.Errorf("second destroy --yes: exit %d, want 0 and nothing to destroy\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// A GKE cluster outlives a destroy that does not name it, even with --yes,
// and one that names it without its names typed; it is deleted, after its
// objects, by one that names it and confirms (--yes with --clusters).
func testDestroyGKE(e *env) {
	t := e.t
	dir := t.TempDir()
	file := filepath.Join(dir, "topology.yaml")
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(file, `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: gone}
spec:
  gke: {project: acme-ml}
  regions:
  - name: us-west1
    clusters:
    - name: scratch
      gke:
        location: us-west1-b
        nodePools: [{name: cpu, machineType: e2-standard-4, nodeCount: 1}]
  workloads:
  - {name: app, source: apps/app}
`)
	write(filepath.Join(dir, "apps/app/kustomization.yaml"), "resources:\n- manifests.yaml\n")
	write(filepath.Join(dir, "apps/app/manifests.yaml"), namespace("scratch")+configMap("scratch", "settings", "v1"))
	if r := e.run("apply", "-f", file, "--yes"); r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	e.topology = file
	if out := e.kubectlGKE("scratch", "get", "configmap", "settings", "-n", "scratch", "-o", "name"); !strings.Contains(out, "settings") {
		t.Fatalf("ConfigMap settings not applied: %s", out)
	}

	r := e.run("destroy", "-f", file, "--yes")
	if r.code != 0 {
		t.Fatalf("destroy --yes without --clusters: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !e.gkeClusterExists("scratch") {
		t.Fatal("destroy --yes without --clusters deleted GKE cluster scratch")
	}
	if out := e.kubectlGKE("scratch", "get", "namespace", "scratch", "--ignore-not-found", "-o", "jsonpath={.status.phase}"); out != "" && out != "Terminating" {
		t.Errorf("Namespace scratch is %q after destroy, want gone or terminating", out)
	}

	// Named but not confirmed: without a terminal, and on one answering
	// "yes" rather than its name, the cluster stays.
	r = e.run("destroy", "-f", file, "--clusters", "scratch")
	if want := "refusing to destroy without confirmation: standard input is not a terminal"; r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("destroy --clusters scratch without a terminal: exit %d, want 1 and %q\n%s\n%s", r.code, want, r.stdout, r.stderr)
	}
	r = e.onTerminal("yes\n", "destroy", "-f", file, "--clusters", "scratch")
	if r.code != 1 || !strings.Contains(r.stdout, "Type their names (scratch) to confirm") || !strings.Contains(r.stdout, "destroy cancelled: nothing was changed") {
		t.Errorf("destroy --clusters scratch answered yes: exit %d, want 1 and cancelled\n%s", r.code, r.stdout)
	}
	if !e.gkeClusterExists("scratch") {
		t.Fatal("GKE cluster scratch deleted without its name typed")
	}

	// Named and confirmed with --yes: its objects (none left now) then
	// the cluster.
	// As JSON: the destroy plan on stdout, people's lines on stderr.
	r = e.run("destroy", "-f", file, "--clusters", "scratch", "--yes", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stderr, "1 GKE clusters deleted") {
		t.Fatalf("destroy --clusters scratch --yes -o json: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	golden(t, "destroy-gke.json.golden", stableJSON(t, r.stdout))
	if e.gkeClusterExists("scratch") {
		t.Error("GKE cluster scratch still exists after destroy --clusters scratch")
	}
	r = e.run("destroy", "-f", file, "--clusters", "scratch", "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "GKE cluster scratch does not exist: nothing to delete.") {
		t.Errorf("second destroy --clusters scratch: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// onTerminal runs kubectl-geofed with standard input a terminal (script(1)
// gives it one) fed with input, as a person typing at the prompt.
func (e *env) onTerminal(input string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	cmd := exec.CommandContext(ctx, "script", "-qefc", binary+" "+strings.Join(quoted, " "), "/dev/null")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.kubecfg, gke.EmulatorHostEnv+"="+e.emuAddr, "NO_COLOR=1")
	cmd.Stdin = strings.NewReader(input)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	r := result{stdout: strings.ReplaceAll(out.String(), "\r\n", "\n")}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		e.t.Fatalf("running kubectl-geofed %s on a terminal: %v", strings.Join(args, " "), err)
	}
	return r
}

func (e *env) mustExist(kind, ns, name string) {
	e.t.Helper()
	args := []string{"get", kind, name, "--ignore-not-found", "-o", "name"}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	if strings.TrimSpace(e.kubectl(edge, args...)) == "" {
		e.t.Errorf("%s %s/%s is gone, want it kept", kind, ns, name)
	}
}

func (e *env) mustBeGone(kind, ns, name string) {
	e.t.Helper()
	args := []string{"get", kind, name, "--ignore-not-found", "-o", "name"}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	if out := strings.TrimSpace(e.kubectl(edge, args...)); out != "" {
		e.t.Errorf("%s %s/%s still exists after destroy", kind, ns, name)
	}
}

// waitGone waits for a terminating object to go, as namespace deletion
// takes the lab's namespace controller a moment.
func (e *env) waitGone(kind, ns, name string) {
	e.t.Helper()
	cs := e.edge()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		_, err := cs.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	e.t.Errorf("%s %s still exists a minute after destroy", kind, name)
}

func (e *env) gkeClusterExists(name string) bool {
	e.t.Helper()
	ctx := context.Background()
	c := e.containerClient(ctx)
	defer c.Close()
	resp, err := c.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/acme-ml/locations/-"})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, cl := range resp.GetClusters() {
		if cl.GetName() == name {
			return true
		}
	}
	return false
}

var destroyVarying = regexp.MustCompile(`v1\.\d+\.\d+`)

// maskDestroy keeps a destroy's output stable across runs.
func maskDestroy(file, out string) string {
	out = strings.ReplaceAll(out, filepath.Dir(file), "DIR")
	return fmt.Sprint(destroyVarying.ReplaceAllString(out, "vX.Y.Z"))
}

// stableJSON is a plan's JSON without what differs between runs: times,
// digests, resource versions, UIDs, request counts, paths, versions.
func stableJSON(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	var strip func(any)
	strip = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, k := range []string{"createdAt", "sourceDigest", "uid", "liveResourceVersion", "inventoryVersion", "requests", "serverVersion", "topologyFile"} {
				delete(v, k)
			}
			for _, x := range v {
				strip(x)
			}
		case []any:
			for _, x := range v {
				strip(x)
			}
		}
	}
	strip(v)
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}
