package status

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

func node(name string, ready bool, allocatable corev1.ResourceList) corev1.Node {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	n := corev1.Node{Status: corev1.NodeStatus{Allocatable: allocatable, Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}}}
	n.Name = name
	return n
}

func podOn(nodeName string, phase corev1.PodPhase, containers, initContainers []corev1.ResourceList) corev1.Pod {
	p := corev1.Pod{Spec: corev1.PodSpec{NodeName: nodeName}, Status: corev1.PodStatus{Phase: phase}}
	for _, r := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Resources: corev1.ResourceRequirements{Requests: r}})
	}
	for _, r := range initContainers {
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Resources: corev1.ResourceRequirements{Requests: r}})
	}
	return p
}

func rl(pairs ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(pairs); i += 2 {
		out[corev1.ResourceName(pairs[i])] = resource.MustParse(pairs[i+1])
	}
	return out
}

func TestNodesAndResources(t *testing.T) {
	const gpu = "nvidia.com/gpu"
	tests := []struct {
		name      string
		nodes     []corev1.Node
		pods      []corev1.Pod
		wantNodes Nodes
		want      []Resource
	}{
		{name: "no nodes", wantNodes: Nodes{}, want: []Resource{}},
		{
			name:      "only extended resources, allocatable on Ready nodes",
			nodes:     []corev1.Node{node("a", true, rl("cpu", "8", "memory", "32Gi", "pods", "110", gpu, "2")), node("b", false, rl(gpu, "4")), node("c", true, rl(gpu, "1", "example.com/fpga", "1"))},
			wantNodes: Nodes{Ready: 2, Total: 3},
			want:      []Resource{{Name: "example.com/fpga", Allocatable: "1", Requested: "0"}, {Name: gpu, Allocatable: "3", Requested: "0"}},
		},
		{
			name:  "requested by bound, live pods, as the scheduler charges them",
			nodes: []corev1.Node{node("a", true, rl(gpu, "4"))},
			pods: []corev1.Pod{
				podOn("a", corev1.PodRunning, []corev1.ResourceList{rl(gpu, "1", "cpu", "1"), rl(gpu, "1")}, nil),
				// An init container asking for more than the containers' sum
				// counts for what it asks.
				podOn("a", corev1.PodRunning, []corev1.ResourceList{rl(gpu, "1")}, []corev1.ResourceList{rl(gpu, "3")}),
				podOn("a", corev1.PodSucceeded, []corev1.ResourceList{rl(gpu, "4")}, nil),
				podOn("a", corev1.PodFailed, []corev1.ResourceList{rl(gpu, "4")}, nil),
				podOn("", corev1.PodPending, []corev1.ResourceList{rl(gpu, "4")}, nil),
			},
			wantNodes: Nodes{Ready: 1, Total: 1},
			want:      []Resource{{Name: gpu, Allocatable: "4", Requested: "5"}},
		},
		{
			name:      "requested where no Ready node offers it",
			nodes:     []corev1.Node{node("a", false, rl(gpu, "1"))},
			pods:      []corev1.Pod{podOn("a", corev1.PodRunning, []corev1.ResourceList{rl(gpu, "1")}, nil)},
			wantNodes: Nodes{Ready: 0, Total: 1},
			want:      []Resource{{Name: gpu, Allocatable: "0", Requested: "1"}},
		},
		{
			name:      "native resources with a domain are not extended",
			nodes:     []corev1.Node{node("a", true, rl("hugepages-2Mi", "1Gi", "kubernetes.io/batch-cpu", "1", "attachable-volumes-aws-ebs", "25"))},
			wantNodes: Nodes{Ready: 1, Total: 1},
			want:      []Resource{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nodeCounts(tt.nodes); *got != tt.wantNodes {
				t.Errorf("nodeCounts = %+v, want %+v", *got, tt.wantNodes)
			}
			if diff := cmp.Diff(tt.want, extendedResources(tt.nodes, tt.pods)); diff != "" {
				t.Errorf("extendedResources (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIsExtended(t *testing.T) {
	for name, want := range map[corev1.ResourceName]bool{
		"nvidia.com/gpu": true, "amd.com/gpu": true, "example.com/fpga": true,
		"cpu": false, "memory": false, "pods": false, "ephemeral-storage": false, "hugepages-1Gi": false,
		"kubernetes.io/batch-cpu": false, "node.kubernetes.io/thing": false, "requests.nvidia.com/gpu": false,
	} {
		if got := isExtended(name); got != want {
			t.Errorf("isExtended(%s) = %t, want %t", name, got, want)
		}
	}
}

// listedPods is each namespace's pods as one LIST returned them (or
// failed), given by the test: observe.Pods once it has listed.
type listedPods struct {
	byNS   map[string][]map[string]any
	failed map[string]error
}

func (p *listedPods) In(_ context.Context, namespace string) ([]map[string]any, error) {
	if err := p.failed[namespace]; err != nil {
		return nil, err
	}
	return p.byNS[namespace], nil
}

// TestJudge judges workloads from the live objects, with the namespaces'
// pods as one LIST would return them (filled in: no server here).
func TestJudge(t *testing.T) {
	const noGPU = "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
	deployOf := func(replicas int) string {
		return fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: serving}\nspec: {replicas: %d, selector: {matchLabels: {app: api}}}\n", replicas)
	}
	liveDeploy := func(replicas, available int) string {
		return fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: serving, generation: 1}\n"+
			"spec: {replicas: %d, selector: {matchLabels: {app: api}}}\n"+
			"status: {observedGeneration: 1, replicas: %d, updatedReplicas: %d, readyReplicas: %d, availableReplicas: %d, conditions: [{type: Available, status: 'True'}]}\n",
			replicas, replicas, replicas, available, available)
	}
	const (
		ns     = "apiVersion: v1\nkind: Namespace\nmetadata: {name: serving}\n"
		nsLive = "apiVersion: v1\nkind: Namespace\nmetadata: {name: serving}\nstatus: {phase: Active}\n"
		cm     = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: api-config, namespace: serving}\n"
		job    = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: train, namespace: ml}\nspec: {parallelism: 2, completions: 2, selector: {matchLabels: {job: train}}}\n"
		// A server whose Jobs do not report status.ready: pods counted.
		jobLive = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: train, namespace: ml}\nspec: {parallelism: 2, completions: 2, selector: {matchLabels: {job: train}}}\n" +
			"status: {startTime: '2026-01-01T00:00:00Z', active: 2}\n"
		widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: serving}\n"
	)
	pod := func(ns, labels, status string) map[string]any {
		return parse(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: "+ns+", labels: "+labels+"}\nstatus: "+status+"\n").Object
	}
	running := "{phase: Running, conditions: [{type: Ready, status: 'True'}]}"
	pendingGPU := "{phase: Pending, conditions: [{type: PodScheduled, status: 'False', reason: Unschedulable, message: '" + noGPU + "'}]}"

	type obj struct{ workload, desired, live string }
	tests := []struct {
		name     string
		objs     []obj
		pods     map[string][]map[string]any
		recorded []string // kinds the inventory says geofed applied
		want     []Workload
	}{
		{
			name: "every object ready",
			objs: []obj{{"api", ns, nsLive}, {"api", cm, cm}, {"api", deployOf(2), liveDeploy(2, 2)}},
			want: []Workload{{Name: "api", Ready: true, Objects: 3, Replicas: &Replicas{Desired: 2, Ready: 2}}},
		},
		{
			name: "a replica the scheduler cannot place",
			objs: []obj{{"api", cm, cm}, {"api", deployOf(3), liveDeploy(3, 2)}},
			pods: map[string][]map[string]any{"serving": {
				pod("serving", "{app: api}", running), pod("serving", "{app: api}", running), pod("serving", "{app: api}", pendingGPU),
				pod("serving", "{app: other}", pendingGPU),
			}},
			want: []Workload{{Name: "api", Objects: 2, Replicas: &Replicas{Desired: 3, Ready: 2},
				NotReady: []NotReady{{Object: "apps/Deployment serving/api", Reason: "2/3 replicas available; 1 pod Pending: " + noGPU}}}},
		},
		{
			name: "scaled by hand: placement's figure against what runs",
			objs: []obj{{"api", deployOf(1), liveDeploy(3, 3)}},
			want: []Workload{{Name: "api", Ready: true, Objects: 1, Replicas: &Replicas{Desired: 1, Ready: 3}}},
		},
		{
			name:     "not live: never applied, deleted, or a kind not served",
			objs:     []obj{{"api", cm, ""}, {"api", deployOf(2), ""}, {"api", widget, ""}},
			recorded: []string{"Deployment"},
			want: []Workload{{Name: "api", Objects: 3, Replicas: &Replicas{Desired: 2, Ready: 0}, NotReady: []NotReady{
				{Object: "ConfigMap serving/api-config", Reason: "not found: not applied yet"},
				{Object: "apps/Deployment serving/api", Reason: "not found: deleted since geofed applied it, or no longer labelled geofed.io/topology"},
				{Object: "example.com/Widget serving/w", Reason: "kind Widget.example.com is not served by the cluster"},
			}}},
		},
		{
			name: "a Job counted by its pods; workloads by name",
			objs: []obj{{"trainer", job, jobLive}, {"api", cm, cm}},
			pods: map[string][]map[string]any{"ml": {pod("ml", "{job: train}", running), pod("ml", "{job: train}", pendingGPU)}},
			want: []Workload{
				{Name: "api", Ready: true, Objects: 1},
				{Name: "trainer", Objects: 1, NotReady: []NotReady{{Object: "batch/Job ml/train", Reason: "1/2 pods running; 1 pod Pending: " + noGPU}}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs []desired.Object
			live := map[string]*unstructured.Unstructured{}
			served := map[schema.GroupKind]bool{}
			recorded := map[string]bool{}
			for _, o := range tt.objs {
				d := parse(t, o.desired)
				objs = append(objs, desired.Object{Workload: o.workload, Object: d})
				gk := d.GroupVersionKind().GroupKind()
				served[gk] = gk.Group != "example.com"
				if o.live != "" {
					live[object.KeyOf(d)] = parse(t, o.live)
				}
				for _, k := range tt.recorded {
					if d.GetKind() == k {
						recorded[object.KeyOf(d)] = true
					}
				}
			}
			pods := &listedPods{byNS: tt.pods, failed: map[string]error{}}
			if pods.byNS == nil {
				pods.byNS = map[string][]map[string]any{}
			}
			got := judge(context.Background(), objs, live, served, recorded, pods)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("judge (-want +got):\n%s", diff)
			}
		})
	}

	// A namespace whose pods cannot be listed says so, once.
	pods := &listedPods{byNS: map[string][]map[string]any{}, failed: map[string]error{"serving": errors.New("listing the pods of namespace serving: forbidden")}}
	d := parse(t, deployOf(3))
	got := judge(context.Background(), []desired.Object{{Workload: "api", Object: d}}, map[string]*unstructured.Unstructured{object.KeyOf(d): parse(t, liveDeploy(3, 2))},
		map[schema.GroupKind]bool{d.GroupVersionKind().GroupKind(): true}, nil, pods)
	if want := "2/3 replicas available; listing the pods of namespace serving: forbidden"; len(got) != 1 || len(got[0].NotReady) != 1 || got[0].NotReady[0].Reason != want {
		t.Errorf("judge with pods unlisted = %+v, want the reason %q", got, want)
	}
}

