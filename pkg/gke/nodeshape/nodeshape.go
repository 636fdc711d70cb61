// Package nodeshape is what one node of a GKE node pool looks like to the
// scheduler once GKE registers it: its allocatable resources, labels and
// taints, worked out from the pool's config before the node exists.
//
// Package gke offers it as gke.NodeShape. It is a package of its own so
// that the lab's GKE emulator, which package gke's tests run against, can
// make its nodes by the same rule without an import cycle.
package nodeshape

import (
	"fmt"
	"maps"
	"slices"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/geofed-io/kubectl-geofed/pkg/capacity"
	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
)

// GKE's defaults for the node pool fields that size a node, where a
// request leaves them empty.
const (
	DefaultMachineType    = "e2-medium"
	DefaultDiskSizeGb     = 100
	DefaultMaxPodsPerNode = 110
)

// What GKE gives GPU nodes: the resource NVIDIA's device plugin offers the
// GPUs as, the taint that keeps pods which ask for none off them, and the
// label naming the accelerator.
const (
	GPUResource      corev1.ResourceName = "nvidia.com/gpu"
	GPUTaintKey                          = "nvidia.com/gpu"
	LabelAccelerator                     = "cloud.google.com/gke-accelerator"
)

// GPUTaint is the taint GKE gives the nodes of some GPU pools (see Made) so
// that pods which ask for no GPU stay off them.
var GPUTaint = corev1.Taint{Key: GPUTaintKey, Value: "present", Effect: corev1.TaintEffectNoSchedule}

// LabelNodePool is the label GKE puts on every node of a pool, naming it.
const LabelNodePool = "cloud.google.com/gke-nodepool"

// The other labels GKE sets on every node of a pool, beside Kubernetes'
// well-known ones.
const (
	labelMachineFamily = "cloud.google.com/machine-family"
	labelSpot          = "cloud.google.com/gke-spot"
	labelPreemptible   = "cloud.google.com/gke-preemptible"
)

// Of is one node of pool as GKE registers it, in zone of region.
//
// It is what the scheduler sees of a node that does not exist yet (a pool
// that can still grow, a cluster not created), so that plan can count
// replicas on it as it counts them on live nodes; the lab's GKE emulator
// makes its nodes from it, so that the two counts agree there. pool is as
// GKE records it: a pool not made yet is first passed through Made.
//
// Allocatable is the machine's vCPUs and memory less what GKE reserves
// (reservedMilliCPU, reservedMemoryMiB), pool.MaxPodsConstraint's pod slots
// (GKE's default 110), the boot disk as ephemeral storage, and the GPUs.
// Labels are the pool's configured ones under those GKE sets, which win as
// GKE refuses to configure them. Taints are the pool's, among which GKE
// records its GPU taint on the pools it gave it (see Made). Empty machine
// type, disk size and pod limit get GKE's defaults; an unknown machine type
// is an error.
func Of(pool *containerpb.NodePool, region, zone string) (capacity.NodeShape, error) {
	cfg := pool.GetConfig()
	name := cfg.GetMachineType()
	if name == "" {
		name = DefaultMachineType
	}
	m, ok := catalog.LookupMachine(name)
	if !ok {
		hint := ""
		if s := catalog.Suggest(name, catalog.MachineNames()); s != "" {
			hint = fmt.Sprintf(" (did you mean %q?)", s)
		}
		return capacity.NodeShape{}, fmt.Errorf("unknown machine type %q%s", name, hint)
	}
	gpus, gpuType := gpusOf(m, cfg)
	disk := int64(cfg.GetDiskSizeGb())
	if disk == 0 {
		disk = DefaultDiskSizeGb
	}
	pods := pool.GetMaxPodsConstraint().GetMaxPodsPerNode()
	if pods == 0 {
		pods = DefaultMaxPodsPerNode
	}

	alloc := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(m.VCPUs*1000-reservedMilliCPU(m.VCPUs), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity((m.MemoryMiB-reservedMemoryMiB(m.MemoryMiB))<<20, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(pods, resource.DecimalSI),
		// GKE reserves part of the boot disk as well, by a rule that
		// depends on the node image; the whole disk is counted here.
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(disk<<30, resource.BinarySI),
	}
	labels := maps.Clone(cfg.GetLabels())
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelNodePool] = pool.GetName()
	labels[labelMachineFamily] = m.Family
	labels[corev1.LabelInstanceTypeStable] = m.Name
	labels[corev1.LabelTopologyRegion] = region
	labels[corev1.LabelTopologyZone] = zone
	labels[corev1.LabelOSStable] = "linux"
	// GKE's Arm machine types (t2a, c4a) are not in the catalogue, so every
	// node it can size is amd64.
	labels[corev1.LabelArchStable] = "amd64"
	var taints []corev1.Taint
	if gpus > 0 {
		alloc[GPUResource] = *resource.NewQuantity(gpus, resource.DecimalSI)
		labels[LabelAccelerator] = gpuType
	}
	if cfg.GetSpot() {
		labels[labelSpot] = "true"
	}
	if cfg.GetPreemptible() {
		labels[labelPreemptible] = "true"
	}
	for _, t := range cfg.GetTaints() {
		taints = append(taints, corev1.Taint{Key: t.GetKey(), Value: t.GetValue(), Effect: taintEffects[t.GetEffect()]})
	}
	return capacity.NodeShape{Allocatable: alloc, Labels: labels, Taints: taints}, nil
}

