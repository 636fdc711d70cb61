package catalog

import (
	"slices"
	"strings"
	"testing"
)

func TestLookupMachine(t *testing.T) {
	const gib = 1024
	tests := []struct {
		name string
		want Machine
	}{
		{"e2-standard-8", Machine{Family: "e2", VCPUs: 8, MemoryMiB: 32 * gib}},
		{"e2-highmem-16", Machine{Family: "e2", VCPUs: 16, MemoryMiB: 128 * gib}},
		{"e2-highcpu-32", Machine{Family: "e2", VCPUs: 32, MemoryMiB: 32 * gib}},
		{"e2-medium", Machine{Family: "e2", VCPUs: 2, MemoryMiB: 4 * gib}},
		{"e2-micro", Machine{Family: "e2", VCPUs: 2, MemoryMiB: 1 * gib}},
		{"n1-standard-1", Machine{Family: "n1", VCPUs: 1, MemoryMiB: 3840}},
		{"n1-standard-96", Machine{Family: "n1", VCPUs: 96, MemoryMiB: 360 * gib}},
		{"n1-highmem-8", Machine{Family: "n1", VCPUs: 8, MemoryMiB: 52 * gib}},
		{"n1-highcpu-2", Machine{Family: "n1", VCPUs: 2, MemoryMiB: 1843}}, // 1.8 GiB, truncated as the Compute API does
		{"n2-standard-128", Machine{Family: "n2", VCPUs: 128, MemoryMiB: 512 * gib}},
		{"n2-highmem-96", Machine{Family: "n2", VCPUs: 96, MemoryMiB: 768 * gib}},
		{"n2-highmem-128", Machine{Family: "n2", VCPUs: 128, MemoryMiB: 864 * gib}},
		{"n2-highcpu-16", Machine{Family: "n2", VCPUs: 16, MemoryMiB: 16 * gib}},
		{"n2d-standard-224", Machine{Family: "n2d", VCPUs: 224, MemoryMiB: 896 * gib}},
		{"c2-standard-30", Machine{Family: "c2", VCPUs: 30, MemoryMiB: 120 * gib}},
		{"c3-standard-22", Machine{Family: "c3", VCPUs: 22, MemoryMiB: 88 * gib}},
		{"c3-highmem-176", Machine{Family: "c3", VCPUs: 176, MemoryMiB: 1408 * gib}},
		{"t2d-standard-60", Machine{Family: "t2d", VCPUs: 60, MemoryMiB: 240 * gib}},
		{"a2-highgpu-1g", Machine{Family: "a2", VCPUs: 12, MemoryMiB: 85 * gib, GPUs: 1, GPUType: "nvidia-tesla-a100"}},
		{"a2-highgpu-8g", Machine{Family: "a2", VCPUs: 96, MemoryMiB: 680 * gib, GPUs: 8, GPUType: "nvidia-tesla-a100"}},
		{"a2-megagpu-16g", Machine{Family: "a2", VCPUs: 96, MemoryMiB: 1360 * gib, GPUs: 16, GPUType: "nvidia-tesla-a100"}},
		{"a2-ultragpu-2g", Machine{Family: "a2", VCPUs: 24, MemoryMiB: 340 * gib, GPUs: 2, GPUType: "nvidia-a100-80gb"}},
		{"a3-highgpu-8g", Machine{Family: "a3", VCPUs: 208, MemoryMiB: 1872 * gib, GPUs: 8, GPUType: "nvidia-h100-80gb"}},
		{"a3-megagpu-8g", Machine{Family: "a3", VCPUs: 208, MemoryMiB: 1872 * gib, GPUs: 8, GPUType: "nvidia-h100-mega-80gb"}},
		{"a3-ultragpu-8g", Machine{Family: "a3", VCPUs: 224, MemoryMiB: 2952 * gib, GPUs: 8, GPUType: "nvidia-h200-141gb"}},
		{"a4-highgpu-8g", Machine{Family: "a4", VCPUs: 224, MemoryMiB: 3968 * gib, GPUs: 8, GPUType: "nvidia-b200"}},
		{"g2-standard-8", Machine{Family: "g2", VCPUs: 8, MemoryMiB: 32 * gib, GPUs: 1, GPUType: "nvidia-l4"}},
		{"g2-standard-24", Machine{Family: "g2", VCPUs: 24, MemoryMiB: 96 * gib, GPUs: 2, GPUType: "nvidia-l4"}},
		{"g2-standard-96", Machine{Family: "g2", VCPUs: 96, MemoryMiB: 384 * gib, GPUs: 8, GPUType: "nvidia-l4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.Name = tt.name
			got, ok := LookupMachine(tt.name)
			if !ok || got != tt.want {
				t.Errorf("LookupMachine(%q) = %+v, %v; want %+v", tt.name, got, ok, tt.want)
			}
		})
	}
}

