package gke

import (
	"slices"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/geofed-io/kubectl-geofed/pkg/capacity"
)

// labels are the labels GKE sets on every node of pool in us-west1-a, plus
// extra.
func labels(pool, family, machine string, extra ...string) map[string]string {
	l := map[string]string{
		"cloud.google.com/gke-nodepool":    pool,
		"cloud.google.com/machine-family":  family,
		"node.kubernetes.io/instance-type": machine,
		"topology.kubernetes.io/region":    "us-west1",
		"topology.kubernetes.io/zone":      "us-west1-a",
		"kubernetes.io/os":                 "linux",
		"kubernetes.io/arch":               "amd64",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return l
}

func alloc(cpu, memory, pods, storage string, gpus int64) corev1.ResourceList {
	l := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse(cpu),
		corev1.ResourceMemory:           resource.MustParse(memory),
		corev1.ResourcePods:             resource.MustParse(pods),
		corev1.ResourceEphemeralStorage: resource.MustParse(storage),
	}
	if gpus > 0 {
		l[GPUResource] = *resource.NewQuantity(gpus, resource.DecimalSI)
	}
	return l
}

var (
	gpuTaint   = corev1.Taint{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoSchedule}
	gpuTaintPB = &containerpb.NodeTaint{Key: "nvidia.com/gpu", Value: "present", Effect: containerpb.NodeTaint_NO_SCHEDULE}
)