// gpusOf is how many GPUs, of which type, a node of machine m configured by
// cfg has. Machine types with built-in GPUs (a2, a3, a4, g2) have them
// whether or not the pool lists accelerators, and listing them again adds
// none; other machines get the listed accelerators attached, only the
// first listed counting. Which combinations GKE accepts is not checked
// here; topology validation and the lab's emulator check them by package
// catalog's rules.
func gpusOf(m catalog.Machine, cfg *containerpb.NodeConfig) (int64, string) {
	gpus, gpuType := m.GPUs, m.GPUType
	if accs := cfg.GetAccelerators(); gpus == 0 && len(accs) > 0 {
		gpus, gpuType = accs[0].GetAcceleratorCount(), accs[0].GetAcceleratorType()
	}
	return gpus, gpuType
}

// HasGPUs reports whether the nodes of pool have GPUs. A machine type the
// catalogue does not know counts by its listed accelerators alone.
func HasGPUs(pool *containerpb.NodePool) bool {
	cfg := pool.GetConfig()
	name := cfg.GetMachineType()
	if name == "" {
		name = DefaultMachineType
	}
	m, _ := catalog.LookupMachine(name)
	gpus, _ := gpusOf(m, cfg)
	return gpus > 0
}

// Made is pool as GKE records it once it has made it, with GKE's GPU
// taint in its config's taints or not; GKE's GetCluster reports the taint
// there (terraform-provider-google#19133 shows it read back from the API),
// and the pool's nodes, those the autoscaler adds later included, carry
// what the pool records. was is the pool before an update that changed
// its machine or accelerators, nil when GKE creates the pool; others are
// the cluster's other node pools at that moment (for a cluster being
// created, the other pools of its request). pool itself is not changed.
//
// The rule is GKE's, from "Run GPUs in GKE Standard node pools"
// (https://cloud.google.com/kubernetes-engine/docs/how-to/gpus, "Restrict
// scheduling with node taints" and the note under "Create a GPU node
// pool", quoted in terraform-google-modules/terraform-google-kubernetes-
// engine#703): GKE adds nvidia.com/gpu=present:NoSchedule to a GPU pool
// only if the cluster has at least one node pool without GPUs when the
// pool is created; a GPU pool added to a cluster whose pools all have
// GPUs, or the GPU default pool of a new cluster, gets none; and the taint
// is not added to existing GPU nodes when a pool without GPUs is added
// afterwards. So the decision is taken once, when the pool is made, and
// removing the cluster's last pool without GPUs later takes nothing away
// either. Where GKE's documentation says nothing, an update that changes a
// pool's machine or accelerators follows the same rule: a pool that loses
// its GPUs loses the taint, one that gains them is judged as if created
// then beside others, one that keeps them keeps what it had.
func Made(pool, was *containerpb.NodePool, others []*containerpb.NodePool) *containerpb.NodePool {
	out := proto.Clone(pool).(*containerpb.NodePool)
	if out.Config == nil {
		out.Config = &containerpb.NodeConfig{}
	}
	var taint bool
	switch {
	case !HasGPUs(pool):
	case was != nil && HasGPUs(was):
		taint = hasGPUTaint(was)
	default:
		taint = slices.ContainsFunc(others, func(o *containerpb.NodePool) bool { return !HasGPUs(o) })
	}
	out.Config.Taints = slices.DeleteFunc(out.Config.Taints, isGPUTaint)
	if taint {
		out.Config.Taints = append(out.Config.Taints, &containerpb.NodeTaint{
			Key: GPUTaint.Key, Value: GPUTaint.Value, Effect: containerpb.NodeTaint_NO_SCHEDULE,
		})
	}
	return out
}

