package catalog

import (
	"sort"
	"strconv"
	"strings"
)

// Machine is a Compute Engine machine type as GKE node pools use it.
type Machine struct {
	Name      string // "a2-highgpu-1g"
	Family    string // "a2"
	VCPUs     int64
	MemoryMiB int64
	GPUs      int64  // GPUs built in (a2/a3/a4/g2 families), 0 otherwise
	GPUType   string // accelerator type of the built-in GPUs, e.g. "nvidia-tesla-a100", "" if none
}

// series is a regular machine series: every size has the same memory per
// vCPU, so the table only needs the sizes. GCP's "GB" in machine specs is
// GiB, hence MiB = vCPUs × gibPerVCPU × 1024 (truncated, as the Compute API
// reports n1-highcpu-2 as 1843 MiB).
type series struct {
	prefix     string // "n2-highmem"
	gibPerVCPU float64
	vcpus      []int64
}

var regularSeries = []series{
	{"e2-standard", 4, []int64{2, 4, 8, 16, 32}},
	{"e2-highmem", 8, []int64{2, 4, 8, 16}},
	{"e2-highcpu", 1, []int64{2, 4, 8, 16, 32}},
	{"n1-standard", 3.75, []int64{1, 2, 4, 8, 16, 32, 64, 96}},
	{"n1-highmem", 6.5, []int64{2, 4, 8, 16, 32, 64, 96}},
	{"n1-highcpu", 0.9, []int64{2, 4, 8, 16, 32, 64, 96}},
	{"n2-standard", 4, []int64{2, 4, 8, 16, 32, 48, 64, 80, 96, 128}},
	// n2-highmem-128 breaks the 8 GiB/vCPU ratio (864 GiB); it is listed
	// among the irregular machines below.
	{"n2-highmem", 8, []int64{2, 4, 8, 16, 32, 48, 64, 80, 96}},
	{"n2-highcpu", 1, []int64{2, 4, 8, 16, 32, 48, 64, 80, 96}},
	{"n2d-standard", 4, []int64{2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224}},
	{"n2d-highmem", 8, []int64{2, 4, 8, 16, 32, 48, 64, 80, 96}},
	{"n2d-highcpu", 1, []int64{2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224}},
	{"c2-standard", 4, []int64{4, 8, 16, 30, 60}},
	{"c2d-standard", 4, []int64{2, 4, 8, 16, 32, 56, 112}},
	{"c3-standard", 4, []int64{4, 8, 22, 44, 88, 176}},
	{"c3-highmem", 8, []int64{4, 8, 22, 44, 88, 176}},
	{"c3-highcpu", 2, []int64{4, 8, 22, 44, 88, 176}},
	{"t2d-standard", 4, []int64{1, 2, 4, 8, 16, 32, 48, 60}},
}

