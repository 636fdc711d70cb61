package gkeemu_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/geofed-io/kubectl-geofed/internal/lab/gkeemu"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	geofedgke "github.com/geofed-io/kubectl-geofed/pkg/gke"
)

const (
	e2eProject = "geofed-lab"
	e2eRegion  = "us-west1"
	e2eCluster = "gpu-west"
)

// TestEmulatorOnRealLab drives the emulator with the real container client
// while the lab runs the clusters: what GKE returns must reach a real
// apiserver with real nodes.
func TestEmulatorOnRealLab(t *testing.T) {
	l, _ := labtest.New(t)
	emu, addr, err := gkeemu.Start(t.Context(), gkeemu.Options{Provisioner: gkeemu.NewLabProvisioner(l), Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Stop)
	gke, err := container.NewClusterManagerClient(t.Context(),
		option.WithEndpoint(addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gke.Close() })
	ctx := t.Context()
	parent := "projects/" + e2eProject + "/locations/" + e2eRegion
	name := parent + "/clusters/" + e2eCluster

	pools := []*containerpb.NodePool{
		{Name: "a100", InitialNodeCount: 2, Config: &containerpb.NodeConfig{
			MachineType:  "a2-highgpu-1g",
			Accelerators: []*containerpb.AcceleratorConfig{{AcceleratorType: "nvidia-tesla-a100", AcceleratorCount: 1}},
		}},
		{Name: "cpu", InitialNodeCount: 1, Config: &containerpb.NodeConfig{MachineType: "e2-standard-4"}},
	}
	start := time.Now()
	op, err := gke.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{
		Name: e2eCluster, NodePools: pools,
	}})
	if err := waitOp(ctx, gke, op, err); err != nil {
		t.Fatalf("creating cluster: %v", err)
	}
	t.Logf("CreateCluster to a usable cluster (operation DONE, nodes Ready): %s", time.Since(start).Round(time.Millisecond))

	cl, err := gke.GetCluster(ctx, &containerpb.GetClusterRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if cl.GetStatus() != containerpb.Cluster_RUNNING || !strings.HasPrefix(cl.GetEndpoint(), "127.0.0.1:") {
		t.Fatalf("cluster %v at %q", cl.GetStatus(), cl.GetEndpoint())
	}
	cs := clientFor(t, cl)

	t.Run("nodes match the node pools", func(t *testing.T) {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range nodes.Items {
			gpu := n.Status.Allocatable["nvidia.com/gpu"]
			var taints []string
			for _, t := range n.Spec.Taints {
				taints = append(taints, t.ToString())
			}
			got = append(got, fmt.Sprintf("%s cpu=%s/%s mem=%s/%s gpu=%s accel=%s zone=%s taints=%v",
				n.Labels["cloud.google.com/gke-nodepool"],
				n.Status.Allocatable.Cpu(), n.Status.Capacity.Cpu(), n.Status.Allocatable.Memory(), n.Status.Capacity.Memory(),
				gpu.String(), n.Labels["cloud.google.com/gke-accelerator"], n.Labels["topology.kubernetes.io/zone"], taints))
		}
		// Allocatable is the machine's less GKE's reservations (worked out
		// in pkg/gke/shape_test.go), capacity the machine's.
		want := []string{
			"a100 cpu=11900m/12 mem=80038Mi/85Gi gpu=1 accel=nvidia-tesla-a100 zone=us-west1-a taints=[nvidia.com/gpu=present:NoSchedule]",
			"a100 cpu=11900m/12 mem=80038Mi/85Gi gpu=1 accel=nvidia-tesla-a100 zone=us-west1-a taints=[nvidia.com/gpu=present:NoSchedule]",
			"cpu cpu=3920m/4 mem=13621Mi/16Gi gpu=0 accel= zone=us-west1-a taints=[]",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("nodes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	// What plan predicts for a pool's nodes before the cluster exists is
	// what the nodes are once it does.
	t.Run("nodes are the pools' predicted shapes", func(t *testing.T) {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		made := geofedgke.MadePools(&containerpb.Cluster{NodePools: pools}, nil)
		for _, pool := range pools {
			shape, err := geofedgke.NodeShape(made[pool.GetName()], e2eRegion, "us-west1-a")
			if err != nil {
				t.Fatal(err)
			}
			seen := 0
			for _, n := range nodes.Items {
				if n.Labels[geofedgke.LabelNodePool] != pool.GetName() {
					continue
				}
				seen++
				if !maps.EqualFunc(n.Status.Allocatable, shape.Allocatable, func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 }) {
					t.Errorf("node %s allocatable %v, predicted %v", n.Name, n.Status.Allocatable, shape.Allocatable)
				}
				for k, v := range shape.Labels {
					if n.Labels[k] != v {
						t.Errorf("node %s label %s=%q, predicted %q", n.Name, k, n.Labels[k], v)
					}
				}
				if !slices.EqualFunc(n.Spec.Taints, shape.Taints, func(a, b corev1.Taint) bool { return a.MatchTaint(&b) && a.Value == b.Value }) {
					t.Errorf("node %s taints %v, predicted %v", n.Name, n.Spec.Taints, shape.Taints)
				}
			}
			if seen != int(pool.GetInitialNodeCount()) {
				t.Errorf("pool %s: %d nodes, want %d", pool.GetName(), seen, pool.GetInitialNodeCount())
			}
		}
	})

	// The pods name no toleration: the apiserver's ExtendedResourceToleration
	// admission gives them the one for GKE's GPU taint, as GKE's does.
	t.Run("a GPU deployment becomes available", func(t *testing.T) {
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "trainer", Namespace: "default"},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](2),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "trainer"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "trainer"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{
						Name: "train", Image: "trainer:v1",
						Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}},
					}}},
				},
			},
		}
		if _, err := cs.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			d, err := cs.AppsV1().Deployments("default").Get(ctx, "trainer", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return d.Status.AvailableReplicas == 2, nil
		})
		if err != nil {
			t.Fatalf("deployment not available: %v", err)
		}
	})

	t.Run("SetNodePoolSize changes the nodes", func(t *testing.T) {
		op, err := gke.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: name + "/nodePools/a100", NodeCount: 3})
		if err := waitOp(ctx, gke, op, err); err != nil {
			t.Fatal(err)
		}
		if n := countNodes(t, cs, "cloud.google.com/gke-nodepool=a100"); n != 3 {
			t.Errorf("a100 nodes = %d, want 3", n)
		}
	})

	t.Run("quota", func(t *testing.T) {
		emu.SetQuota(e2eRegion, gkeemu.Quota{CPUs: gkeemu.Unlimited, GPUs: 4})
		defer emu.SetQuota(e2eRegion, gkeemu.Quota{CPUs: gkeemu.Unlimited, GPUs: gkeemu.Unlimited})
		_, err := gke.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{
			Name: "too-big",
			NodePools: []*containerpb.NodePool{{Name: "a100", InitialNodeCount: 1, Config: &containerpb.NodeConfig{
				MachineType: "a2-highgpu-2g",
			}}},
		}})
		if st, _ := status.FromError(err); st.Code() != codes.ResourceExhausted ||
			!strings.Contains(st.Message(), `resource "NVIDIA_A100_GPUS": request requires '2.0' and is short '1.0'`) {
			t.Errorf("create past the GPU quota: %v", err)
		}
		if l.Cluster("too-big") != nil {
			t.Error("the lab started a cluster refused for quota")
		}
	})

	t.Run("failed operation", func(t *testing.T) {
		emu.FailNextOperation("broken", containerpb.Operation_CREATE_CLUSTER, "Google Compute Engine: GCE_STOCKOUT")
		op, err := gke.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{
			Name: "broken", InitialNodeCount: 1,
		}})
		err = waitOp(ctx, gke, op, err)
		if st, _ := status.FromError(err); st.Code() != codes.Internal || st.Message() != "Google Compute Engine: GCE_STOCKOUT" {
			t.Fatalf("failing create ended: %v", err)
		}
		cl, err := gke.GetCluster(ctx, &containerpb.GetClusterRequest{Name: parent + "/clusters/broken"})
		if err != nil || cl.GetStatus() != containerpb.Cluster_ERROR || l.Cluster("broken") != nil {
			t.Errorf("after failed create: %v, %v; lab cluster %v", cl.GetStatus(), err, l.Cluster("broken"))
		}
		op, err = gke.DeleteCluster(ctx, &containerpb.DeleteClusterRequest{Name: parent + "/clusters/broken"})
		if err := waitOp(ctx, gke, op, err); err != nil {
			t.Errorf("deleting the broken cluster: %v", err)
		}
	})

	t.Run("dark apiserver", func(t *testing.T) {
		if err := emu.SetDark(ctx, e2eCluster, true); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err == nil {
			t.Error("dark apiserver still answers")
		}
		cl, err := gke.GetCluster(ctx, &containerpb.GetClusterRequest{Name: name})
		if err != nil || cl.GetStatus() != containerpb.Cluster_RUNNING {
			t.Errorf("GetCluster of a dark cluster: %v, %v", cl.GetStatus(), err)
		}
		if err := emu.SetDark(ctx, e2eCluster, false); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
			t.Errorf("apiserver back from dark: %v", err)
		}
	})

	t.Run("delete stops the processes", func(t *testing.T) {
		dir := l.Cluster(e2eCluster).Dir
		if procs := processesUnder(t, dir); len(procs) == 0 {
			t.Fatalf("found no process of the cluster under %s", dir)
		}
		op, err := gke.DeleteCluster(ctx, &containerpb.DeleteClusterRequest{Name: name})
		if err := waitOp(ctx, gke, op, err); err != nil {
			t.Fatal(err)
		}
		if _, err := gke.GetCluster(ctx, &containerpb.GetClusterRequest{Name: name}); status.Code(err) != codes.NotFound {
			t.Errorf("GetCluster after delete: %v", err)
		}
		if l.Cluster(e2eCluster) != nil {
			t.Error("the lab still runs the deleted cluster")
		}
		if procs := processesUnder(t, dir); len(procs) > 0 {
			t.Errorf("processes left after delete: %v", procs)
		}
		if conn, err := net.DialTimeout("tcp", cl.GetEndpoint(), time.Second); err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections", cl.GetEndpoint())
		}
	})
}

