package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
)

// startLab starts a lab in the test's temporary directory and stops it when
// the test ends. It fails, never skips, without the binaries: CI has them.
func startLab(t *testing.T) *Lab {
	t.Helper()
	var log bytes.Buffer
	l, err := Start(t.Context(), Options{WorkDir: t.TempDir(), Log: &log})
	if err != nil {
		t.Fatalf("starting lab: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Stop(context.Background()); err != nil {
			t.Errorf("stopping lab: %v", err)
		}
		t.Logf("lab log:\n%s", log.String())
	})
	return l
}

func clientFor(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestLabRunsWorkloads starts two clusters, one with GPU nodes, and checks
// that they are real Kubernetes at the pinned version that runs Deployments
// and Jobs on KWOK nodes.
func TestLabRunsWorkloads(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := startLab(t)

	gpuLabels := map[string]string{
		"topology.kubernetes.io/region":    "us-west1",
		"topology.kubernetes.io/zone":      "us-west1-b",
		"node.kubernetes.io/instance-type": "a2-highgpu-1g",
		"cloud.google.com/gke-nodepool":    "a100",
	}
	specs := []ClusterSpec{
		{Name: "cpu-only", Nodes: []NodeSpec{{Name: "cpu", Count: 1}}},
		{Name: "gpus", Nodes: []NodeSpec{
			{Name: "cpu", Count: 1, CPU: resource.MustParse("8"), Memory: resource.MustParse("32Gi")},
			{Name: "a100", Count: 2, CPU: resource.MustParse("12"), Memory: resource.MustParse("85Gi"), GPUs: 1, Labels: gpuLabels},
		}},
	}
	clusters := make([]*Cluster, len(specs))
	errs := make(chan error, len(specs))
	for i, s := range specs {
		go func() {
			start := time.Now()
			c, err := l.AddCluster(ctx, s)
			clusters[i] = c
			t.Logf("AddCluster(%s): %s", s.Name, time.Since(start).Round(time.Millisecond))
			errs <- err
		}()
	}
	for range specs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := l.Clusters(); len(got) != 2 || got[0] != clusters[0] || got[1] != clusters[1] {
		t.Fatalf("Clusters() = %v, want the two clusters in name order", got)
	}

	t.Run("version", func(t *testing.T) {
		for _, c := range clusters {
			v, err := clientFor(t, c.RESTConfig()).Discovery().ServerVersion()
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			if v.GitVersion != "v1.37.2" {
				t.Errorf("%s: server version %s, want v1.37.2", c.Name, v.GitVersion)
			}
		}
	})

	gpus := clusters[1]
	cs := clientFor(t, gpus.RESTConfig())

	t.Run("nodes", func(t *testing.T) {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		var totalGPUs int64
		for _, n := range nodes.Items {
			names = append(names, n.Name)
			if !nodeReady(&n) {
				t.Errorf("node %s is not Ready", n.Name)
			}
			if len(n.Spec.Taints) > 0 {
				t.Errorf("node %s has taints %v", n.Name, n.Spec.Taints)
			}
			if v := n.Status.NodeInfo.KubeletVersion; v != "v1.37.2" {
				t.Errorf("node %s kubelet version %q, want v1.37.2", n.Name, v)
			}
			g := n.Status.Allocatable[GPUResource]
			totalGPUs += g.Value()
			if strings.HasPrefix(n.Name, "a100-") {
				for k, v := range gpuLabels {
					if n.Labels[k] != v {
						t.Errorf("node %s label %s = %q, want %q", n.Name, k, n.Labels[k], v)
					}
				}
				if cpu := n.Status.Allocatable[corev1.ResourceCPU]; cpu.String() != "12" {
					t.Errorf("node %s allocatable cpu %s, want 12", n.Name, cpu.String())
				}
			}
		}
		slices.Sort(names)
		if want := []string{"a100-0", "a100-1", "cpu-0"}; !slices.Equal(names, want) {
			t.Errorf("nodes %v, want %v", names, want)
		}
		if totalGPUs != 2 {
			t.Errorf("allocatable nvidia.com/gpu in total %d, want 2", totalGPUs)
		}
		// Without a Lease a node goes unreachable after the controller
		// manager's grace period, and its Pods stop being ready.
		var held []string
		err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			leases, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			held = held[:0]
			for _, l := range leases.Items {
				held = append(held, l.Name)
			}
			slices.Sort(held)
			return slices.Equal(held, names), nil
		})
		if err != nil {
			t.Errorf("node Leases %v, want one per node %v: %v", held, names, err)
		}
	})

	t.Run("gpu deployment becomes available", func(t *testing.T) {
		dep := gpuDeployment("trainer", 2)
		if _, err := cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 2*time.Minute, func() (bool, error) {
			d, err := cs.AppsV1().Deployments("default").Get(ctx, "trainer", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return d.Status.AvailableReplicas == 2, nil
		})
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=trainer"})
		if err != nil {
			t.Fatal(err)
		}
		onNodes := map[string]bool{}
		for _, p := range pods.Items {
			if p.Status.Phase != corev1.PodRunning {
				t.Errorf("pod %s is %s, want Running", p.Name, p.Status.Phase)
			}
			onNodes[p.Spec.NodeName] = true
		}
		// One GPU per node: two pods needing one each must be on both.
		if !onNodes["a100-0"] || !onNodes["a100-1"] || len(onNodes) != 2 {
			t.Errorf("pods on nodes %v, want a100-0 and a100-1", onNodes)
		}
	})

	t.Run("job completes", func(t *testing.T) {
		job := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "once"},
			Spec: batchv1.JobSpec{
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "main", Image: "busybox"}},
				}},
			},
		}
		if _, err := cs.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 2*time.Minute, func() (bool, error) {
			j, err := cs.BatchV1().Jobs("default").Get(ctx, "once", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, c := range j.Status.Conditions {
				if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
	})

	t.Run("resize node pool", func(t *testing.T) {
		resized := slices.Clone(specs[1].Nodes)
		resized[1].Count = 3
		resized[1].Labels = map[string]string{"cloud.google.com/gke-nodepool": "a100", "resized": "yes"}
		resized = resized[1:] // the cpu pool goes away
		if err := gpus.SetNodes(ctx, resized); err != nil {
			t.Fatal(err)
		}
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, n := range nodes.Items {
			names = append(names, n.Name)
			if n.Labels["resized"] != "yes" || n.Labels["topology.kubernetes.io/zone"] != "" {
				t.Errorf("node %s labels %v: want the resized set only", n.Name, n.Labels)
			}
		}
		slices.Sort(names)
		if want := []string{"a100-0", "a100-1", "a100-2"}; !slices.Equal(names, want) {
			t.Errorf("nodes after resize %v, want %v", names, want)
		}
	})

	t.Run("apiserver outage", func(t *testing.T) {
		endpoint := gpus.Endpoint
		if err := gpus.StopAPIServer(ctx); err != nil {
			t.Fatal(err)
		}
		_, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("request during outage: err = %v, want connection refused", err)
		}
		if err := gpus.Health(ctx); err == nil {
			t.Error("Health during outage = nil, want an error")
		}
		if err := gpus.StartAPIServer(ctx); err != nil {
			t.Fatal(err)
		}
		if gpus.Endpoint != endpoint {
			t.Errorf("endpoint changed from %s to %s", endpoint, gpus.Endpoint)
		}
		// Data survived: the Deployment is still there.
		if _, err := cs.AppsV1().Deployments("default").Get(ctx, "trainer", metav1.GetOptions{}); err != nil {
			t.Errorf("after restart: %v", err)
		}
	})

	t.Run("apiserver paused", func(t *testing.T) {
		pid := gpus.pids()[0]
		if err := gpus.PauseAPIServer(); err != nil {
			t.Fatal(err)
		}
		waitForState(t, pid, "T")
		// Not refused, as when stopped: the request waits for its deadline.
		reqCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := cs.CoreV1().Namespaces().Get(reqCtx, "default", metav1.GetOptions{})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 2*time.Second {
			t.Errorf("request to the paused apiserver: err = %v after %s, want the 2s deadline exceeded", err, time.Since(start))
		}
		if err := gpus.ResumeAPIServer(); err != nil {
			t.Fatal(err)
		}
		waitForState(t, pid, "R", "S")
		if _, err := cs.AppsV1().Deployments("default").Get(ctx, "trainer", metav1.GetOptions{}); err != nil {
			t.Errorf("after resuming: %v", err)
		}
		if got := gpus.pids()[0]; got != pid {
			t.Errorf("resuming restarted the apiserver: pid %d, was %d", got, pid)
		}
	})

	t.Run("merged kubeconfig", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "kubeconfig")
		if err := l.Kubeconfig(path); err != nil {
			t.Fatal(err)
		}
		for _, c := range clusters {
			cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
				&clientcmd.ClientConfigLoadingRules{ExplicitPath: path},
				&clientcmd.ConfigOverrides{CurrentContext: c.Name}).ClientConfig()
			if err != nil {
				t.Fatalf("context %s: %v", c.Name, err)
			}
			if cfg.Host != c.Endpoint {
				t.Errorf("context %s: server %s, want %s", c.Name, cfg.Host, c.Endpoint)
			}
			if _, err := clientFor(t, cfg).Discovery().ServerVersion(); err != nil {
				t.Errorf("context %s: %v", c.Name, err)
			}
		}
	})

	t.Run("clusters do not trust each other's credentials", func(t *testing.T) {
		cfg := clusters[0].RESTConfig()
		cfg.Host = gpus.Endpoint
		if _, err := clientFor(t, cfg).Discovery().ServerVersion(); err == nil {
			t.Error("cpu-only's credentials reached gpus' apiserver")
		}
	})

	t.Run("delete and recreate starts empty", func(t *testing.T) {
		if err := gpus.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if l.Cluster("gpus") != nil {
			t.Fatal("Cluster(gpus) still returns the stopped cluster")
		}
		again, err := l.AddCluster(ctx, ClusterSpec{Name: "gpus", Nodes: []NodeSpec{{Name: "n", Count: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = clientFor(t, again.RESTConfig()).AppsV1().Deployments("default").Get(ctx, "trainer", metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("Deployment of the deleted cluster: err = %v, want NotFound", err)
		}
	})
}

func gpuDeployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "main",
					Image: "trainer:latest",
					Resources: corev1.ResourceRequirements{
						Limits: corev1.ResourceList{GPUResource: resource.MustParse("1")},
					},
				}}},
			},
		},
	}
}

