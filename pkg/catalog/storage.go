package catalog

import (
	"slices"
	"strings"
)

// StorageLocationType is how Cloud Storage classifies a bucket's location.
type StorageLocationType string

const (
	StorageRegion      StorageLocationType = "region"
	StorageDualRegion  StorageLocationType = "dual-region"
	StorageMultiRegion StorageLocationType = "multi-region"
)

// predefinedDualRegions are Cloud Storage's named region pairs
// (cloud.google.com/storage/docs/locations, read 2026-12). A configurable
// dual-region has no name of its own: its bucket metadata lists the two
// regions (customPlacementConfig.dataLocations), which StorageRegions
// reads as regions.
var predefinedDualRegions = map[string][]string{
	"ASIA1": {"asia-northeast1", "asia-northeast2"},
	"EUR4":  {"europe-north1", "europe-west4"},
	"NAM4":  {"us-central1", "us-east1"},
}

// nonEURegions are European regions outside the European Union, which the
// EU multi-region does not store data in.
var nonEURegions = []string{"europe-west2", "europe-west6"}

// multiRegionOf says which catalogued regions a multi-region spans: US the
// regions in the United States, EU those in the European Union, ASIA
// those in Asia.
func multiRegionOf(name string) ([]string, bool) {
	var keep func(string) bool
	switch name {
	case "US":
		keep = func(r string) bool { return strings.HasPrefix(r, "us-") }
	case "EU":
		keep = func(r string) bool { return strings.HasPrefix(r, "europe-") && !slices.Contains(nonEURegions, r) }
	case "ASIA":
		keep = func(r string) bool { return strings.HasPrefix(r, "asia-") }
	default:
		return nil, false
	}
	var out []string
	for _, r := range regions.sorted {
		if keep(r.Name) {
			out = append(out, r.Name)
		}
	}
	return out, true
}

// StorageLocation says which catalogued regions hold a bucket stored at
// location, as Cloud Storage names it (any case): a region ("EUROPE-WEST4"),
// a predefined dual-region ("EUR4") or a multi-region ("US", "EU",
// "ASIA"). The regions are sorted; ok is false for a location the
// catalogue does not know.
func StorageLocation(location string) (regions []string, kind StorageLocationType, ok bool) {
	upper := strings.ToUpper(location)
	if _, ok := LookupRegion(strings.ToLower(location)); ok {
		return []string{strings.ToLower(location)}, StorageRegion, true
	}
	if pair, ok := predefinedDualRegions[upper]; ok {
		return slices.Clone(pair), StorageDualRegion, true
	}
	if rs, ok := multiRegionOf(upper); ok {
		return rs, StorageMultiRegion, true
	}
	return nil, "", false
}

// StorageLocationNames are the locations StorageLocation knows, upper case
// as Cloud Storage prints them; handy as Suggest candidates.
func StorageLocationNames() []string {
	out := []string{"ASIA", "EU", "US"}
	for name := range predefinedDualRegions {
		out = append(out, name)
	}
	for _, r := range regions.sorted {
		out = append(out, strings.ToUpper(r.Name))
	}
	slices.Sort(out)
	return out
}
