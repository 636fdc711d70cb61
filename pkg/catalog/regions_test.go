package catalog

import (
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestLookupRegion(t *testing.T) {
	tests := []struct {
		name      string
		wantOK    bool
		wantZones []string
		wantPlace string
	}{
		{"us-central1", true, []string{"us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"}, "Council Bluffs, Iowa, USA"},
		{"us-east1", true, []string{"us-east1-b", "us-east1-c", "us-east1-d"}, "Moncks Corner, South Carolina, USA"},
		{"europe-west1", true, []string{"europe-west1-b", "europe-west1-c", "europe-west1-d"}, "St. Ghislain, Belgium"},
		{"us-west1", true, []string{"us-west1-a", "us-west1-b", "us-west1-c"}, "The Dalles, Oregon, USA"},
		{"europe-north2", true, []string{"europe-north2-a", "europe-north2-b", "europe-north2-c"}, "Stockholm, Sweden"},
		{"northamerica-south1", true, []string{"northamerica-south1-a", "northamerica-south1-b", "northamerica-south1-c"}, "Querétaro, Mexico"},
		{"US-CENTRAL1", false, nil, ""},
		{"us-central1-a", false, nil, ""},
		{"us-west9", false, nil, ""},
		{"", false, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := LookupRegion(tt.name)
			if ok != tt.wantOK {
				t.Fatalf("LookupRegion(%q) ok = %v, want %v", tt.name, ok, tt.wantOK)
			}
			if !ok {
				return
			}
			if r.Name != tt.name || r.Location != tt.wantPlace || !slices.Equal(r.Zones, tt.wantZones) {
				t.Errorf("LookupRegion(%q) = %+v, want location %q zones %v", tt.name, r, tt.wantPlace, tt.wantZones)
			}
		})
	}
}

func TestRegionsComplete(t *testing.T) {
	// The regions the topology examples and docs name must all be present.
	want := []string{
		"africa-south1", "asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2",
		"asia-northeast3", "asia-south1", "asia-south2", "asia-southeast1", "asia-southeast2",
		"australia-southeast1", "australia-southeast2", "europe-central2", "europe-north1",
		"europe-north2", "europe-southwest1", "europe-west1", "europe-west10", "europe-west12",
		"europe-west2", "europe-west3", "europe-west4", "europe-west6", "europe-west8",
		"europe-west9", "me-central1", "me-central2", "me-west1", "northamerica-northeast1",
		"northamerica-northeast2", "northamerica-south1", "southamerica-east1",
		"southamerica-west1", "us-central1", "us-east1", "us-east4", "us-east5", "us-south1",
		"us-west1", "us-west2", "us-west3", "us-west4",
	}
	if got := RegionNames(); !slices.Equal(got, want) {
		t.Errorf("RegionNames() = %v\nwant %v", got, want)
	}
}

func TestRegionsInvariants(t *testing.T) {
	rs := Regions()
	if !sort.SliceIsSorted(rs, func(i, j int) bool { return rs[i].Name < rs[j].Name }) {
		t.Error("Regions() not sorted by name")
	}
	seenZone := map[string]string{}
	for _, r := range rs {
		if r.Name != strings.ToLower(r.Name) || r.Location == "" {
			t.Errorf("region %q: bad name or empty location %q", r.Name, r.Location)
		}
		if r.Lat < -90 || r.Lat > 90 || r.Lng < -180 || r.Lng > 180 || (r.Lat == 0 && r.Lng == 0) {
			t.Errorf("region %q: implausible coordinates %v,%v", r.Name, r.Lat, r.Lng)
		}
		if len(r.Zones) < 2 {
			t.Errorf("region %q has %d zones, want >= 2", r.Name, len(r.Zones))
		}
		if !slices.IsSorted(r.Zones) {
			t.Errorf("region %q zones not sorted: %v", r.Name, r.Zones)
		}
		for _, z := range r.Zones {
			suffix, ok := strings.CutPrefix(z, r.Name+"-")
			if !ok || len(suffix) != 1 || suffix[0] < 'a' || suffix[0] > 'z' {
				t.Errorf("region %q: zone %q is not <region>-<letter>", r.Name, z)
			}
			if other, dup := seenZone[z]; dup {
				t.Errorf("zone %q in both %q and %q", z, other, r.Name)
			}
			seenZone[z] = r.Name
			if got, ok := RegionOfZone(z); !ok || got != r.Name {
				t.Errorf("RegionOfZone(%q) = %q, %v; want %q", z, got, ok, r.Name)
			}
		}
		got, ok := LookupRegion(r.Name)
		if !ok || got.Name != r.Name {
			t.Errorf("LookupRegion(%q) from Regions() failed", r.Name)
		}
	}
}