func waitUntil(t *testing.T, timeout time.Duration, cond func() (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		return cond()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStopLeavesNoProcess checks that Stop ends every process the lab
// started, with one cluster whose apiserver is down at the time and one
// whose apiserver is paused.
func TestStopLeavesNoProcess(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l, err := Start(ctx, Options{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	pids := []int{l.etcd.proc.pid()}
	var clusters []*Cluster
	for _, name := range []string{"down", "paused"} {
		c, err := l.AddCluster(ctx, ClusterSpec{Name: name, Nodes: []NodeSpec{{Name: "n", Count: 1}}})
		if err != nil {
			l.Stop(ctx)
			t.Fatal(err)
		}
		clusters = append(clusters, c)
		pids = append(pids, c.pids()...)
	}
	down, paused := clusters[0], clusters[1]
	if len(pids) != 9 {
		t.Fatalf("lab runs %d processes, want 9 (etcd, and per cluster apiserver, controller-manager, scheduler, kwok)", len(pids))
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err != nil {
			t.Fatalf("process %d is not running before Stop: %v", pid, err)
		}
	}
	if err := down.StopAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if err := paused.PauseAPIServer(); err != nil {
		t.Fatal(err)
	}
	waitForState(t, paused.pids()[0], "T")
	start := time.Now()
	if err := l.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("Stop took %s", time.Since(start))
	if err := paused.ResumeAPIServer(); !errors.Is(err, errStopped) {
		t.Errorf("ResumeAPIServer after Stop: err = %v, want errStopped", err)
	}
	for _, pid := range pids {
		// Stop reaps its children, so a pid that still answers belongs to
		// a process that survived (or, rarely, to a new one: none here).
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d still exists after Stop (kill 0: %v)", pid, err)
		}
	}
	if _, err := l.AddCluster(ctx, ClusterSpec{Name: "late"}); err == nil {
		t.Error("AddCluster after Stop succeeded")
	}
}

// waitForState waits until /proc gives one of states as the process's state
// (R running, S sleeping, T stopped by a signal): a signal is delivered
// after kill returns, not before.
func waitForState(t *testing.T, pid int, states ...string) {
	t.Helper()
	var state string
	err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false, err
		}
		// The command name, in parentheses, may hold spaces and
		// parentheses itself; the state is the field after it.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) == 0 {
			return false, fmt.Errorf("/proc/%d/stat: no state in %q", pid, stat)
		}
		state = fields[0]
		return slices.Contains(states, state), nil
	})
	if err != nil {
		t.Fatalf("process %d: state %q, want one of %v: %v", pid, state, states, err)
	}
}

