package e2e

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
)

// TestKubeconfig writes contexts for the seed topology's GKE clusters, one
// created in the emulator and one not, and uses them with kubectl: a fresh
// file with --merge=false, then merged into the kubeconfig in use without
// touching its other contexts. No output ever holds key material.
func TestKubeconfig(t *testing.T) {
	e := newEnv(t, lab.ClusterSpec{Name: "serving-us"})
	e.createGKE("training-us")
	var outputs []string
	run := func(args ...string) result {
		r := e.run(args...)
		outputs = append(outputs, r.stdout, r.stderr)
		return r
	}

	// 1. A fresh file: training-us is written, serving-eu does not exist
	// yet (exit 1), serving-us is joined and skipped.
	fresh := filepath.Join(t.TempDir(), "fleet.kubeconfig")
	r := run("kubeconfig", "-f", e.topology, "--merge=false", "--kubeconfig-out", fresh)
	if want := "Context training-us written to " + fresh + "\nSwitched to context \"training-us\".\n"; r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
	wantErr := "Cluster serving-us skipped: it is joined, through its own context serving-us.\n" +
		"Context serving-eu not written: cluster serving-eu (GKE acme-ml/europe-west1-b) does not exist yet: kubectl geofed apply creates it\n" +
		"error: 1 of 2 GKE clusters have no context: serving-eu\n"
	if r.code != 1 || r.stderr != wantErr {
		t.Errorf("exit %d, stderr:\n%s\nwant 1 and:\n%s", r.code, r.stderr, wantErr)
	}
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the written kubeconfig: %v (mode %v), want mode 0600", err, fi.Mode().Perm())
	}
	nodes := e.kubectlWith("--kubeconfig", fresh, "--context", "training-us", "get", "nodes", "-o", "name")
	// The cpu pool's node and the a100 pool's minNodes 4.
	if n := strings.Count(nodes, "node/"); n != 5 {
		t.Errorf("kubectl get nodes through the written context lists %d nodes, want 5:\n%s", n, nodes)
	}
	// The current context is training-us: kubectl needs no --context.
	if out := e.kubectlWith("--kubeconfig", fresh, "config", "current-context"); out != "training-us\n" {
		t.Errorf("current context %q, want training-us", out)
	}

	// 2. Merged into the kubeconfig in use ($KUBECONFIG): the lab's
	// serving-us context stays exactly as it was.
	before, err := clientcmd.LoadFromFile(e.kubecfg)
	if err != nil {
		t.Fatal(err)
	}
	r = run("kubeconfig", "-f", e.topology, "--cluster", "training-us")
	if want := "Context training-us written to " + e.kubecfg + "\nSwitched to context \"training-us\".\n"; r.code != 0 || r.stdout != want || r.stderr != "" {
		t.Errorf("merge: exit %d, stdout %q, stderr %q; want 0, %q", r.code, r.stdout, r.stderr, want)
	}
	after, err := clientcmd.LoadFromFile(e.kubecfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, diff := range []string{
		cmp.Diff(before.Contexts["serving-us"], after.Contexts["serving-us"]),
		cmp.Diff(before.Clusters["serving-us"], after.Clusters["serving-us"]),
		cmp.Diff(before.AuthInfos["serving-us"], after.AuthInfos["serving-us"]),
	} {
		if diff != "" {
			t.Errorf("merging changed serving-us (-before +after):\n%s", diff)
		}
	}
	if got, want := len(after.Contexts), len(before.Contexts)+1; got != want {
		t.Errorf("%d contexts after merging, want %d", got, want)
	}
	if out := e.kubectlWith("--kubeconfig", e.kubecfg, "--context", "training-us", "get", "nodes", "-o", "name"); strings.Count(out, "node/") != 5 {
		t.Errorf("through the merged context:\n%s", out)
	}
	e.kubectl("serving-us", "get", "namespace", "default")

	// 3. A joined cluster asked for by name has its own context already.
	r = run("kubeconfig", "-f", e.topology, "--cluster", "serving-us")
	if want := "Cluster serving-us skipped: it is joined, through its own context serving-us.\n"; r.code != 0 || r.stdout != "" || r.stderr != want {
		t.Errorf("--cluster serving-us: exit %d, stdout %q, stderr %q; want 0 and %q", r.code, r.stdout, r.stderr, want)
	}

	// 4. Nothing printed holds the cluster's credentials, at any -v.
	if r := run("kubeconfig", "-f", e.topology, "--cluster", "training-us", "--merge=false", "--kubeconfig-out", filepath.Join(t.TempDir(), "k"), "-v=10"); r.code != 0 {
		t.Errorf("kubeconfig -v=10: exit %d\n%s", r.code, r.stderr)
	}
	ctx := context.Background()
	client := e.containerClient(ctx)
	defer client.Close()
	live, err := client.GetCluster(ctx, &containerpb.GetClusterRequest{Name: "projects/acme-ml/locations/us-west1-b/clusters/training-us"})
	if err != nil {
		t.Fatal(err)
	}
	auth := live.GetMasterAuth()
	key, err := base64.StdEncoding.DecodeString(auth.GetClientKey())
	if err != nil || len(key) == 0 {
		t.Fatalf("the emulator's client key: %v", err)
	}
	secrets := []string{auth.GetClientKey(), auth.GetClientCertificate(), string(key), "PRIVATE KEY", "BEGIN CERTIFICATE", "client-key-data"}
	// The key's base64 line by line, as a PEM body would show it.
	for _, line := range strings.Split(string(key), "\n") {
		if len(line) > 20 && !strings.HasPrefix(line, "-----") {
			secrets = append(secrets, line)
		}
	}
	for i, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("output %d holds key material (%.20q...):\n%.500s", i, s, out)
			}
		}
	}
	// The file has them, of course: that is what kubectl used above.
	if b, err := os.ReadFile(fresh); err != nil || !strings.Contains(string(b), "client-key-data: "+auth.GetClientKey()) {
		t.Errorf("the written kubeconfig lacks the emulator's client key (%v)", err)
	}
}
