package labd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/faultproxy"
)

// daemonArg makes the test binary act as the lab daemon: Up starts
// `<test binary> labd-daemon DIR`, as geofed-lab starts `geofed-lab run`.
const daemonArg = "labd-daemon"

func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == daemonArg {
		os.Exit(runTestDaemon(os.Args[2]))
	}
	os.Exit(m.Run())
}

// runTestDaemon runs a one-cluster lab with an addon that exports a variable
// and, once the lab is up, adds a cluster of its own, as the GKE emulator
// does when asked to create one.
func runTestDaemon(dir string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	spec, err := ParseCluster("joined@europe-west1:1")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	spec.RealNode = true
	addon := func(ctx context.Context, l *lab.Lab) (map[string]string, error) {
		go func() {
			if _, err := l.AddCluster(ctx, lab.ClusterSpec{Name: "added"}); err != nil {
				fmt.Fprintln(os.Stderr, "addon:", err)
			}
		}()
		return map[string]string{"LABD_TEST_ADDON": "up"}, nil
	}
	err = Run(ctx, RunOptions{Dir: dir, Clusters: []lab.ClusterSpec{spec}, Addons: []Addon{addon}, Out: os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestUpStatusDown(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "state")
	var out bytes.Buffer
	err := Up(ctx, UpOptions{Dir: dir, Command: []string{os.Args[0], daemonArg, dir}, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Only does something when the test failed before its own Down.
		_ = Down(context.Background(), DownOptions{Dir: dir, Out: &bytes.Buffer{}})
	})
	t.Logf("up:\n%s", out.String())
	for _, want := range []string{"joined", "source " + filepath.Join(dir, "env")} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("up output lacks %q", want)
		}
	}
	s, err := ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("second up refused", func(t *testing.T) {
		err := Up(ctx, UpOptions{Dir: dir, Command: []string{"false"}, Out: &bytes.Buffer{}})
		if err == nil || !strings.Contains(err.Error(), "already running") {
			t.Errorf("err = %v, want already running", err)
		}
	})

	t.Run("env and kubeconfig", func(t *testing.T) {
		env, err := os.ReadFile(filepath.Join(dir, "env"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"export KUBECONFIG='" + filepath.Join(dir, "kubeconfig") + "'",
			"export LABD_TEST_ADDON='up'",
		} {
			if !strings.Contains(string(env), want+"\n") {
				t.Errorf("env file lacks %q:\n%s", want, env)
			}
		}
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: filepath.Join(dir, "kubeconfig")},
			&clientcmd.ConfigOverrides{CurrentContext: "joined"}).ClientConfig()
		if err != nil {
			t.Fatal(err)
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "topology.kubernetes.io/region=europe-west1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes.Items) != 3 {
			t.Errorf("%d nodes in europe-west1, want 3", len(nodes.Items))
		}
	})

	t.Run("fault", func(t *testing.T) {
		// The kubeconfig goes through the cluster's fault proxy: a fault
		// switched on now reaches a client that loaded it before.
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: filepath.Join(dir, "kubeconfig")},
			&clientcmd.ConfigOverrides{CurrentContext: "joined"}).ClientConfig()
		if err != nil {
			t.Fatal(err)
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := Fault(ctx, FaultOptions{Dir: dir, Cluster: "joined", Set: &faultproxy.Fault{Resource: "nodes", Status: faultproxy.Status500}, Out: &out}); err != nil {
			t.Fatal(err)
		}
		if want := "cluster joined: reads of nodes answer 500 Internal Server Error\n"; out.String() != want {
			t.Errorf("fault printed %q, want %q", out.String(), want)
		}
		if _, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); !apierrors.IsInternalError(err) {
			t.Errorf("listing nodes with a fault: %v, want 500", err)
		}
		if _, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("listing namespaces with a nodes fault: %v", err)
		}
		out.Reset()
		if err := Fault(ctx, FaultOptions{Dir: dir, Cluster: "joined", Clear: true, Out: &out}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "no faults") {
			t.Errorf("fault --clear printed %q", out.String())
		}
		if _, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("listing nodes after clearing: %v", err)
		}
		if err := Fault(ctx, FaultOptions{Dir: dir, Cluster: "nosuch", Clear: true, Out: &out}); err == nil || !strings.Contains(err.Error(), "joined") {
			t.Errorf("fault on an unknown cluster: %v, want an error naming the lab's clusters", err)
		}
	})

	t.Run("status shows the addon's cluster", func(t *testing.T) {
		var status bytes.Buffer
		deadline := time.Now().Add(3 * time.Minute)
		for {
			status.Reset()
			err := Status(ctx, StatusOptions{Dir: dir, Out: &status})
			if err == nil && strings.Contains(status.String(), "added") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("status never showed the added cluster ready: %v\n%s", err, status.String())
			}
			time.Sleep(time.Second)
		}
		for _, want := range []string{"joined", "4/4", "joined-real", "Ready", "added", lab.LabHostIP} {
			if !strings.Contains(status.String(), want) {
				t.Errorf("status lacks %q:\n%s", want, status.String())
			}
		}
	})

	t.Run("real node", func(t *testing.T) {
		env, err := os.ReadFile(filepath.Join(dir, "env"))
		if err != nil {
			t.Fatal(err)
		}
		if want := "export " + PodServerEnvPrefix + "JOINED='https://" + lab.LabHostIP + ":"; !strings.Contains(string(env), want) {
			t.Errorf("env file lacks %q:\n%s", want, env)
		}
		var joined ClusterState
		for _, c := range s.Clusters {
			if c.Name == "joined" {
				joined = c
			}
		}
		if joined.RealNode != "joined-real" || joined.RealNodeMountNS == "" || joined.RealNodeCgroup == "" {
			t.Fatalf("state of joined: %+v, want its real node, mount namespace and cgroup", joined)
		}
		pause := filepath.Join(dir, "work", "clusters", "joined", "node", "pause.tar")
		var out bytes.Buffer
		if err := ImageLoad(ctx, ImageLoadOptions{Dir: dir, Cluster: "joined", Archive: pause, Out: &out}); err != nil {
			t.Fatal(err)
		}
		err = ImageLoad(ctx, ImageLoadOptions{Dir: dir, Cluster: "added", Archive: pause, Out: &out})
		if err == nil || !strings.Contains(err.Error(), "no real node") {
			t.Errorf("image load into a cluster without a real node: err = %v, want no real node", err)
		}
	})

	t.Run("down", func(t *testing.T) {
		var down bytes.Buffer
		if err := Down(ctx, DownOptions{Dir: dir, Out: &down}); err != nil {
			t.Fatal(err)
		}
		if alive(s.PID) {
			t.Errorf("daemon %d alive after down", s.PID)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("state directory left behind: %v", err)
		}
		if left := processesMentioning(t, dir); len(left) > 0 {
			t.Errorf("lab processes left after down: %v", left)
		}
		checkNoCgroups(t, s)
		if err := Status(ctx, StatusOptions{Dir: dir, Out: &bytes.Buffer{}}); !errors.Is(err, ErrNoLab) {
			t.Errorf("status after down: err = %v, want ErrNoLab", err)
		}
	})
}