func TestRegionsReturnsCopies(t *testing.T) {
	rs := Regions()
	rs[0].Name = "mutated"
	rs[0].Zones[0] = "mutated-a"
	r, _ := LookupRegion(RegionNames()[0])
	if Regions()[0].Name == "mutated" || r.Zones[0] == "mutated-a" {
		t.Fatal("mutating Regions() result changed the catalogue")
	}
	r.Zones[0] = "mutated-b"
	again, _ := LookupRegion(r.Name)
	if again.Zones[0] == "mutated-b" {
		t.Fatal("mutating LookupRegion result changed the catalogue")
	}
}

func TestRegionOfZone(t *testing.T) {
	tests := []struct {
		zone   string
		want   string
		wantOK bool
	}{
		{"us-central1-f", "us-central1", true},
		{"us-east1-b", "us-east1", true},
		{"europe-west4-a", "europe-west4", true},
		{"asia-northeast1-c", "asia-northeast1", true},
		{"us-east1-a", "", false},     // us-east1 has no zone a
		{"europe-west1-a", "", false}, // nor europe-west1
		{"us-west1-z", "", false},
		{"us-west1", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.zone, func(t *testing.T) {
			got, ok := RegionOfZone(tt.zone)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("RegionOfZone(%q) = %q, %v; want %q, %v", tt.zone, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestDistanceKm(t *testing.T) {
	tests := []struct {
		a, b     string
		min, max float64
	}{
		{"us-west1", "us-central1", 2000, 2500},
		// St. Ghislain to Eemshaven, the far north of the Netherlands.
		{"europe-west1", "europe-west4", 300, 450},
		{"europe-west3", "europe-west10", 400, 500},             // Frankfurt-Berlin
		{"us-east4", "europe-west2", 5800, 6000},                // Ashburn-London
		{"asia-northeast1", "asia-northeast2", 350, 450},        // Tokyo-Osaka
		{"australia-southeast1", "us-west2", 11900, 12200},      // Sydney-LA
		{"southamerica-east1", "asia-southeast1", 15800, 16200}, // São Paulo-Singapore
	}
	for _, tt := range tests {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			d, ok := DistanceKm(tt.a, tt.b)
			if !ok {
				t.Fatalf("DistanceKm(%q, %q) not ok", tt.a, tt.b)
			}
			if d < tt.min || d > tt.max {
				t.Errorf("DistanceKm(%q, %q) = %.0f km, want in [%.0f, %.0f]", tt.a, tt.b, d, tt.min, tt.max)
			}
		})
	}
}

func TestDistanceKmProperties(t *testing.T) {
	names := RegionNames()
	for _, a := range names {
		if d, ok := DistanceKm(a, a); !ok || d != 0 {
			t.Errorf("DistanceKm(%q, itself) = %v, %v; want 0, true", a, d, ok)
		}
		for _, b := range names {
			ab, _ := DistanceKm(a, b)
			ba, _ := DistanceKm(b, a)
			if ab != ba {
				t.Errorf("DistanceKm not symmetric for %s/%s: %v vs %v", a, b, ab, ba)
			}
			// Nothing on Earth is further than half its circumference.
			if ab < 0 || ab > math.Pi*earthRadiusKm+1e-6 {
				t.Errorf("DistanceKm(%q, %q) = %v out of range", a, b, ab)
			}
			if a != b && ab < 1 {
				t.Errorf("regions %q and %q share coordinates", a, b)
			}
		}
	}
}

func TestDistanceKmUnknown(t *testing.T) {
	for _, pair := range [][2]string{{"us-west1", "mars-north1"}, {"mars-north1", "us-west1"}, {"", ""}, {"us-west1", "us-west1-a"}} {
		if d, ok := DistanceKm(pair[0], pair[1]); ok || d != 0 {
			t.Errorf("DistanceKm(%q, %q) = %v, %v; want 0, false", pair[0], pair[1], d, ok)
		}
	}
}

func TestHaversineKnownValue(t *testing.T) {
	// A quarter of a meridian: equator to pole.
	if got, want := haversineKm(0, 0, 90, 0), math.Pi/2*earthRadiusKm; math.Abs(got-want) > 1e-6 {
		t.Errorf("haversineKm(equator, pole) = %v, want %v", got, want)
	}
	// Antipodes must not produce NaN from rounding.
	if got := haversineKm(10, 20, -10, -160); math.IsNaN(got) || math.Abs(got-math.Pi*earthRadiusKm) > 1e-6 {
		t.Errorf("haversineKm(antipodes) = %v, want %v", got, math.Pi*earthRadiusKm)
	}
}
