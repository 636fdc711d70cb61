package catalog

import "sort"

// Accelerator is a GKE accelerator (GPU) type.
type Accelerator struct {
	Name      string // "nvidia-tesla-a100", "nvidia-l4", ...
	MemoryGiB int64  // memory of one GPU
}

// accelerators lists GKE's accelerator type names with per-GPU memory.
// The K80 board carries two 12 GiB GPUs; GKE schedules each as one GPU.
var accelerators = map[string]Accelerator{
	"nvidia-tesla-k80":      {Name: "nvidia-tesla-k80", MemoryGiB: 12},
	"nvidia-tesla-p4":       {Name: "nvidia-tesla-p4", MemoryGiB: 8},
	"nvidia-tesla-p100":     {Name: "nvidia-tesla-p100", MemoryGiB: 16},
	"nvidia-tesla-v100":     {Name: "nvidia-tesla-v100", MemoryGiB: 16},
	"nvidia-tesla-t4":       {Name: "nvidia-tesla-t4", MemoryGiB: 16},
	"nvidia-l4":             {Name: "nvidia-l4", MemoryGiB: 24},
	"nvidia-tesla-a100":     {Name: "nvidia-tesla-a100", MemoryGiB: 40},
	"nvidia-a100-80gb":      {Name: "nvidia-a100-80gb", MemoryGiB: 80},
	"nvidia-h100-80gb":      {Name: "nvidia-h100-80gb", MemoryGiB: 80},
	"nvidia-h100-mega-80gb": {Name: "nvidia-h100-mega-80gb", MemoryGiB: 80},
	"nvidia-h200-141gb":     {Name: "nvidia-h200-141gb", MemoryGiB: 141},
	"nvidia-b200":           {Name: "nvidia-b200", MemoryGiB: 180},
}

// LookupAccelerator returns the accelerator type called name.
func LookupAccelerator(name string) (Accelerator, bool) {
	a, ok := accelerators[name]
	return a, ok
}

// AcceleratorNames returns every catalogued accelerator type name, sorted.
func AcceleratorNames() []string {
	out := make([]string, 0, len(accelerators))
	for name := range accelerators {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