// TestDownAfterDaemonKilled: a daemon killed with SIGKILL cannot stop its
// real node, whose containers and containerd shims outlive it; down ends
// them and removes the node's cgroups from what state.json recorded.
func TestDownAfterDaemonKilled(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "state")
	if err := Up(ctx, UpOptions{Dir: dir, Command: []string{os.Args[0], daemonArg, dir}, Out: &bytes.Buffer{}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Down(context.Background(), DownOptions{Dir: dir, Out: &bytes.Buffer{}}) })
	s, err := ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(s.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for alive(s.PID) {
		time.Sleep(50 * time.Millisecond)
	}
	var down bytes.Buffer
	if err := Down(ctx, DownOptions{Dir: dir, Out: &down}); err != nil {
		t.Fatal(err)
	}
	if left := processesMentioning(t, dir); len(left) > 0 {
		t.Errorf("lab processes left after down: %v", left)
	}
	checkNoCgroups(t, s)
}

// checkNoCgroups fails when a real node's cgroup the state records is
// still there, in any hierarchy.
func checkNoCgroups(t *testing.T, s *State) {
	t.Helper()
	n := 0
	for _, c := range s.Clusters {
		if c.RealNodeCgroup == "" {
			continue
		}
		n++
		if left, _ := filepath.Glob("/sys/fs/cgroup/*/" + c.RealNodeCgroup); len(left) > 0 {
			t.Errorf("real node cgroups left after down: %v", left)
		}
	}
	if n == 0 {
		t.Errorf("the lab's state records no real node cgroup: %+v", s.Clusters)
	}
}

// processesMentioning returns the command lines of processes whose
// arguments contain s: every lab process names files in the state directory.
func processesMentioning(t *testing.T, s string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(cmdline) == 0 {
			continue
		}
		line := strings.ReplaceAll(string(cmdline), "\x00", " ")
		if strings.Contains(line, s) {
			out = append(out, e.Name()+": "+line)
		}
	}
	return out
}

func TestDownWithoutLab(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A daemon that died without cleaning up leaves its pid behind.
	if err := os.WriteFile(filepath.Join(dir, "pid"), []byte("2147483646\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Status(t.Context(), StatusOptions{Dir: dir, Out: &bytes.Buffer{}}); !errors.Is(err, ErrNoLab) {
		t.Errorf("status: err = %v, want ErrNoLab", err)
	}
	var out bytes.Buffer
	if err := Down(t.Context(), DownOptions{Dir: dir, Out: &out}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "No lab running") {
		t.Errorf("down output %q", out.String())
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state directory left behind: %v", err)
	}
}
