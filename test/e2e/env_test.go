// Package e2e runs the real kubectl-geofed binary the way a user does,
// against a lab of real control planes and the GKE emulator, and reads the
// result back from the clusters.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/gkeemu"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

var update = flag.Bool("update", false, "rewrite golden files")

// binary is the kubectl-geofed built once for all tests.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "geofed-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "kubectl-geofed")
	cmd := exec.Command("go", "build", "-o", binary, "github.com/geofed-io/kubectl-geofed/cmd/kubectl-geofed")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building kubectl-geofed:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is a lab with the GKE emulator and a copy of the seed scenario.
type env struct {
	t        *testing.T
	lab      *lab.Lab
	emu      *gkeemu.Server
	emuAddr  string
	dir      string // the copy of manifests/
	topology string // its topology.yaml
	kubecfg  string // kubeconfig of the joined clusters
	joined   map[string]*lab.Cluster
	// storageHost is the Cloud Storage emulator the binary is pointed at
	// (STORAGE_EMULATOR_HOST), when a test starts one.
	storageHost string
}

// newEnv starts a lab with the given joined clusters and the emulator, and
// copies manifests/ into a temp dir the test may edit.
func newEnv(t *testing.T, joined ...lab.ClusterSpec) *env {
	t.Helper()
	l, clusters := labtest.New(t, joined...)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	emu, addr, err := gkeemu.Start(ctx, gkeemu.Options{Provisioner: gkeemu.NewLabProvisioner(l)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Stop)
	e := &env{t: t, lab: l, emu: emu, emuAddr: addr, dir: t.TempDir(), joined: map[string]*lab.Cluster{}}
	for _, c := range clusters {
		e.joined[c.Name] = c
	}
	copyDir(t, filepath.Join(repoRoot(t), "manifests"), e.dir)
	e.topology = filepath.Join(e.dir, "topology.yaml")
	e.kubecfg = filepath.Join(t.TempDir(), "kubeconfig")
	if err := l.Kubeconfig(e.kubecfg); err != nil {
		t.Fatal(err)
	}
	return e
}

// gpuNodes is a joined lab cluster's node spec: n nodes with one GPU each.
func gpuNodes(name, region string, n int) lab.ClusterSpec {
	return lab.ClusterSpec{Name: name, Nodes: []lab.NodeSpec{{
		Name: name + "-gpu", Count: n, CPU: resource.MustParse("8"), Memory: resource.MustParse("32Gi"), GPUs: 1,
		Labels: map[string]string{"topology.kubernetes.io/region": region},
	}}}
}

// createGKE creates a topology's managed cluster in the emulator through the
// real container client, as `apply` would, and waits until it runs.
func (e *env) createGKE(name string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t, err := topology.Load(e.topology)
	if err != nil {
		e.t.Fatal(err)
	}
	ref, ok := t.Cluster(name)
	if !ok {
		e.t.Fatalf("no cluster %s in the topology", name)
	}
	desired := gke.Desired(t, ref)
	client := e.containerClient(ctx)
	defer client.Close()
	op, err := client.CreateCluster(ctx, &containerpb.CreateClusterRequest{
		Parent:  fmt.Sprintf("projects/%s/locations/%s", gke.Project(desired), desired.GetLocation()),
		Cluster: desired,
	})
	if err != nil {
		e.t.Fatalf("creating GKE cluster %s: %v", name, err)
	}
	for op.GetStatus() != containerpb.Operation_DONE {
		time.Sleep(200 * time.Millisecond)
		op, err = client.GetOperation(ctx, &containerpb.GetOperationRequest{Name: fmt.Sprintf("projects/%s/locations/%s/operations/%s", gke.Project(desired), desired.GetLocation(), op.GetName())})
		if err != nil {
			e.t.Fatalf("waiting for GKE cluster %s: %v", name, err)
		}
	}
	if op.GetError() != nil {
		e.t.Fatalf("creating GKE cluster %s: %v", name, op.GetError())
	}
}

func (e *env) containerClient(ctx context.Context) *container.ClusterManagerClient {
	e.t.Helper()
	c, err := container.NewClusterManagerClient(ctx,
		option.WithEndpoint(e.emuAddr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// run runs kubectl-geofed with the lab's environment.
func (e *env) run(args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(),
		"KUBECONFIG="+e.kubecfg,
		gke.EmulatorHostEnv+"="+e.emuAddr,
		"NO_COLOR=1",
	)
	if e.storageHost != "" {
		cmd.Env = append(cmd.Env, "STORAGE_EMULATOR_HOST="+e.storageHost)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		e.t.Fatalf("running kubectl-geofed %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("output differs from %s (run with -update to accept):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		target := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// editFile rewrites a file of the scenario copy.
func (e *env) editFile(rel string, edit func(string) string) {
	e.t.Helper()
	path := filepath.Join(e.dir, rel)
	b, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	after := edit(string(b))
	if after == string(b) {
		e.t.Fatalf("editing %s changed nothing", rel)
	}
	if err := os.WriteFile(path, []byte(after), 0o644); err != nil {
		e.t.Fatal(err)
	}
}
