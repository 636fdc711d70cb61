package catalog

import (
	"slices"
	"testing"
)

func TestCheckAccelerators(t *testing.T) {
	type want struct {
		index int
		field string
		err   string // AcceleratorError.Error(): Msg, then the reason
	}
	acc := func(typ string, n int64) []AcceleratorConfig { return []AcceleratorConfig{{Type: typ, Count: n}} }
	tests := []struct {
		name     string
		machine  string
		location string
		accs     []AcceleratorConfig
		want     []want
	}{
		// Accepted.
		{"no accelerators", "e2-standard-8", "us-west1-b", nil, nil},
		{"T4 on N1", "n1-standard-8", "us-west1-a", acc("nvidia-tesla-t4", 1), nil},
		{"4 T4s take 96 vCPUs", "n1-standard-96", "us-central1-f", acc("nvidia-tesla-t4", 4), nil},
		{"8 V100s", "n1-highmem-96", "us-central1-a", acc("nvidia-tesla-v100", 8), nil},
		{"P4 at its limit", "n1-highmem-16", "us-east4-a", acc("nvidia-tesla-p4", 1), nil},
		{"A100 listed on A2", "a2-highgpu-1g", "us-west1-b", acc("nvidia-tesla-a100", 1), nil},
		{"A2 listing nothing", "a2-highgpu-8g", "us-central1-c", nil, nil},
		{"L4 on G2", "g2-standard-24", "europe-west1-b", acc("nvidia-l4", 2), nil},
		{"regional: offered in one zone", "a2-highgpu-1g", "us-west1", acc("nvidia-tesla-a100", 1), nil},
		{"no location", "n1-standard-8", "", acc("nvidia-tesla-t4", 1), nil},
		{"H100 offering unknown", "a3-highgpu-8g", "europe-west9-a", acc("nvidia-h100-80gb", 8), nil},
		{"exception zone of 8 K80s", "n1-standard-64", "", acc("nvidia-tesla-k80", 8), nil},
		{"unknown machine: only the accelerators", "zz-nothing", "us-west1-a", acc("nvidia-tesla-t4", 1), nil},

		// Machine families.
		{"E2 takes no GPUs", "e2-standard-8", "us-west1-b", acc("nvidia-tesla-t4", 1), []want{{0, "type",
			"[e2-standard-8, nvidia-tesla-t4] features are not compatible for creating instance: only N1 machine types take attached GPUs; E2 machine types take none"}}},
		{"N2 takes no GPUs", "n2-standard-8", "us-central1-a", acc("nvidia-tesla-v100", 1), []want{{0, "type",
			"[n2-standard-8, nvidia-tesla-v100] features are not compatible for creating instance: only N1 machine types take attached GPUs; N2 machine types take none"}}},
		{"A100 is not attached to N1", "n1-highmem-8", "us-central1-a", acc("nvidia-tesla-a100", 1), []want{{0, "type",
			"[nvidia-tesla-a100, n1-highmem-8] features are not compatible for creating instance: nvidia-tesla-a100 comes only built into its own machine types: a2-highgpu-1g"}}},
		{"L4 is not attached to N1", "n1-standard-8", "us-west1-a", acc("nvidia-l4", 3), []want{{0, "type",
			"[nvidia-l4, n1-standard-8] features are not compatible for creating instance: nvidia-l4 comes only built into its own machine types: g2-standard-4, g2-standard-8, g2-standard-12, g2-standard-16, g2-standard-32, g2-standard-24, g2-standard-48, g2-standard-96"}}},
		{"built-in type mismatch", "a2-highgpu-1g", "us-west1-b", acc("nvidia-l4", 1), []want{{0, "type",
			`Machine type "a2-highgpu-1g" comes with 1 nvidia-tesla-a100 GPU(s) built in; the accelerator type must be "nvidia-tesla-a100", got "nvidia-l4".`}}},
		{"built-in count mismatch", "a2-highgpu-2g", "us-west1-b", acc("nvidia-tesla-a100", 1), []want{{0, "count",
			`Machine type "a2-highgpu-2g" comes with 2 nvidia-tesla-a100 GPU(s) built in; the accelerator count must be 2, got 1.`}}},

		// N1 counts and sizes.
		{"8 P100s", "n1-standard-8", "us-west1-a", acc("nvidia-tesla-p100", 8), []want{{0, "count",
			"Invalid value for field 'resource.guestAccelerators[0].acceleratorCount': '8'. Number of accelerator cards attached to an instance must be one of [1, 2, 4]."}}},
		{"3 V100s", "n1-standard-8", "us-west1-a", acc("nvidia-tesla-v100", 3), []want{{0, "count",
			"Invalid value for field 'resource.guestAccelerators[0].acceleratorCount': '3'. Number of accelerator cards attached to an instance must be one of [1, 2, 4, 8]."}}},
		{"16 vCPUs need 2 V100s", "n1-standard-16", "us-west1-a", acc("nvidia-tesla-v100", 1), []want{{0, "count",
			"Invalid value for field 'resource.guestAccelerators[0].acceleratorCount': '1'. At most 12 vCPUs can be used along with 1 accelerator cards in an instance: n1-standard-16 has 16 vCPUs and 60 GB, which takes 2 or more nvidia-tesla-v100 GPUs"}}},
		{"96 vCPUs need 4 T4s", "n1-standard-96", "us-west1-b", acc("nvidia-tesla-t4", 2), []want{{0, "count",
			"Invalid value for field 'resource.guestAccelerators[0].acceleratorCount': '2'. At most 48 vCPUs can be used along with 2 accelerator cards in an instance: n1-standard-96 has 96 vCPUs and 360 GB, which takes 4 or more nvidia-tesla-t4 GPUs"}}},
		{"memory of 8 K80s", "n1-standard-64", "us-central1-a", acc("nvidia-tesla-k80", 8), []want{
			{0, "count", "Invalid value for field 'resource.guestAccelerators[0].acceleratorCount': '8'. At most 208 GB of memory can be used along with 8 accelerator cards in an instance: n1-standard-64 has 64 vCPUs and 240 GB, more than any number of nvidia-tesla-k80 GPUs allows; use a smaller machine type"},
			{0, "type", `Accelerator type "nvidia-tesla-k80" does not exist in zone us-central1-a: none of the zones of us-central1 (us-central1-a, us-central1-b, us-central1-c, us-central1-f) offers it; no catalogued region has it`},
		}},
		{"one entry per pool", "n1-standard-16", "us-central1-a", []AcceleratorConfig{{"nvidia-tesla-t4", 1}, {"nvidia-tesla-v100", 2}}, []want{
			{1, "type", "Only one accelerator config per node pool is supported, got 2."},
		}},
		{"count not positive", "n1-standard-8", "us-west1-a", acc("nvidia-tesla-t4", 0), []want{
			{0, "count", `Accelerator count must be positive, got 0 for "nvidia-tesla-t4".`},
		}},

		// Where.
		{"not in the zone", "n1-standard-8", "us-west4-c", acc("nvidia-tesla-t4", 1), []want{{0, "type",
			`Accelerator type "nvidia-tesla-t4" does not exist in zone us-west4-c: us-west4 offers it only in us-west4-a, us-west4-b`}}},
		{"not in the region", "n1-standard-8", "europe-west9", acc("nvidia-tesla-t4", 1), []want{{0, "type",
			`Accelerator type "nvidia-tesla-t4" does not exist in any zone of region europe-west9: its zones are europe-west9-a, europe-west9-b, europe-west9-c; ` +
				"the nearest regions with it are europe-west1 (europe-west1-b, europe-west1-c, europe-west1-d), europe-west2 (europe-west2-a, europe-west2-b), europe-west3 (europe-west3-b)"}}},
		{"built-in GPU not in the zone", "a2-highgpu-1g", "us-west1-a", nil, []want{{-1, "machineType",
			`Machine type "a2-highgpu-1g" does not exist in zone us-west1-a: us-west1 offers its nvidia-tesla-a100 GPUs only in us-west1-b`}}},
		{"listed built-in GPU not in the zone", "g2-standard-8", "us-west4-b", acc("nvidia-l4", 1), []want{{0, "type",
			`Accelerator type "nvidia-l4" does not exist in zone us-west4-b: us-west4 offers it only in us-west4-a, us-west4-c`}}},
		{"unknown type in a zone", "n1-standard-8", "us-west1-a", acc("nvidia-tesla-z9", 1), []want{{0, "type",
			`Accelerator type "nvidia-tesla-z9" does not exist in zone us-west1-a.`}}},
		{"unknown type in a region", "n1-standard-8", "us-west1", acc("nvidia-tesla-z9", 1), []want{{0, "type",
			`Accelerator type "nvidia-tesla-z9" does not exist in any zone of region us-west1.`}}},
		{"unknown type nowhere in particular", "n1-standard-8", "", acc("", 1), []want{{0, "type",
			`Accelerator type "" does not exist.`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckAccelerators(tt.machine, tt.location, tt.accs)
			errs := AsAcceleratorErrors(err)
			if (err == nil) != (errs == nil) {
				t.Fatalf("CheckAccelerators returned %T %v, want nil or AcceleratorErrors", err, err)
			}
			var got []want
			for _, e := range errs {
				got = append(got, want{e.Index, e.Field, e.Error()})
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("CheckAccelerators(%q, %q, %v)\n got %+v\nwant %+v", tt.machine, tt.location, tt.accs, got, tt.want)
			}
		})
	}
}

// TestCheckAcceleratorsGKETexts pins the refusals whose wording comes from
// GKE and Compute Engine themselves: Msg must be exactly their text.
func TestCheckAcceleratorsGKETexts(t *testing.T) {
	for _, tt := range []struct {
		machine, location string
		acc               AcceleratorConfig
		msg, source       string
	}{
		{"n1-standard-4", "us-west4-c", AcceleratorConfig{"nvidia-tesla-t4", 1},
			`Accelerator type "nvidia-tesla-t4" does not exist in zone us-west4-c.`, "GoogleCloudPlatform/kubernetes-engine-samples#1738"},
		{"g2-standard-4", "us-west4-b", AcceleratorConfig{"nvidia-l4", 1},
			`Accelerator type "nvidia-l4" does not exist in zone us-west4-b.`, "GoogleCloudPlatform/kubernetes-engine-samples#1738"},
		{"n1-standard-4", "us-west4-b", AcceleratorConfig{"nvidia-tesla-p4", 1},
			`Accelerator type "nvidia-tesla-p4" does not exist in zone us-west4-b.`, "GoogleCloudPlatform/kubernetes-engine-samples#1738"},
		{"n1-standard-4", "us-east1-c", AcceleratorConfig{"nvidia-tesla-k80", 1},
			`Accelerator type "nvidia-tesla-k80" does not exist in zone us-east1-c.`, "GoogleCloudPlatform/k8s-config-connector#1902"},
		{"e2-standard-2", "us-central1-b", AcceleratorConfig{"nvidia-tesla-t4", 1},
			"[e2-standard-2, nvidia-tesla-t4] features are not compatible for creating instance.", "kubernetes/test-infra#35205"},
		{"n1-highmem-8", "us-central1-a", AcceleratorConfig{"nvidia-tesla-a100", 1},
			"[nvidia-tesla-a100, n1-highmem-8] features are not compatible for creating instance.", "skypilot-org/skypilot#212"},
		{"n1-standard-8", "us-west1-a", AcceleratorConfig{"nvidia-tesla-p100", 8},
			"Invalid value for field 'resource.guestAccelerators[0].acceleratorCount': '8'. Number of accelerator cards attached to an instance must be one of [1, 2, 4].", "google/deepvariant#136"},
		{"n1-standard-16", "", AcceleratorConfig{"nvidia-tesla-k80", 1},
			"Invalid value for field 'resource.guestAccelerators[0].acceleratorCount': '1'. At most 8 vCPUs can be used along with 1 accelerator cards in an instance.", "google/deepvariant#70"},
	} {
		errs := AsAcceleratorErrors(CheckAccelerators(tt.machine, tt.location, []AcceleratorConfig{tt.acc}))
		if len(errs) == 0 || errs[0].Msg != tt.msg {
			t.Errorf("%s %s %v: got %v\nwant first Msg %q (%s)", tt.machine, tt.location, tt.acc, errs, tt.msg, tt.source)
		}
	}
}

// TestCheckAcceleratorsAllShapes runs every machine type with every
// accelerator type and count everywhere: nothing panics, every problem names
// a config or the machine type, and the documented shapes pass.
func TestCheckAcceleratorsAllShapes(t *testing.T) {
	locations := []string{""}
	for _, r := range Regions() {
		locations = append(locations, r.Name)
		locations = append(locations, r.Zones...)
	}
	types := append(AcceleratorNames(), "", "nvidia-tesla-z9")
	for _, machine := range append(MachineNames(), "", "zz-1") {
		m, _ := LookupMachine(machine)
		for _, typ := range types {
			for _, n := range []int64{0, 1, 3, 8} {
				for _, loc := range locations {
					for _, e := range AsAcceleratorErrors(CheckAccelerators(machine, loc, []AcceleratorConfig{{typ, n}})) {
						if e.Msg == "" || (e.Index == 0) == (e.Field == "machineType") || !slices.Contains([]string{"type", "count", "machineType"}, e.Field) {
							t.Fatalf("%s %s %s×%d: malformed %+v", machine, loc, typ, n, e)
						}
					}
				}
			}
		}
		// Where it does not matter, a machine's own GPUs always pass.
		if m.GPUs > 0 {
			if err := CheckAccelerators(machine, "", []AcceleratorConfig{{m.GPUType, m.GPUs}}); err != nil {
				t.Errorf("%s with its own %d %s: %v", machine, m.GPUs, m.GPUType, err)
			}
		}
	}
}

func TestN1GPUs(t *testing.T) {
	for typ, limits := range n1GPUs {
		if _, ok := LookupAccelerator(typ); !ok {
			t.Errorf("%s: not a catalogued accelerator", typ)
		}
		for _, name := range MachineNames() {
			if m, _ := LookupMachine(name); m.GPUType == typ {
				t.Errorf("%s is attached to N1 but built into %s", typ, name)
			}
		}
		for i, l := range limits {
			if l.count <= 0 || l.vcpus <= 0 || l.memoryGiB <= 0 {
				t.Errorf("%s: non-positive limit %+v", typ, l)
			}
			// More GPUs never allow a smaller machine.
			if i > 0 && (l.count <= limits[i-1].count || l.vcpus < limits[i-1].vcpus || l.memoryGiB < limits[i-1].memoryGiB) {
				t.Errorf("%s: limits not increasing at %+v", typ, l)
			}
			for _, z := range l.exceptZones {
				if _, ok := RegionOfZone(z); !ok {
					t.Errorf("%s: exception zone %q not catalogued", typ, z)
				}
			}
		}
		// The largest count takes some N1 machine: the table is not empty in practice.
		last := limits[len(limits)-1]
		if err := CheckAccelerators("n1-standard-8", "", []AcceleratorConfig{{typ, last.count}}); err != nil {
			t.Errorf("n1-standard-8 with %d %s: %v", last.count, typ, err)
		}
	}
	for _, typ := range AcceleratorNames() {
		if _, attached := n1GPUs[typ]; attached == (builtIntoAny(typ) != "") {
			t.Errorf("%s: attached to N1 and built in, or neither", typ)
		}
	}
}

// builtIntoAny is the first machine type with typ built in, "" if none.
func builtIntoAny(typ string) string {
	for _, name := range MachineNames() {
		if m, _ := LookupMachine(name); m.GPUType == typ {
			return name
		}
	}
	return ""
}
