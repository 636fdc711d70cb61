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

	"cloud.google.com/go/container/apiv1/containerpb"
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
// makes its nodes from it, so that the two counts agree there.
//
// Allocatable is the machine's vCPUs and memory less what GKE reserves
// (reservedMilliCPU, reservedMemoryMiB), pool.MaxPodsConstraint's pod slots
// (GKE's default 110), the boot disk as ephemeral storage, and the GPUs.
// Labels are the pool's configured ones under those GKE sets, which win as
// GKE refuses to configure them. Taints are GKE's GPU taint on GPU nodes and
// the pool's own. Empty machine type, disk size and pod limit get GKE's
// defaults; an unknown machine type is an error.
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
	// Machine types with built-in GPUs (a2, a3, a4, g2) have them whether
	// or not the pool lists accelerators, and listing them again adds none;
	// other machines get the listed accelerators attached, only the first
	// listed counting. Which combinations GKE accepts is not checked here;
	// topology validation and the lab's emulator check them by package
	// catalog's rules.
	gpus, gpuType := m.GPUs, m.GPUType
	if accs := cfg.GetAccelerators(); gpus == 0 && len(accs) > 0 {
		gpus, gpuType = accs[0].GetAcceleratorCount(), accs[0].GetAcceleratorType()
	}
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
		taints = append(taints, corev1.Taint{Key: GPUTaintKey, Value: "present", Effect: corev1.TaintEffectNoSchedule})
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
