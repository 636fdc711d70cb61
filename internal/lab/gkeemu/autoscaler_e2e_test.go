package gkeemu_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/geofed-io/kubectl-geofed/internal/lab/gkeemu"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// TestAutoscalerOnRealLab creates, as apply would, a cluster whose GPU pool
// autoscales from one node, and runs GPU pods on it: they go Pending, the
// pool grows to its maximum and they run; when they go, the idle nodes are
// removed, not the one still running a pod. GKE's API and geofed's plan
// follow throughout.
func TestAutoscalerOnRealLab(t *testing.T) {
	l, _ := labtest.New(t)
	// Scale-up waits the lab's default delay; idle nodes go after 3s, not 30.
	emu, addr, err := gkeemu.Start(t.Context(), gkeemu.Options{
		Provisioner: gkeemu.NewLabProvisioner(l), Log: testLog{t}, ScaleDownIdle: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Stop)
	client, err := container.NewClusterManagerClient(t.Context(),
		option.WithEndpoint(addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	ctx := t.Context()

	top := &topology.Topology{
		Metadata: topology.ObjectMeta{Name: "autoscaling"},
		Spec: topology.Spec{
			GKE: &topology.GKEDefaults{Project: e2eProject},
			Regions: []topology.Region{{Name: e2eRegion, Clusters: []topology.Cluster{{
				Name: "train-west",
				GKE: &topology.GKECluster{NodePools: []topology.NodePool{
					{Name: "cpu", MachineType: "e2-standard-4", Autoscaling: &topology.Autoscaling{MinNodes: 1, MaxNodes: 2}},
					{Name: "a100", MachineType: "a2-highgpu-1g", Spot: true,
						Accelerators: []topology.Accelerator{{Type: "nvidia-tesla-a100", Count: 1}},
						Autoscaling:  &topology.Autoscaling{MinNodes: 1, MaxNodes: 3}},
				}},
			}}}},
		},
	}
	desired := gke.Desired(top, top.Clusters()[0])
	parent := "projects/" + e2eProject + "/locations/" + e2eRegion
	name := parent + "/clusters/train-west"
	op, err := client.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: desired})
	if err := waitOp(ctx, client, op, err); err != nil {
		t.Fatalf("creating cluster: %v", err)
	}
	cl, err := client.GetCluster(ctx, &containerpb.GetClusterRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	cs := clientFor(t, cl)

	// sizes is what GKE's API and the cluster say: the cluster's
	// currentNodeCount, the a100 pool's initialNodeCount, the pools' nodes;
	// and whether geofed's plan would change the cluster.
	type sizes struct {
		current, initial int32
		a100, cpu        []string
		plan             object.Action
	}
	read := func(ctx context.Context) (sizes, error) {
		cl, err := client.GetCluster(ctx, &containerpb.GetClusterRequest{Name: name})
		if err != nil {
			return sizes{}, err
		}
		var sz sizes
		sz.current = cl.GetCurrentNodeCount()
		for _, p := range cl.GetNodePools() {
			if p.GetName() == "a100" {
				sz.initial = p.GetInitialNodeCount()
			}
		}
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return sizes{}, err
		}
		for _, n := range nodes.Items {
			switch n.Labels["cloud.google.com/gke-nodepool"] {
			case "a100":
				sz.a100 = append(sz.a100, n.Name)
			case "cpu":
				sz.cpu = append(sz.cpu, n.Name)
			}
		}
		slices.Sort(sz.a100)
		counts, err := gke.CountNodes(ctx, cs.CoreV1().Nodes())
		if err != nil {
			return sizes{}, err
		}
		sz.plan = gke.Diff(desired, cl, counts).Action
		return sz, nil
	}
	start := time.Now()
	var last sizes
	// await polls until done holds, logging each change of the sizes, and
	// fails the test if the plan ever shows a change.
	await := func(t *testing.T, what string, done func(sizes) (bool, error)) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			sz, err := read(ctx)
			if err != nil {
				return false, err
			}
			if fmt.Sprint(sz) != fmt.Sprint(last) {
				t.Logf("%6s: GetCluster currentNodeCount=%d, a100 initialNodeCount=%d; nodes a100=%v cpu=%v; plan %s",
					time.Since(start).Round(100*time.Millisecond), sz.current, sz.initial, sz.a100, sz.cpu, sz.plan)
				last = sz
			}
			if sz.plan != object.ActionNoop {
				return false, fmt.Errorf("plan shows %s while the autoscaler moves the pool within its bounds", sz.plan)
			}
			return done(sz)
		})
		if err != nil {
			t.Fatalf("waiting until %s: %v", what, err)
		}
		t.Logf("%6s: %s", time.Since(start).Round(100*time.Millisecond), what)
	}
	await(t, "created with one node per pool", func(sz sizes) (bool, error) {
		return sz.current == 2 && len(sz.a100) == 1 && len(sz.cpu) == 1, nil
	})

	// No pool's node fits this pod: it stays Pending and grows nothing.
	tooBig := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "too-big", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "big:v1",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": resource.MustParse("64")}}}}},
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, tooBig, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deployments := cs.AppsV1().Deployments("default")
	if _, err := deployments.Create(ctx, trainer(3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()

	t.Run("pending GPU pods grow the pool to its maximum", func(t *testing.T) {
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			return len(unschedulablePods(t, cs, "app=trainer")) == 2, nil
		}); err != nil {
			t.Fatalf("waiting for 2 of 3 trainer pods to be unschedulable on one GPU node: %v", err)
		}
		t.Logf("%6s: 2 trainer pods Pending, Unschedulable", time.Since(start).Round(100*time.Millisecond))
		await(t, "the a100 pool has 3 nodes (its maximum)", func(sz sizes) (bool, error) {
			return sz.current == 4 && len(sz.a100) == 3 && sz.initial == 1, nil
		})
		if d := time.Since(start); d < 2*time.Second {
			t.Errorf("the pool grew %s after the pods were created, before the 2s scale-up delay", d)
		}
		awaitAvailable(t, cs, 3)
		t.Logf("%6s: trainer Available with 3 replicas", time.Since(start).Round(100*time.Millisecond))
		if got := unschedulablePods(t, cs, ""); !slices.Equal(got, []string{"too-big"}) {
			t.Errorf("unschedulable pods %v, want only too-big", got)
		}
		// Long past the delay, too-big has still grown no pool.
		time.Sleep(3 * time.Second)
		if sz, err := read(ctx); err != nil || len(sz.cpu) != 1 || sz.current != 4 {
			t.Errorf("with too-big Pending: cpu nodes %v, currentNodeCount %d (err %v); want 1 cpu node, 4 in all", sz.cpu, sz.current, err)
		}
	})

	var keptNode string
	var keptPod types.UID
	t.Run("idle nodes go back down to the minimum", func(t *testing.T) {
		// Keep the pod on the pool's last node, so the autoscaler has to
		// remove the nodes before it rather than the pool's last ones.
		pods, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=trainer"})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if p.Spec.NodeName > keptNode {
				keptNode, keptPod = p.Spec.NodeName, p.UID
			}
		}
		patch := `{"metadata":{"annotations":{"controller.kubernetes.io/pod-deletion-cost":"1000"}}}`
		if _, err := cs.CoreV1().Pods("default").Patch(ctx, podOf(pods.Items, keptPod), types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		scale(t, cs, 1)
		start = time.Now()
		await(t, "the a100 pool is back to 1 node (its minimum): "+keptNode, func(sz sizes) (bool, error) {
			return sz.current == 2 && slices.Equal(sz.a100, []string{keptNode}) && sz.initial == 1, nil
		})
		awaitAvailable(t, cs, 1)
		pods, err = cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=trainer"})
		if err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) != 1 || pods.Items[0].UID != keptPod || pods.Items[0].Spec.NodeName != keptNode {
			t.Errorf("trainer pods after scale-down: %v; want the one kept on %s, never evicted", podNames(pods.Items), keptNode)
		}
	})

	t.Run("the pool grows again around the node it kept", func(t *testing.T) {
		scale(t, cs, 3)
		start = time.Now()
		await(t, "the a100 pool has 3 nodes again", func(sz sizes) (bool, error) {
			return sz.current == 4 && len(sz.a100) == 3 && slices.Contains(sz.a100, keptNode), nil
		})
		awaitAvailable(t, cs, 3)
		t.Logf("%6s: trainer Available with 3 replicas", time.Since(start).Round(100*time.Millisecond))
	})

	t.Run("the autoscaler stops with the server", func(t *testing.T) {
		// too-big keeps the autoscaler looking at the cluster until the end.
		start := time.Now()
		emu.Stop()
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Stop took %s", d)
		}
		t.Logf("Stop returned in %s, the autoscaler's goroutines ended", time.Since(start).Round(time.Millisecond))
	})
}

