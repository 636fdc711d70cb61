package catalog

import (
	"math"
	"sort"
)

// Region is a GCP region: where it is and which zones it has.
type Region struct {
	Name     string   // "us-west1"
	Location string   // human place, e.g. "The Dalles, Oregon, USA"
	Lat, Lng float64  // degrees
	Zones    []string // "us-west1-a", ... sorted
}

// regionRow is one line of the regions table; zones are written as their
// suffix letters so the table stays readable.
type regionRow struct {
	name     string
	location string
	lat, lng float64
	zones    string
}

// regionTable lists every public GCP region. Coordinates are those of the
// city (or data-centre town) Google names for the region; they only need to
// be good enough to order regions by distance.
var regionTable = []regionRow{
	{"africa-south1", "Johannesburg, South Africa", -26.2041, 28.0473, "abc"},
	{"asia-east1", "Changhua County, Taiwan", 24.0518, 120.5161, "abc"},
	{"asia-east2", "Hong Kong", 22.3193, 114.1694, "abc"},
	{"asia-northeast1", "Tokyo, Japan", 35.6762, 139.6503, "abc"},
	{"asia-northeast2", "Osaka, Japan", 34.6937, 135.5023, "abc"},
	{"asia-northeast3", "Seoul, South Korea", 37.5665, 126.9780, "abc"},
	{"asia-south1", "Mumbai, India", 19.0760, 72.8777, "abc"},
	{"asia-south2", "Delhi, India", 28.7041, 77.1025, "abc"},
	{"asia-southeast1", "Jurong West, Singapore", 1.3404, 103.7090, "abc"},
	{"asia-southeast2", "Jakarta, Indonesia", -6.2088, 106.8456, "abc"},
	{"australia-southeast1", "Sydney, Australia", -33.8688, 151.2093, "abc"},
	{"australia-southeast2", "Melbourne, Australia", -37.8136, 144.9631, "abc"},
	{"europe-central2", "Warsaw, Poland", 52.2297, 21.0122, "abc"},
	{"europe-north1", "Hamina, Finland", 60.5693, 27.1878, "abc"},
	{"europe-north2", "Stockholm, Sweden", 59.3293, 18.0686, "abc"},
	{"europe-southwest1", "Madrid, Spain", 40.4168, -3.7038, "abc"},
	{"europe-west1", "St. Ghislain, Belgium", 50.4489, 3.8187, "bcd"},
	{"europe-west10", "Berlin, Germany", 52.5200, 13.4050, "abc"},
	{"europe-west12", "Turin, Italy", 45.0703, 7.6869, "abc"},
	{"europe-west2", "London, England, UK", 51.5074, -0.1278, "abc"},
	{"europe-west3", "Frankfurt, Germany", 50.1109, 8.6821, "abc"},
	{"europe-west4", "Eemshaven, Netherlands", 53.4386, 6.8355, "abc"},
	{"europe-west6", "Zurich, Switzerland", 47.3769, 8.5417, "abc"},
	{"europe-west8", "Milan, Italy", 45.4642, 9.1900, "abc"},
	{"europe-west9", "Paris, France", 48.8566, 2.3522, "abc"},
	{"me-central1", "Doha, Qatar", 25.2854, 51.5310, "abc"},
	{"me-central2", "Dammam, Saudi Arabia", 26.4207, 50.0888, "abc"},
	{"me-west1", "Tel Aviv, Israel", 32.0853, 34.7818, "abc"},
	{"northamerica-northeast1", "Montréal, Québec, Canada", 45.5017, -73.5673, "abc"},
	{"northamerica-northeast2", "Toronto, Ontario, Canada", 43.6532, -79.3832, "abc"},
	{"northamerica-south1", "Querétaro, Mexico", 20.5888, -100.3899, "abc"},
	{"southamerica-east1", "Osasco, São Paulo, Brazil", -23.5329, -46.7917, "abc"},
	{"southamerica-west1", "Santiago, Chile", -33.4489, -70.6693, "abc"},
	{"us-central1", "Council Bluffs, Iowa, USA", 41.2619, -95.8608, "abcf"},
	{"us-east1", "Moncks Corner, South Carolina, USA", 33.1960, -80.0131, "bcd"},
	{"us-east4", "Ashburn, Virginia, USA", 39.0438, -77.4874, "abc"},
	{"us-east5", "Columbus, Ohio, USA", 39.9612, -82.9988, "abc"},
	{"us-south1", "Dallas, Texas, USA", 32.7767, -96.7970, "abc"},
	{"us-west1", "The Dalles, Oregon, USA", 45.5946, -121.1787, "abc"},
	{"us-west2", "Los Angeles, California, USA", 34.0522, -118.2437, "abc"},
	{"us-west3", "Salt Lake City, Utah, USA", 40.7608, -111.8910, "abc"},
	{"us-west4", "Las Vegas, Nevada, USA", 36.1699, -115.1398, "abc"},
}