func isGPUTaint(t *containerpb.NodeTaint) bool {
	return t.GetKey() == GPUTaint.Key && t.GetValue() == GPUTaint.Value && t.GetEffect() == containerpb.NodeTaint_NO_SCHEDULE
}

func hasGPUTaint(p *containerpb.NodePool) bool {
	return slices.ContainsFunc(p.GetConfig().GetTaints(), isGPUTaint)
}

var taintEffects = map[containerpb.NodeTaint_Effect]corev1.TaintEffect{
	containerpb.NodeTaint_NO_SCHEDULE:        corev1.TaintEffectNoSchedule,
	containerpb.NodeTaint_PREFER_NO_SCHEDULE: corev1.TaintEffectPreferNoSchedule,
	containerpb.NodeTaint_NO_EXECUTE:         corev1.TaintEffectNoExecute,
}

// GKE's node reservations, from "Node allocatable resources" in GKE's "Plan
// GKE Standard node sizes" (cloud.google.com/kubernetes-engine/docs/concepts/
// plan-node-sizes#memory_and_cpu_reservations). The copy of that page that
// could be consulted shows only its opening, so the figures could not be
// read there; they agree with pages that quote it
// (learnk8s.io/allocatable-resources, MetalK8s' get_kubereserved, the
// memory calculator of
// github.com/hatemosphere/gke-node-allocatable-memory-calculator). GKE does
// not say how it rounds; rounding up keeps a shape from offering more than
// the node will. Not modelled: the memory the kernel keeps, which makes a
// GKE node's capacity a little less than its machine's, and whatever GKE
// reserves differently on shared-core E2 machines.
const (
	// evictionMiB is the kubelet's hard-eviction threshold, which GKE
	// reserves beside the rest.
	evictionMiB = 100
	// tinyMachineMiB is reserved instead of the tiers on machines under
	// 1 GiB.
	tinyMachineMiB = 255
)

// memoryTiers are GKE's memory reservation: pct percent of the next mib MiB,
// in order; the last tier takes the rest.
var memoryTiers = []struct{ mib, pct int64 }{
	{4 << 10, 25},
	{4 << 10, 20},
	{8 << 10, 10},
	{112 << 10, 6},
	{-1, 2}, // above 128 GiB
}

// cpuTiers are GKE's CPU reservation: perTenThousand ten-thousandths of
// the next cores, in order; the last tier takes the rest.
var cpuTiers = []struct{ cores, perTenThousand int64 }{
	{1, 600}, // 6% of the first core
	{1, 100}, // 1% of the next
	{2, 50},  // 0.5% of the next two
	{-1, 25}, // 0.25% above four
}

// reservedMilliCPU is the CPU GKE keeps from pods on a machine of vcpus,
// rounded up to a whole millicore so that a shape never offers more than
// the node will.
func reservedMilliCPU(vcpus int64) int64 {
	var r int64 // in ten-thousandths of a millicore
	left := vcpus
	for _, t := range cpuTiers {
		n := left
		if t.cores >= 0 {
			n = min(left, t.cores)
		}
		r += n * 1000 * t.perTenThousand
		left -= n
	}
	return ceilDiv(r, 10000)
}

// reservedMemoryMiB is the memory GKE keeps from pods on a machine of
// memMiB, eviction threshold included, rounded up to a whole MiB.
func reservedMemoryMiB(memMiB int64) int64 {
	if memMiB < 1<<10 {
		return tinyMachineMiB + evictionMiB
	}
	var r int64 // in hundredths of a MiB
	left := memMiB
	for _, t := range memoryTiers {
		n := left
		if t.mib >= 0 {
			n = min(left, t.mib)
		}
		r += n * t.pct
		left -= n
	}
	return ceilDiv(r, 100) + evictionMiB
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