// The allocatable figures below are worked out by hand from GKE's rule:
//
//	CPU:    6% of core 1 (60m), 1% of core 2 (10m), 0.5% of cores 3-4 (10m),
//	        0.25% of each core above 4 (2.5m), rounded up.
//	memory: 25% of the first 4 GiB (1024 MiB), 20% of the next 4 (819.2),
//	        10% of the next 8 (819.2), 6% of the next 112, 2% above 128 GiB,
//	        rounded up, plus 100 MiB for eviction.
func TestNodeShape(t *testing.T) {
	tests := []struct {
		name string
		pool *containerpb.NodePool
		want capacity.NodeShape
		err  string
	}{{
		// 12 vCPUs: 80m + 8 × 2.5m = 100m reserved → 11900m.
		// 85 GiB = 87040 MiB: 2662.4 + 6% × (87040 − 16384) = 2662.4 +
		// 4239.36 = 6901.76 → 6902 + 100 = 7002 reserved → 80038 MiB.
		// The A100 is built in: listing it again adds none.
		// GKE recorded its GPU taint on the pool.
		name: "a2-highgpu-1g",
		pool: &containerpb.NodePool{Name: "a100", Config: &containerpb.NodeConfig{
			MachineType:  "a2-highgpu-1g",
			Accelerators: []*containerpb.AcceleratorConfig{{AcceleratorType: "nvidia-tesla-a100", AcceleratorCount: 1}},
			Taints:       []*containerpb.NodeTaint{gpuTaintPB},
		}},
		want: capacity.NodeShape{
			Allocatable: alloc("11900m", "80038Mi", "110", "100Gi", 1),
			Labels:      labels("a100", "a2", "a2-highgpu-1g", "cloud.google.com/gke-accelerator", "nvidia-tesla-a100"),
			Taints:      []corev1.Taint{gpuTaint},
		},
	}, {
		// 8 vCPUs: 80m + 4 × 2.5m = 90m → 7910m.
		// 30 GiB = 30720 MiB: 2662.4 + 6% × 14336 = 2662.4 + 860.16 =
		// 3522.56 → 3523 + 100 = 3623 → 27097 MiB.
		// GKE gave the pool no GPU taint (a cluster of GPU pools only).
		name: "n1-standard-8 with two T4s",
		pool: &containerpb.NodePool{Name: "t4", Config: &containerpb.NodeConfig{
			MachineType:  "n1-standard-8",
			Accelerators: []*containerpb.AcceleratorConfig{{AcceleratorType: "nvidia-tesla-t4", AcceleratorCount: 2}},
		}},
		want: capacity.NodeShape{
			Allocatable: alloc("7910m", "27097Mi", "110", "100Gi", 2),
			Labels:      labels("t4", "n1", "n1-standard-8", "cloud.google.com/gke-accelerator", "nvidia-tesla-t4"),
		},
	}, {
		// 8 vCPUs → 7910m. 32 GiB = 32768 MiB: 2662.4 + 6% × 16384 =
		// 2662.4 + 983.04 = 3645.44 → 3646 + 100 = 3746 → 29022 MiB.
		name: "e2-standard-8",
		pool: &containerpb.NodePool{Name: "cpu", Config: &containerpb.NodeConfig{MachineType: "e2-standard-8"}},
		want: capacity.NodeShape{
			Allocatable: alloc("7910m", "29022Mi", "110", "100Gi", 0),
			Labels:      labels("cpu", "e2", "e2-standard-8"),
		},
	}, {
		// 4 vCPUs: 80m → 3920m. 16 GiB: 2662.4 → 2663 + 100 = 2763 →
		// 13621 MiB. Configured labels stay unless GKE sets the key.
		name: "spot pool with taints and labels",
		pool: &containerpb.NodePool{Name: "batch", Config: &containerpb.NodeConfig{
			MachineType: "e2-standard-4",
			Spot:        true,
			Labels:      map[string]string{"team": "ml", "cloud.google.com/gke-nodepool": "not-this"},
			Taints: []*containerpb.NodeTaint{
				{Key: "dedicated", Value: "ml", Effect: containerpb.NodeTaint_NO_SCHEDULE},
				{Key: "cheap", Effect: containerpb.NodeTaint_PREFER_NO_SCHEDULE},
				{Key: "drain", Value: "soon", Effect: containerpb.NodeTaint_NO_EXECUTE},
			},
		}},
		want: capacity.NodeShape{
			Allocatable: alloc("3920m", "13621Mi", "110", "100Gi", 0),
			Labels:      labels("batch", "e2", "e2-standard-4", "team", "ml", "cloud.google.com/gke-spot", "true"),
			Taints: []corev1.Taint{
				{Key: "dedicated", Value: "ml", Effect: corev1.TaintEffectNoSchedule},
				{Key: "cheap", Effect: corev1.TaintEffectPreferNoSchedule},
				{Key: "drain", Value: "soon", Effect: corev1.TaintEffectNoExecute},
			},
		},
	}, {
		// A preemptible GPU pool: taints in the order the pool records.
		name: "preemptible g2 with a taint",
		pool: &containerpb.NodePool{Name: "l4", Config: &containerpb.NodeConfig{
			MachineType: "g2-standard-8",
			Preemptible: true,
			Taints:      []*containerpb.NodeTaint{gpuTaintPB, {Key: "dedicated", Value: "infer", Effect: containerpb.NodeTaint_NO_SCHEDULE}},
		}},
		want: capacity.NodeShape{
			// 8 vCPUs → 7910m; 32 GiB → 29022 MiB, as e2-standard-8.
			Allocatable: alloc("7910m", "29022Mi", "110", "100Gi", 1),
			Labels: labels("l4", "g2", "g2-standard-8",
				"cloud.google.com/gke-accelerator", "nvidia-l4", "cloud.google.com/gke-preemptible", "true"),
			Taints: []corev1.Taint{gpuTaint, {Key: "dedicated", Value: "infer", Effect: corev1.TaintEffectNoSchedule}},
		},
	}, {
		// GKE's defaults: e2-medium, 2 vCPUs: 70m → 1930m; 4 GiB: 1024 +
		// 100 → 2972 MiB.
		name: "defaults",
		pool: &containerpb.NodePool{Name: "default-pool"},
		want: capacity.NodeShape{
			Allocatable: alloc("1930m", "2972Mi", "110", "100Gi", 0),
			Labels:      labels("default-pool", "e2", "e2-medium"),
		},
	}, {
		name: "max pods and disk size",
		pool: &containerpb.NodePool{
			Name:              "dense",
			Config:            &containerpb.NodeConfig{MachineType: "e2-standard-8", DiskSizeGb: 50},
			MaxPodsConstraint: &containerpb.MaxPodsConstraint{MaxPodsPerNode: 32},
		},
		want: capacity.NodeShape{
			Allocatable: alloc("7910m", "29022Mi", "32", "50Gi", 0),
			Labels:      labels("dense", "e2", "e2-standard-8"),
		},
	}, {
		// 208 vCPUs: 80m + 204 × 2.5m = 590m → 207410m.
		// 1872 GiB = 1916928 MiB: 2662.4 + 6% × 114688 (6881.28) + 2% ×
		// (1916928 − 131072) (35717.12) = 45260.8 → 45261 + 100 = 45361 →
		// 1871567 MiB.
		name: "a3-highgpu-8g, above 128 GiB",
		pool: &containerpb.NodePool{Name: "h100", Config: &containerpb.NodeConfig{MachineType: "a3-highgpu-8g", Taints: []*containerpb.NodeTaint{gpuTaintPB}}},
		want: capacity.NodeShape{
			Allocatable: alloc("207410m", "1871567Mi", "110", "100Gi", 8),
			Labels:      labels("h100", "a3", "a3-highgpu-8g", "cloud.google.com/gke-accelerator", "nvidia-h100-80gb"),
			Taints:      []corev1.Taint{gpuTaint},
		},
	}, {
		name: "unknown machine type",
		pool: &containerpb.NodePool{Name: "a100", Config: &containerpb.NodeConfig{MachineType: "a2-hihggpu-1g"}},
		err:  `unknown machine type "a2-hihggpu-1g" (did you mean "a2-highgpu-1g"?)`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NodeShape(tt.pool, "us-west1", "us-west1-a")
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })); diff != "" {
				t.Errorf("shape (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNodeShapeOwnsNothing checks that the shape shares no map with the
// pool, so a caller may change either.
func TestNodeShapeOwnsNothing(t *testing.T) {
	pool := &containerpb.NodePool{Name: "p", Config: &containerpb.NodeConfig{Labels: map[string]string{"team": "ml"}}}
	shape, err := NodeShape(pool, "us-west1", "us-west1-a")
	if err != nil {
		t.Fatal(err)
	}
	shape.Labels["team"] = "changed"
	if pool.Config.Labels["team"] != "ml" {
		t.Error("changing the shape's labels changed the pool's")
	}
}

// TestMadePools checks that GKE's GPU taint is decided against the pools
// the cluster has when apply makes each pool, in apply's order.
func TestMadePools(t *testing.T) {
	cpu := func(name string) *containerpb.NodePool {
		return &containerpb.NodePool{Name: name, Config: &containerpb.NodeConfig{MachineType: "e2-standard-4"}}
	}
	t4 := func(name string, taints ...*containerpb.NodeTaint) *containerpb.NodePool {
		return &containerpb.NodePool{Name: name, Config: &containerpb.NodeConfig{
			MachineType:  "n1-standard-4",
			Accelerators: []*containerpb.AcceleratorConfig{{AcceleratorType: "nvidia-tesla-t4", AcceleratorCount: 1}},
			Taints:       taints,
		}}
	}
	l4 := func(name string, taints ...*containerpb.NodeTaint) *containerpb.NodePool {
		return &containerpb.NodePool{Name: name, Config: &containerpb.NodeConfig{MachineType: "g2-standard-8", Taints: taints}}
	}
	spot := func(p *containerpb.NodePool) *containerpb.NodePool { p.Config.Spot = true; return p }
	cluster := func(pools ...*containerpb.NodePool) *containerpb.Cluster {
		return &containerpb.Cluster{NodePools: pools}
	}
	tests := []struct {
		name          string
		desired, live *containerpb.Cluster
		tainted       []string // the pools made with GKE's GPU taint
	}{
		{name: "new cluster, one T4 pool", desired: cluster(t4("gpu"))},
		{name: "new cluster, GPU pools only", desired: cluster(t4("gpu"), l4("l4"))},
		{name: "new cluster, a CPU pool beside", desired: cluster(cpu("cpu"), t4("gpu")), tainted: []string{"gpu"}},
		{name: "a GPU pool added beside a CPU pool", desired: cluster(cpu("cpu"), t4("gpu")), live: cluster(cpu("cpu")), tainted: []string{"gpu"}},
		{name: "a CPU pool added to a GPU-only cluster taints nothing there", desired: cluster(t4("gpu"), cpu("cpu")), live: cluster(t4("gpu"))},
		{name: "a live pool keeps the taint GKE gave it when the CPU pool goes", desired: cluster(t4("gpu")), live: cluster(cpu("cpu"), t4("gpu", gpuTaintPB)), tainted: []string{"gpu"}},
		// New pools are created by name: "a-cpu" before "b-gpu", which
		// sees it; "a-gpu" before "b-cpu", which it does not.
		{name: "new pools in apply's order, CPU first", desired: cluster(l4("l4"), cpu("a-cpu"), t4("b-gpu")), live: cluster(l4("l4")), tainted: []string{"b-gpu"}},
		{name: "new pools in apply's order, GPU first", desired: cluster(l4("l4"), t4("a-gpu"), cpu("b-cpu")), live: cluster(l4("l4"))},
		// A replacement is created beside the pool it replaces.
		{name: "a CPU pool replaced by a GPU one sees the old CPU pool", desired: cluster(spot(t4("pool"))), live: cluster(cpu("pool")), tainted: []string{"pool"}},
		{name: "a replaced GPU pool in a GPU-only cluster", desired: cluster(spot(t4("pool"))), live: cluster(t4("pool"))},
		// Changed in place: machine change keeps GPUs, keeps the state.
		{name: "machine changed in place keeps no taint", desired: cluster(cpu("cpu"), l4("gpu")), live: cluster(cpu("cpu"), t4("gpu"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			made := MadePools(tt.desired, tt.live)
			var got []string
			for _, p := range tt.desired.GetNodePools() {
				m := made[p.GetName()]
				if m == nil {
					t.Fatalf("no pool made for %s", p.GetName())
				}
				if m.GetConfig().GetMachineType() != p.GetConfig().GetMachineType() {
					t.Errorf("pool %s made as %s, want the topology's %s", p.GetName(), m.GetConfig().GetMachineType(), p.GetConfig().GetMachineType())
				}
				shape, err := NodeShape(m, "us-west1", "us-west1-a")
				if err != nil {
					t.Fatal(err)
				}
				if slices.Contains(shape.Taints, gpuTaint) {
					got = append(got, p.GetName())
				}
			}
			if !slices.Equal(got, tt.tainted) {
				t.Errorf("tainted %v, want %v", got, tt.tainted)
			}
		})
	}
}