// testLog sends the emulator's lines to the test log.
type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// waitOp waits for a long-running operation as a GKE client does, by
// polling GetOperation, and returns its error status, if any, as an error.
func waitOp(ctx context.Context, gke *container.ClusterManagerClient, op *containerpb.Operation, err error) error {
	if err != nil {
		return err
	}
	name := fmt.Sprintf("projects/%s/locations/%s/operations/%s", e2eProject, op.GetLocation(), op.GetName())
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for op.GetStatus() != containerpb.Operation_DONE {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		if op, err = gke.GetOperation(ctx, &containerpb.GetOperationRequest{Name: name}); err != nil {
			return err
		}
	}
	if e := op.GetError(); e != nil {
		return status.ErrorProto(e)
	}
	return nil
}

// clientFor connects to a cluster as pkg/gke does: https:// plus the
// endpoint, the CA and the client certificate from masterAuth.
func clientFor(t *testing.T, cl *containerpb.Cluster) kubernetes.Interface {
	t.Helper()
	decode := func(s string) []byte {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	auth := cl.GetMasterAuth()
	cs, err := kubernetes.NewForConfig(&rest.Config{
		Host: "https://" + cl.GetEndpoint(),
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   decode(auth.GetClusterCaCertificate()),
			CertData: decode(auth.GetClientCertificate()),
			KeyData:  decode(auth.GetClientKey()),
		},
		Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func countNodes(t *testing.T, cs kubernetes.Interface, selector string) int {
	t.Helper()
	nodes, err := cs.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	return len(nodes.Items)
}

// processesUnder lists the processes whose command line names dir: a lab
// cluster's processes all take files from its directory.
func processesUnder(t *testing.T, dir string) []string {
	t.Helper()
	cmdlines, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, path := range cmdlines {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the process ended meanwhile
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, dir+"/") {
			out = append(out, filepath.Base(filepath.Dir(path))+": "+cmd)
		}
	}
	return out
}