func TestLookupMachineUnknown(t *testing.T) {
	// Sizes GCP does not offer, typos, and case variants are all unknown.
	for _, name := range []string{"", "e2-highmem-32", "n2-highcpu-128", "a2-highgpu-16g", "a2-hihggpu-1g", "E2-STANDARD-8", "n1-standard-3"} {
		if m, ok := LookupMachine(name); ok {
			t.Errorf("LookupMachine(%q) = %+v, want unknown", name, m)
		}
	}
}

func TestMachinesInvariants(t *testing.T) {
	names := MachineNames()
	if !slices.IsSorted(names) {
		t.Error("MachineNames() not sorted")
	}
	if len(names) < 100 {
		t.Errorf("MachineNames() has %d entries, want the full families (>= 100)", len(names))
	}
	for _, name := range names {
		m, ok := LookupMachine(name)
		if !ok {
			t.Fatalf("LookupMachine(%q) from MachineNames() failed", name)
		}
		if m.Name != name || !strings.HasPrefix(name, m.Family+"-") {
			t.Errorf("%q: name/family mismatch %+v", name, m)
		}
		if m.VCPUs <= 0 || m.MemoryMiB <= 0 {
			t.Errorf("%q: non-positive resources %+v", name, m)
		}
		if (m.GPUs == 0) != (m.GPUType == "") {
			t.Errorf("%q: GPU count and type disagree %+v", name, m)
		}
		if m.GPUType != "" {
			if _, ok := LookupAccelerator(m.GPUType); !ok {
				t.Errorf("%q: GPU type %q not in accelerator catalogue", name, m.GPUType)
			}
		}
	}
}

func TestMemoryRatios(t *testing.T) {
	// Every size of a regular series has the series' memory per vCPU.
	ratios := map[string]float64{
		"e2-standard": 4, "e2-highmem": 8, "e2-highcpu": 1,
		"n1-standard": 3.75, "n1-highmem": 6.5, "n1-highcpu": 0.9,
		"n2-standard": 4, "n2-highcpu": 1, "n2d-standard": 4,
		"c2-standard": 4, "c3-standard": 4, "c3-highmem": 8, "c3-highcpu": 2,
		"t2d-standard": 4, "g2-standard": 4,
	}
	checked := 0
	for _, name := range MachineNames() {
		i := strings.LastIndex(name, "-")
		ratio, ok := ratios[name[:i]]
		if !ok {
			continue
		}
		m, _ := LookupMachine(name)
		want := int64(float64(m.VCPUs) * ratio * 1024)
		if m.MemoryMiB != want {
			t.Errorf("%s: %d MiB, want %d (%.2f GiB/vCPU)", name, m.MemoryMiB, want, ratio)
		}
		checked++
	}
	if checked < 80 {
		t.Errorf("checked only %d machines; ratio table out of step with the catalogue", checked)
	}
}

func TestAccelerators(t *testing.T) {
	want := map[string]int64{
		"nvidia-tesla-t4": 16, "nvidia-tesla-v100": 16, "nvidia-tesla-p100": 16,
		"nvidia-tesla-p4": 8, "nvidia-tesla-k80": 12, "nvidia-tesla-a100": 40,
		"nvidia-a100-80gb": 80, "nvidia-l4": 24, "nvidia-h100-80gb": 80,
		"nvidia-h100-mega-80gb": 80, "nvidia-h200-141gb": 141, "nvidia-b200": 180,
	}
	names := AcceleratorNames()
	if !slices.IsSorted(names) || len(names) != len(want) {
		t.Errorf("AcceleratorNames() = %v, want %d sorted names", names, len(want))
	}
	for name, mem := range want {
		a, ok := LookupAccelerator(name)
		if !ok || a.Name != name || a.MemoryGiB != mem {
			t.Errorf("LookupAccelerator(%q) = %+v, %v; want %d GiB", name, a, ok, mem)
		}
	}
	for _, name := range []string{"", "nvidia-a100", "NVIDIA-L4", "nvidia-tesla-l4"} {
		if _, ok := LookupAccelerator(name); ok {
			t.Errorf("LookupAccelerator(%q) ok, want unknown", name)
		}
	}
}

func TestNamesReturnCopies(t *testing.T) {
	MachineNames()[0] = "mutated"
	AcceleratorNames()[0] = "mutated"
	RegionNames()[0] = "mutated"
	if MachineNames()[0] == "mutated" || AcceleratorNames()[0] == "mutated" || RegionNames()[0] == "mutated" {
		t.Fatal("mutating a names slice changed the catalogue")
	}
}
