package catalog

import (
	"slices"
	"testing"
)

func TestStorageLocation(t *testing.T) {
	for _, tc := range []struct {
		location string
		kind     StorageLocationType
		has      []string // regions that must be among the result
		hasNot   []string // regions that must not
		n        int      // how many regions, 0 = do not check
	}{
		{location: "EUROPE-WEST4", kind: StorageRegion, has: []string{"europe-west4"}, n: 1},
		{location: "europe-west4", kind: StorageRegion, has: []string{"europe-west4"}, n: 1},
		{location: "EUR4", kind: StorageDualRegion, has: []string{"europe-north1", "europe-west4"}, n: 2},
		{location: "NAM4", kind: StorageDualRegion, has: []string{"us-central1", "us-east1"}, n: 2},
		{location: "US", kind: StorageMultiRegion, has: []string{"us-central1", "us-east1", "us-west1"}, hasNot: []string{"northamerica-northeast1", "europe-west4"}},
		{location: "EU", kind: StorageMultiRegion, has: []string{"europe-west4", "europe-west1"}, hasNot: []string{"europe-west2", "europe-west6", "us-east1"}},
		{location: "asia", kind: StorageMultiRegion, has: []string{"asia-east1", "asia-northeast1"}, hasNot: []string{"australia-southeast1", "me-west1"}},
	} {
		regions, kind, ok := StorageLocation(tc.location)
		if !ok {
			t.Errorf("StorageLocation(%q): unknown", tc.location)
			continue
		}
		if kind != tc.kind {
			t.Errorf("StorageLocation(%q) kind = %s, want %s", tc.location, kind, tc.kind)
		}
		if tc.n > 0 && len(regions) != tc.n {
			t.Errorf("StorageLocation(%q) = %v, want %d regions", tc.location, regions, tc.n)
		}
		if !slices.IsSorted(regions) {
			t.Errorf("StorageLocation(%q) = %v, not sorted", tc.location, regions)
		}
		for _, r := range tc.has {
			if !slices.Contains(regions, r) {
				t.Errorf("StorageLocation(%q) = %v, missing %s", tc.location, regions, r)
			}
		}
		for _, r := range tc.hasNot {
			if slices.Contains(regions, r) {
				t.Errorf("StorageLocation(%q) = %v, must not hold %s", tc.location, regions, r)
			}
		}
	}
	for _, unknown := range []string{"", "EUROPE-WEST99", "NAM9", "MOON"} {
		if rs, _, ok := StorageLocation(unknown); ok {
			t.Errorf("StorageLocation(%q) = %v, want unknown", unknown, rs)
		}
	}
	for _, name := range StorageLocationNames() {
		if _, _, ok := StorageLocation(name); !ok {
			t.Errorf("StorageLocationNames lists %q, which StorageLocation does not know", name)
		}
	}
}