func TestSummaryAndOK(t *testing.T) {
	ready := Workload{Name: "a", Ready: true}
	notReady := Workload{Name: "b"}
	drift := func(n int) *Drift { return &Drift{Count: n} }
	tests := []struct {
		name     string
		clusters []Cluster
		warnings []string
		want     Summary
		ok       bool
	}{
		{"all ready", []Cluster{{Reachable: true, Drift: drift(0), Workloads: []Workload{ready}}}, nil,
			Summary{Reachable: 1, WorkloadsReady: 1}, true},
		{"drift alone is OK", []Cluster{{Reachable: true, Drift: drift(2), Workloads: []Workload{ready}}}, nil,
			Summary{Reachable: 1, WorkloadsReady: 1, Drifted: 2}, true},
		{"unreachable", []Cluster{{Reachable: true, Workloads: []Workload{ready}}, {Unreachable: "refused"}}, nil,
			Summary{Reachable: 1, Unreachable: 1, WorkloadsReady: 1}, false},
		{"not ready", []Cluster{{Reachable: true, Workloads: []Workload{ready, notReady}}}, nil,
			Summary{Reachable: 1, WorkloadsReady: 1, WorkloadsNotReady: 1}, false},
		{"excluded from placement", []Cluster{{Reachable: true, Excluded: "GKE has been RECONCILING the cluster for 47m"}}, nil,
			Summary{Reachable: 1, Excluded: 1}, false},
		{"an error reading a cluster", []Cluster{{Reachable: true, Errors: []string{"cluster c: listing ..."}}}, nil,
			Summary{Reachable: 1, Errors: 1}, false},
		{"workloads not judged", []Cluster{{Reachable: true}}, []string{"workloads not judged: ..."},
			Summary{Reachable: 1, Errors: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Status{Regions: []Region{{Name: "r", Clusters: tt.clusters}}, Warnings: tt.warnings}
			s.Summary = summarize(s)
			if s.Summary != tt.want {
				t.Errorf("summarize = %+v, want %+v", s.Summary, tt.want)
			}
			if s.OK() != tt.ok {
				t.Errorf("OK() = %t, want %t", s.OK(), tt.ok)
			}
		})
	}
}