// trainer is a Deployment of GPU pods like the seed's trainer: 1 GPU each,
// tolerating GKE's GPU and spot taints, no nodeSelector.
func trainer(replicas int32) *appsv1.Deployment {
	res := corev1.ResourceList{"cpu": resource.MustParse("1"), "memory": resource.MustParse("4Gi"), "nvidia.com/gpu": resource.MustParse("1")}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "trainer", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "trainer"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "trainer"}},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "trainer", Image: "trainer:v1",
						Resources: corev1.ResourceRequirements{Requests: res, Limits: res}}},
					Tolerations: []corev1.Toleration{
						{Key: "nvidia.com/gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
						{Key: "cloud.google.com/gke-spot", Operator: corev1.TolerationOpEqual, Value: "true", Effect: corev1.TaintEffectNoSchedule},
					},
				},
			},
		},
	}
}

func scale(t *testing.T, cs kubernetes.Interface, replicas int32) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas)
	if _, err := cs.AppsV1().Deployments("default").Patch(t.Context(), "trainer", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// awaitAvailable waits for the trainer to have exactly n available replicas.
func awaitAvailable(t *testing.T, cs kubernetes.Interface, n int32) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, "trainer", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return d.Status.AvailableReplicas == n && d.Status.Replicas == n && d.Status.ObservedGeneration == d.Generation, nil
	})
	if err != nil {
		t.Fatalf("waiting for trainer to have %d available replicas: %v", n, err)
	}
}

// unschedulablePods are the names of the pods the scheduler marked
// unschedulable, matching selector.
func unschedulablePods(t *testing.T, cs kubernetes.Interface, selector string) []string {
	t.Helper()
	pods, err := cs.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pods.Items {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				out = append(out, p.Name)
			}
		}
	}
	slices.Sort(out)
	return out
}

func podOf(pods []corev1.Pod, uid types.UID) string {
	for _, p := range pods {
		if p.UID == uid {
			return p.Name
		}
	}
	return ""
}

func podNames(pods []corev1.Pod) string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name+" on "+p.Spec.NodeName)
	}
	return strings.Join(out, ", ")
}