// TestContextEndStopsLab checks that ending Start's context stops the lab.
func TestContextEndStopsLab(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	l, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir, pid := l.WorkDir(), l.etcd.proc.pid()
	cancel()
	select {
	case <-l.stopped:
	case <-time.After(time.Minute):
		t.Fatal("lab not stopped a minute after its context ended")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("etcd (pid %d) still exists: %v", pid, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary work directory %s not removed: %v", dir, err)
	}
}

func TestStartWithoutBinaries(t *testing.T) {
	t.Parallel()
	partial := t.TempDir()
	if err := os.WriteFile(filepath.Join(partial, "etcd"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{t.TempDir(), partial} {
		_, err := Start(t.Context(), Options{BinDir: dir, WorkDir: t.TempDir()})
		if !errors.Is(err, ErrNoBinaries) {
			t.Errorf("Start with BinDir %q: err = %v, want ErrNoBinaries", dir, err)
		}
	}
}

// TestAPIServerOnly checks that an apiserver-only cluster is a real
// apiserver that stores objects, runs no other process, and refuses nodes.
func TestAPIServerOnly(t *testing.T) {
	t.Parallel()
	l := startLab(t)
	c, err := l.AddCluster(t.Context(), ClusterSpec{Name: "bare", APIServerOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if pids := c.pids(); len(pids) != 1 {
		t.Errorf("apiserver-only cluster runs %d processes, want the apiserver alone", len(pids))
	}
	cs := clientFor(t, c.RESTConfig())
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept", Namespace: metav1.NamespaceDefault}, Data: map[string]string{"k": "v"}}
	if _, err := cs.CoreV1().ConfigMaps(metav1.NamespaceDefault).Create(t.Context(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating a ConfigMap: %v", err)
	}
	got, err := cs.CoreV1().ConfigMaps(metav1.NamespaceDefault).Get(t.Context(), "kept", metav1.GetOptions{})
	if err != nil || got.Data["k"] != "v" {
		t.Fatalf("reading the ConfigMap back: %v %v", got, err)
	}
	err = c.SetNodes(t.Context(), []NodeSpec{{Name: "n", Count: 1}})
	if err == nil || !strings.Contains(err.Error(), "apiserver only") {
		t.Errorf("SetNodes on an apiserver-only cluster: %v, want a refusal", err)
	}
	nodes, err := cs.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 0 {
		t.Errorf("nodes: %d, %v; want none", len(nodes.Items), err)
	}
}
