package nodeshape

import (
	"slices"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
)

// TestReservations checks the rule at the edges of its tiers, against
// figures worked out by hand (see TestNodeShape); those for 8, 16, 128 and
// 256 GiB are also those of a published table of the same tiers (Nebius'
// kube-reserved page).
func TestReservations(t *testing.T) {
	for _, tt := range []struct {
		vcpus, milli int64
	}{
		{1, 60},
		{2, 70},
		{4, 80},
		{5, 83}, // 82.5, rounded up
		{6, 85},
		{96, 310}, // 80 + 92 × 2.5
	} {
		if got := reservedMilliCPU(tt.vcpus); got != tt.milli {
			t.Errorf("reservedMilliCPU(%d) = %d, want %d", tt.vcpus, got, tt.milli)
		}
	}
	for _, tt := range []struct {
		mib, reserved int64
	}{
		{614, 355},     // f1-micro: under 1 GiB, 255 + 100
		{1 << 10, 356}, // 256 + 100
		{4 << 10, 1124},
		{8 << 10, 1944},    // 1843.2 → 1844 + 100
		{16 << 10, 2763},   // 2662.4 → 2663 + 100
		{128 << 10, 9644},  // 2662.4 + 6881.28 = 9543.68 → 9544 + 100
		{256 << 10, 12266}, // 9543.68 + 2% × 131072 = 12165.12 → 12166 + 100
	} {
		if got := reservedMemoryMiB(tt.mib); got != tt.reserved {
			t.Errorf("reservedMemoryMiB(%d) = %d, want %d", tt.mib, got, tt.reserved)
		}
	}
}

func pool(name, machine string, taints ...*containerpb.NodeTaint) *containerpb.NodePool {
	return &containerpb.NodePool{Name: name, Config: &containerpb.NodeConfig{MachineType: machine, Taints: taints}}
}

func t4(name string, taints ...*containerpb.NodeTaint) *containerpb.NodePool {
	p := pool(name, "n1-standard-4", taints...)
	p.Config.Accelerators = []*containerpb.AcceleratorConfig{{AcceleratorType: "nvidia-tesla-t4", AcceleratorCount: 1}}
	return p
}

var (
	gpuTaint  = &containerpb.NodeTaint{Key: "nvidia.com/gpu", Value: "present", Effect: containerpb.NodeTaint_NO_SCHEDULE}
	ownTaint  = &containerpb.NodeTaint{Key: "dedicated", Value: "ml", Effect: containerpb.NodeTaint_NO_SCHEDULE}
	softTaint = &containerpb.NodeTaint{Key: "nvidia.com/gpu", Value: "present", Effect: containerpb.NodeTaint_PREFER_NO_SCHEDULE}
)

// TestMade checks GKE's rule for its GPU taint (see Made for the source).
func TestMade(t *testing.T) {
	for _, tt := range []struct {
		name      string
		pool, was *containerpb.NodePool
		others    []*containerpb.NodePool
		want      []*containerpb.NodeTaint
	}{
		{name: "a new cluster's only pool, with GPUs", pool: t4("gpu")},
		{name: "GPU pools only", pool: t4("gpu"), others: []*containerpb.NodePool{t4("gpu2"), pool("l4", "g2-standard-8")}},
		{name: "beside a pool without GPUs", pool: t4("gpu"), others: []*containerpb.NodePool{t4("gpu2"), pool("cpu", "e2-standard-4")}, want: []*containerpb.NodeTaint{gpuTaint}},
		{name: "beside GKE's default machine, which has none", pool: t4("gpu"), others: []*containerpb.NodePool{{Name: "default-pool"}}, want: []*containerpb.NodeTaint{gpuTaint}},
		{name: "built-in GPUs count", pool: pool("a100", "a2-highgpu-1g"), others: []*containerpb.NodePool{pool("cpu", "e2-standard-4")}, want: []*containerpb.NodeTaint{gpuTaint}},
		{name: "a pool without GPUs gets none", pool: pool("cpu", "e2-standard-4"), others: []*containerpb.NodePool{pool("cpu2", "e2-standard-8")}},
		{name: "the pool's own taints stay, GKE's after them", pool: t4("gpu", ownTaint), others: []*containerpb.NodePool{pool("cpu", "e2-standard-4")}, want: []*containerpb.NodeTaint{ownTaint, gpuTaint}},
		{name: "a taint on the same key with another effect is the pool's own", pool: t4("gpu", softTaint), want: []*containerpb.NodeTaint{softTaint}},
		// Not added to existing GPU pools when a pool without GPUs comes.
		{name: "a GPU pool changed in place keeps having none", pool: pool("gpu", "g2-standard-8"), was: t4("gpu"), others: []*containerpb.NodePool{pool("cpu", "e2-standard-4")}},
		// Nor taken away when the last pool without GPUs goes.
		{name: "a GPU pool changed in place keeps its taint", pool: pool("gpu", "g2-standard-8"), was: t4("gpu", gpuTaint), want: []*containerpb.NodeTaint{gpuTaint}},
		{name: "a pool that loses its GPUs loses the taint", pool: pool("gpu", "n2-standard-4", gpuTaint), was: t4("gpu", gpuTaint), others: []*containerpb.NodePool{pool("cpu", "e2-standard-4")}},
		{name: "a pool that gains GPUs is judged as a new one", pool: t4("cpu2"), was: pool("cpu2", "n1-standard-4"), others: []*containerpb.NodePool{pool("cpu", "e2-standard-4")}, want: []*containerpb.NodeTaint{gpuTaint}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := proto.Clone(tt.pool)
			got := Made(tt.pool, tt.was, tt.others)
			if !proto.Equal(before, tt.pool) {
				t.Error("Made changed the pool it was given")
			}
			if !slices.EqualFunc(got.GetConfig().GetTaints(), tt.want, func(a, b *containerpb.NodeTaint) bool { return proto.Equal(a, b) }) {
				t.Errorf("taints %v, want %v", got.GetConfig().GetTaints(), tt.want)
			}
			shape, err := Of(got, "us-west1", "us-west1-a")
			if err != nil {
				t.Fatal(err)
			}
			if tainted := slices.ContainsFunc(shape.Taints, func(x corev1.Taint) bool { return x == GPUTaint }); tainted != slices.ContainsFunc(tt.want, isGPUTaint) {
				t.Errorf("node taints %v, want GKE's GPU taint %t", shape.Taints, !tainted)
			}
		})
	}
}