// regions is regionTable expanded and indexed; built once, never handed out
// without copying.
var regions = buildRegions(regionTable)

type regionIndex struct {
	sorted []Region
	byName map[string]int // index into sorted
	byZone map[string]string
}

func buildRegions(rows []regionRow) regionIndex {
	idx := regionIndex{
		byName: make(map[string]int, len(rows)),
		byZone: make(map[string]string, len(rows)*3),
	}
	for _, row := range rows {
		r := Region{Name: row.name, Location: row.location, Lat: row.lat, Lng: row.lng}
		for _, suffix := range row.zones {
			r.Zones = append(r.Zones, row.name+"-"+string(suffix))
		}
		sort.Strings(r.Zones)
		idx.sorted = append(idx.sorted, r)
	}
	sort.Slice(idx.sorted, func(i, j int) bool { return idx.sorted[i].Name < idx.sorted[j].Name })
	for i, r := range idx.sorted {
		idx.byName[r.Name] = i
		for _, z := range r.Zones {
			idx.byZone[z] = r.Name
		}
	}
	return idx
}

func (r Region) clone() Region {
	r.Zones = append([]string(nil), r.Zones...)
	return r
}

// Regions returns all catalogued regions sorted by name. The result is a
// copy the caller may modify.
func Regions() []Region {
	out := make([]Region, len(regions.sorted))
	for i, r := range regions.sorted {
		out[i] = r.clone()
	}
	return out
}

// RegionNames returns the names of all catalogued regions, sorted; handy as
// Suggest candidates.
func RegionNames() []string {
	out := make([]string, len(regions.sorted))
	for i, r := range regions.sorted {
		out[i] = r.Name
	}
	return out
}

// LookupRegion returns the region called name (exact, lower-case GCP name).
func LookupRegion(name string) (Region, bool) {
	i, ok := regions.byName[name]
	if !ok {
		return Region{}, false
	}
	return regions.sorted[i].clone(), true
}

// RegionOfZone returns the region a catalogued zone belongs to. Zones not in
// the catalogue are rejected rather than guessed from their name, so a typo
// such as "us-west1-z" is caught.
func RegionOfZone(zone string) (region string, ok bool) {
	region, ok = regions.byZone[zone]
	return region, ok
}

// earthRadiusKm is the mean Earth radius used by the haversine formula.
const earthRadiusKm = 6371.0

// DistanceKm returns the great-circle distance between two regions' locations,
// by name; ok is false if either region is unknown.
func DistanceKm(a, b string) (float64, bool) {
	i, okA := regions.byName[a]
	j, okB := regions.byName[b]
	if !okA || !okB {
		return 0, false
	}
	ra, rb := regions.sorted[i], regions.sorted[j]
	return haversineKm(ra.Lat, ra.Lng, rb.Lat, rb.Lng), true
}

func haversineKm(lat1, lng1, lat2, lng2 float64) float64 {
	rad := func(deg float64) float64 { return deg * math.Pi / 180 }
	dLat := rad(lat2 - lat1)
	dLng := rad(lng2 - lng1)
	h := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(rad(lat1))*math.Cos(rad(lat2))*math.Sin(dLng/2)*math.Sin(dLng/2)
	// Clamp: rounding can push h a hair above 1 for antipodal points.
	h = math.Min(1, h)
	return 2 * earthRadiusKm * math.Asin(math.Sqrt(h))
}