// irregularMachines do not follow a fixed ratio: shared-core types and the
// GPU families, whose shapes are fixed per GPU count.
var irregularMachines = []Machine{
	// Shared-core E2: 2 vCPUs that burst, a fraction sustained.
	{Name: "e2-micro", VCPUs: 2, MemoryMiB: 1 * 1024},
	{Name: "e2-small", VCPUs: 2, MemoryMiB: 2 * 1024},
	{Name: "e2-medium", VCPUs: 2, MemoryMiB: 4 * 1024},

	{Name: "n2-highmem-128", VCPUs: 128, MemoryMiB: 864 * 1024},

	// A2 standard: A100 40GB, 12 vCPU and 85 GiB per GPU.
	{Name: "a2-highgpu-1g", VCPUs: 12, MemoryMiB: 85 * 1024, GPUs: 1, GPUType: "nvidia-tesla-a100"},
	{Name: "a2-highgpu-2g", VCPUs: 24, MemoryMiB: 170 * 1024, GPUs: 2, GPUType: "nvidia-tesla-a100"},
	{Name: "a2-highgpu-4g", VCPUs: 48, MemoryMiB: 340 * 1024, GPUs: 4, GPUType: "nvidia-tesla-a100"},
	{Name: "a2-highgpu-8g", VCPUs: 96, MemoryMiB: 680 * 1024, GPUs: 8, GPUType: "nvidia-tesla-a100"},
	{Name: "a2-megagpu-16g", VCPUs: 96, MemoryMiB: 1360 * 1024, GPUs: 16, GPUType: "nvidia-tesla-a100"},

	// A2 ultra: A100 80GB, 12 vCPU and 170 GiB per GPU.
	{Name: "a2-ultragpu-1g", VCPUs: 12, MemoryMiB: 170 * 1024, GPUs: 1, GPUType: "nvidia-a100-80gb"},
	{Name: "a2-ultragpu-2g", VCPUs: 24, MemoryMiB: 340 * 1024, GPUs: 2, GPUType: "nvidia-a100-80gb"},
	{Name: "a2-ultragpu-4g", VCPUs: 48, MemoryMiB: 680 * 1024, GPUs: 4, GPUType: "nvidia-a100-80gb"},
	{Name: "a2-ultragpu-8g", VCPUs: 96, MemoryMiB: 1360 * 1024, GPUs: 8, GPUType: "nvidia-a100-80gb"},

	// A3: H100 80GB, 26 vCPU and 234 GiB per GPU; mega has the faster
	// GPUDirect-TCPXO networking and its own accelerator type.
	{Name: "a3-highgpu-1g", VCPUs: 26, MemoryMiB: 234 * 1024, GPUs: 1, GPUType: "nvidia-h100-80gb"},
	{Name: "a3-highgpu-2g", VCPUs: 52, MemoryMiB: 468 * 1024, GPUs: 2, GPUType: "nvidia-h100-80gb"},
	{Name: "a3-highgpu-4g", VCPUs: 104, MemoryMiB: 936 * 1024, GPUs: 4, GPUType: "nvidia-h100-80gb"},
	{Name: "a3-highgpu-8g", VCPUs: 208, MemoryMiB: 1872 * 1024, GPUs: 8, GPUType: "nvidia-h100-80gb"},
	{Name: "a3-megagpu-8g", VCPUs: 208, MemoryMiB: 1872 * 1024, GPUs: 8, GPUType: "nvidia-h100-mega-80gb"},
	{Name: "a3-ultragpu-8g", VCPUs: 224, MemoryMiB: 2952 * 1024, GPUs: 8, GPUType: "nvidia-h200-141gb"},

	// A4: B200.
	{Name: "a4-highgpu-8g", VCPUs: 224, MemoryMiB: 3968 * 1024, GPUs: 8, GPUType: "nvidia-b200"},

	// G2: L4, 4 GiB per vCPU; the GPU count does not grow linearly.
	{Name: "g2-standard-4", VCPUs: 4, MemoryMiB: 16 * 1024, GPUs: 1, GPUType: "nvidia-l4"},
	{Name: "g2-standard-8", VCPUs: 8, MemoryMiB: 32 * 1024, GPUs: 1, GPUType: "nvidia-l4"},
	{Name: "g2-standard-12", VCPUs: 12, MemoryMiB: 48 * 1024, GPUs: 1, GPUType: "nvidia-l4"},
	{Name: "g2-standard-16", VCPUs: 16, MemoryMiB: 64 * 1024, GPUs: 1, GPUType: "nvidia-l4"},
	{Name: "g2-standard-24", VCPUs: 24, MemoryMiB: 96 * 1024, GPUs: 2, GPUType: "nvidia-l4"},
	{Name: "g2-standard-32", VCPUs: 32, MemoryMiB: 128 * 1024, GPUs: 1, GPUType: "nvidia-l4"},
	{Name: "g2-standard-48", VCPUs: 48, MemoryMiB: 192 * 1024, GPUs: 4, GPUType: "nvidia-l4"},
	{Name: "g2-standard-96", VCPUs: 96, MemoryMiB: 384 * 1024, GPUs: 8, GPUType: "nvidia-l4"},
}

// machines indexes every machine type by name; built once from the tables.
var machines = buildMachines(regularSeries, irregularMachines)

func buildMachines(regular []series, irregular []Machine) map[string]Machine {
	out := make(map[string]Machine)
	for _, s := range regular {
		for _, n := range s.vcpus {
			m := Machine{
				Name:      s.prefix + "-" + strconv.FormatInt(n, 10),
				VCPUs:     n,
				MemoryMiB: int64(float64(n) * s.gibPerVCPU * 1024),
			}
			out[m.Name] = m
		}
	}
	for _, m := range irregular {
		out[m.Name] = m
	}
	for name, m := range out {
		// The family is the name up to the first dash: "n2d" in "n2d-highcpu-8".
		m.Family, _, _ = strings.Cut(name, "-")
		out[name] = m
	}
	return out
}

// LookupMachine returns the machine type called name.
func LookupMachine(name string) (Machine, bool) {
	m, ok := machines[name]
	return m, ok
}

// MachineNames returns every catalogued machine type name, sorted.
func MachineNames() []string {
	out := make([]string, 0, len(machines))
	for name := range machines {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
