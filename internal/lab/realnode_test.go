package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestRealNode runs a real Pod on a lab cluster's real node: the test
// program's image, imported into the node's containerd, runs with
// imagePullPolicy Never, reaches its own apiserver with in-cluster config and
// its mounted ServiceAccount token (the apiserver says who it is), and another
// lab apiserver at its PodEndpoint. Stopping the lab leaves no process,
// cgroup, mount or network namespace of the node behind.
func TestRealNode(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := startLab(t)

	// The image: the test program, static, built now.
	exe := filepath.Join(t.TempDir(), "incluster")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", exe, "./testdata/incluster")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the test program: %v\n%s", err, out)
	}
	const image = "geofed.local/lab/incluster:test"
	archive := filepath.Join(t.TempDir(), "incluster.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeImageArchive(f, image, exe, "/incluster"); err != nil {
		t.Fatal(err)
	}
	f.Close()

	other, err := l.AddCluster(ctx, ClusterSpec{Name: "other", APIServerOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c, err := l.AddCluster(ctx, ClusterSpec{Name: "real", RealNode: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster with a real node ready in %s", since(start))

	c.mu.Lock()
	n := c.realNode
	c.mu.Unlock()
	containerdPID := n.containerd.pid()
	netns, err := os.Stat(fmt.Sprintf("/proc/%d/ns/net", containerdPID))
	if err != nil {
		t.Fatal(err)
	}
	pids := c.pids()

	if err := ImportImage(ctx, c.RealNodeMountNS(), archive); err != nil {
		t.Fatal(err)
	}
	cs := clientFor(t, c.RESTConfig())
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "incluster", Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeSelector:  map[string]string{RealNodeLabel: "true"},
			RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name:            "incluster",
				Image:           image,
				ImagePullPolicy: corev1.PullNever,
				Env: []corev1.EnvVar{
					{Name: "OTHER_URL", Value: other.PodEndpoint()},
					{Name: "OTHER_CA", Value: string(other.CAData)},
				},
				SecurityContext: &corev1.SecurityContext{
					RunAsUser:                ptr.To[int64](65532),
					RunAsNonRoot:             ptr.To(true),
					ReadOnlyRootFilesystem:   ptr.To(true),
					AllowPrivilegeEscalation: ptr.To(false),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
	start = time.Now()
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got *corev1.Pod
	waitCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		got, err = cs.CoreV1().Pods("default").Get(waitCtx, "incluster", metav1.GetOptions{})
		if err == nil && (got.Status.Phase == corev1.PodSucceeded || got.Status.Phase == corev1.PodFailed) {
			break
		}
		if waitCtx.Err() != nil {
			t.Fatalf("pod did not finish: %v; status %+v\n--- kubelet log ---\n%s", err, got.Status, tailFile(n.path("kubelet.log"), 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("pod created to %s in %s on %s", got.Status.Phase, since(start), got.Spec.NodeName)
	var msg string
	if s := got.Status.ContainerStatuses; len(s) == 1 && s[0].State.Terminated != nil {
		msg = s[0].State.Terminated.Message
	}
	want := fmt.Sprintf("host=%s\nport=443\nuser=system:serviceaccount:default:default\nother=%s\n", KubernetesServiceIP, c.version)
	if got.Status.Phase != corev1.PodSucceeded || msg != want {
		t.Fatalf("pod %s, said:\n%s\nwant:\n%s", got.Status.Phase, msg, want)
	}
	// Its log, read through the apiserver, which reaches the kubelet inside
	// the node's namespace through the egress proxy.
	logs, err := cs.CoreV1().Pods("default").GetLogs("incluster", &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil || string(logs) != want {
		t.Errorf("pod log: %v\n%s\nwant:\n%s", err, logs, want)
	}

	// A Pod still running at the stop: the stop must end its containers.
	start = time.Now()
	sleeper := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sleeper", Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{RealNodeLabel: "true"},
			Containers:   []corev1.Container{{Name: "pause", Image: PauseImage, ImagePullPolicy: corev1.PullNever}},
		},
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, sleeper, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for {
		got, err = cs.CoreV1().Pods("default").Get(waitCtx, "sleeper", metav1.GetOptions{})
		if err == nil && got.Status.Phase == corev1.PodRunning {
			break
		}
		if waitCtx.Err() != nil {
			t.Fatalf("pod sleeper not Running: %v; status %+v", err, got.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("pod sleeper created to Running in %s", since(start))

	if err := l.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d of the cluster still there after Stop (kill 0: %v)", pid, err)
		}
	}
	if left := cgroupPids(filepath.Join("/sys/fs/cgroup/pids", n.cgroup)); len(left) > 0 {
		t.Errorf("processes %v still in the node's cgroup", left)
	}
	ctrls, _ := cgroupHierarchies()
	for _, ctrl := range append(ctrls, unifiedHierarchy) {
		if _, err := os.Stat(filepath.Join(ctrl, n.cgroup)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cgroup %s still there (%v)", filepath.Join(ctrl, n.cgroup), err)
		}
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, l.WorkDir()) {
			t.Errorf("mount left behind: %s", line)
		}
	}
	// The node's network namespace is gone when no process is in it.
	procs, _ := filepath.Glob("/proc/[0-9]*/ns/net")
	for _, p := range procs {
		if st, err := os.Stat(p); err == nil && os.SameFile(st, netns) {
			t.Errorf("%s is still in the node's network namespace", p)
		}
	}
}
