package catalog

import (
	"slices"
	"testing"
)

func TestAcceleratorZones(t *testing.T) {
	tests := []struct {
		typ, region string
		want        []string
		wantKnown   bool
	}{
		// The zones the repository's examples rely on.
		{"nvidia-tesla-a100", "us-west1", []string{"us-west1-b"}, true},
		{"nvidia-l4", "europe-west1", []string{"europe-west1-b", "europe-west1-c"}, true},
		{"nvidia-l4", "us-central1", []string{"us-central1-a", "us-central1-b", "us-central1-c"}, true},
		// GKE's own refusals: no T4 in us-west4-c, no L4 or P4 in us-west4-b.
		{"nvidia-tesla-t4", "us-west4", []string{"us-west4-a", "us-west4-b"}, true},
		{"nvidia-l4", "us-west4", []string{"us-west4-a", "us-west4-c"}, true},
		{"nvidia-tesla-p4", "us-west4", nil, true},
		// GitLab's survey of us-east1-c and -d: T4 in both, V100 and P100
		// only in c.
		{"nvidia-tesla-t4", "us-east1", []string{"us-east1-b", "us-east1-c", "us-east1-d"}, true},
		{"nvidia-tesla-v100", "us-east1", []string{"us-east1-b", "us-east1-c"}, true},
		{"nvidia-tesla-p100", "us-east1", []string{"us-east1-b", "us-east1-c"}, true},
		{"nvidia-a100-80gb", "us-east5", []string{"us-east5-a", "us-east5-b"}, true},
		{"nvidia-tesla-k80", "us-central1", nil, true},
		{"nvidia-tesla-t4", "europe-west9", nil, true},
		// Not covered: unknown, not absent.
		{"nvidia-h100-80gb", "us-central1", nil, false},
		{"nvidia-tesla-t4", "us-west9", nil, false},
		{"nvidia-tesla-z9", "us-west1", nil, false},
	}
	for _, tt := range tests {
		got, known := AcceleratorZones(tt.typ, tt.region)
		if known != tt.wantKnown || !slices.Equal(got, tt.want) {
			t.Errorf("AcceleratorZones(%q, %q) = %v, %v; want %v, %v", tt.typ, tt.region, got, known, tt.want, tt.wantKnown)
		}
	}
}

func TestGPUZoneTableInvariants(t *testing.T) {
	seen := map[string]bool{}
	for _, row := range gpuZoneTable {
		if seen[row.region] {
			t.Errorf("region %q listed twice", row.region)
		}
		seen[row.region] = true
		r, ok := LookupRegion(row.region)
		if !ok {
			t.Errorf("region %q not catalogued", row.region)
			continue
		}
		for _, typ := range coveredAccelerators {
			zones, known := AcceleratorZones(typ, row.region)
			if !known || !slices.IsSorted(zones) || len(slices.Compact(slices.Clone(zones))) != len(zones) {
				t.Errorf("%s in %s: %v, %v", typ, row.region, zones, known)
			}
			for _, z := range zones {
				if !slices.Contains(r.Zones, z) {
					t.Errorf("%s in %s: zone %q is not one of the region's %v", typ, row.region, z, r.Zones)
				}
			}
		}
	}
	// Every catalogued region was surveyed, so a new one has to be looked up.
	for _, name := range RegionNames() {
		if !seen[name] {
			t.Errorf("region %q missing from the availability table", name)
		}
	}
	for _, typ := range coveredAccelerators {
		if _, ok := LookupAccelerator(typ); !ok {
			t.Errorf("covered accelerator %q not catalogued", typ)
		}
	}
	for _, typ := range retiredAccelerators {
		for _, r := range RegionNames() {
			if zones, _ := AcceleratorZones(typ, r); len(zones) > 0 {
				t.Errorf("retired %s offered in %v", typ, zones)
			}
		}
	}
}

func TestAcceleratorZonesReturnsCopies(t *testing.T) {
	zones, _ := AcceleratorZones("nvidia-tesla-t4", "us-central1")
	zones[0] = "mutated"
	if again, _ := AcceleratorZones("nvidia-tesla-t4", "us-central1"); again[0] == "mutated" {
		t.Fatal("mutating AcceleratorZones result changed the catalogue")
	}
}

func TestNearestOffers(t *testing.T) {
	got := nearestOffers("nvidia-tesla-v100", "europe-west9", 2)
	if len(got) != 2 || got[0].region != "europe-west4" || got[1].region != "us-east1" {
		t.Errorf("nearestOffers(v100, europe-west9) = %+v, want europe-west4 then us-east1", got)
	}
	if got := nearestOffers("nvidia-tesla-k80", "us-west1", 3); len(got) != 0 {
		t.Errorf("nearestOffers(k80) = %+v, want none", got)
	}
}
