package htmlview

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
)

func TestProject(t *testing.T) {
	for _, tt := range []struct {
		lat, lng float64
		x, y     float64
	}{
		{mapNorth, -180, 0, 0},
		{mapSouth, 180, mapWidth, mapHeight},
		{0, 0, mapWidth / 2, mapNorth * mapScale},
		{45, -90, mapWidth / 4, (mapNorth - 45) * mapScale},
	} {
		x, y := project(tt.lat, tt.lng)
		if !near(x, tt.x, 1e-9) || !near(y, tt.y, 1e-9) {
			t.Errorf("project(%v, %v) = (%v, %v), want (%v, %v)", tt.lat, tt.lng, x, y, tt.x, tt.y)
		}
	}
	// The same scale on both axes: a degree is as long east as north.
	x1, y1 := project(10, 10)
	x2, y2 := project(20, 20)
	if !near(x2-x1, y1-y2, 1e-9) {
		t.Errorf("a degree is %v wide and %v high", (x2-x1)/10, (y1-y2)/10)
	}
}

// inside reports whether p is inside ring (even-odd rule).
func inside(ring []lngLat, p lngLat) bool {
	in := false
	for i, j := 0, len(ring)-1; i < len(ring); j, i = i, i+1 {
		a, b := ring[i], ring[j]
		if (a.lat > p.lat) != (b.lat > p.lat) && p.lng < (b.lng-a.lng)*(p.lat-a.lat)/(b.lat-a.lat)+a.lng {
			in = !in
		}
	}
	return in
}

// onLand reports whether p is inside a land outline and not in an inland
// sea, and which outline.
func onLand(p lngLat) (string, bool) {
	for name, ring := range water {
		if inside(ring, p) {
			return name, false
		}
	}
	for name, ring := range land {
		if inside(ring, p) {
			return name, true
		}
	}
	return "", false
}

// coastKm is the distance from p to the nearest land edge, in km, on a
// local flat approximation: good to a few percent over the distances
// that matter here.
func coastKm(p lngLat) float64 {
	best := math.Inf(1)
	toKm := func(q lngLat) (float64, float64) {
		return (q.lng - p.lng) * 111.32 * math.Cos(p.lat*math.Pi/180), (q.lat - p.lat) * 110.57
	}
	for _, ring := range land {
		for i := range ring {
			ax, ay := toKm(ring[i])
			bx, by := toKm(ring[(i+1)%len(ring)])
			dx, dy := bx-ax, by-ay
			f := 0.0
			if l := dx*dx + dy*dy; l > 0 {
				f = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/l))
			}
			best = math.Min(best, math.Hypot(ax+f*dx, ay+f*dy))
		}
	}
	return best
}

// TestOutlinePlacesTheWorld: the hand-drawn outline is the world as the
// catalogue knows it — every GCP region on land or within reach of a
// coast — with the oceans and inland seas where they are.
func TestOutlinePlacesTheWorld(t *testing.T) {
	// Cities on the coast may fall just into the sea of a coarse outline.
	const coastSlackKm = 50
	for _, r := range catalog.Regions() {
		p := lngLat{r.Lng, r.Lat}
		if _, ok := onLand(p); !ok {
			if d := coastKm(p); d > coastSlackKm {
				t.Errorf("region %s (%s, %v, %v) is %.0f km out to sea", r.Name, r.Location, r.Lat, r.Lng, d)
			}
		}
	}
	for _, tt := range []struct {
		where    string
		lat, lng float64
		outline  string // "" = sea
	}{
		{"Kansas", 38.5, -98, "north america"},
		{"Hudson Bay", 60, -86, ""},
		{"Gulf of Mexico", 25, -90, ""},
		{"Amazonas", -4, -63, "south america"},
		{"North Atlantic", 35, -40, ""},
		{"Greenland", 72, -40, "greenland"},
		{"Iceland", 64.8, -18.5, "iceland"},
		{"England", 52.5, -1.5, "great britain"},
		{"Bavaria", 48.5, 11.5, "eurasia"},
		{"Mediterranean", 35, 18, ""},
		{"Black Sea", 43, 34, ""},
		{"Caspian Sea", 42, 50.5, ""},
		{"Sahara", 23, 10, "africa"},
		{"Congo", -1, 23, "africa"},
		{"Red Sea", 20, 38.5, ""},
		{"Arabia", 23, 46, "eurasia"},
		{"Persian Gulf", 27, 51, ""},
		{"Deccan", 17, 77, "eurasia"},
		{"Bay of Bengal", 15, 88, ""},
		{"Siberia", 62, 100, "eurasia"},
		{"Sea of Japan", 40, 135, ""},
		{"Honshu", 36.2, 138.5, "honshu"},
		{"Borneo", 0.5, 114, "borneo"},
		{"Indian Ocean", -20, 80, ""},
		{"Outback", -25, 134, "australia"},
		{"Tasman Sea", -38, 160, ""},
		{"South Island", -44, 170, "new zealand south"},
		{"Pacific", 0, -150, ""},
		{"Madagascar", -19, 46.5, "madagascar"},
	} {
		got, ok := onLand(lngLat{tt.lng, tt.lat})
		if !ok {
			got = ""
		}
		if got != tt.outline {
			t.Errorf("%s (%v, %v) is in %q, want %q", tt.where, tt.lat, tt.lng, got, tt.outline)
		}
	}
}

// TestOutlinesFitTheMap: every vertex is on the map, so no ring wraps
// round the antimeridian or off the cut-off latitudes; every ring is a
// polygon.
func TestOutlinesFitTheMap(t *testing.T) {
	for kind, outlines := range map[string]map[string][]lngLat{"land": land, "water": water} {
		for name, ring := range outlines {
			if len(ring) < 3 {
				t.Errorf("%s %s has %d vertices", kind, name, len(ring))
			}
			for _, p := range ring {
				if p.lng < -180 || p.lng > 180 || p.lat < mapSouth || p.lat > mapNorth {
					t.Errorf("%s %s: vertex %v is off the map", kind, name, p)
				}
			}
		}
	}
	path := outlinePath(land)
	if n := strings.Count(path, "M"); n != len(land) {
		t.Errorf("land path has %d rings, want %d", n, len(land))
	}
	if strings.ContainsAny(path, "eE") || strings.Contains(path, "NaN") {
		t.Errorf("land path has exponents or NaN: %.80s…", path)
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0", -0.01: "0", 1.25: "1.2", 1.26: "1.3", 394.44: "394.4", 12: "12", -3.05: "-3"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestLayoutMarkers: labels stay on the map and clear of each other and
// of every pin, even for every European region at once, and the layout
// is the same every time.
func TestLayoutMarkers(t *testing.T) {
	var europe []regionLabel
	for _, r := range catalog.Regions() {
		if strings.HasPrefix(r.Name, "europe-") || strings.HasPrefix(r.Name, "me-") {
			europe = append(europe, regionLabel{name: r.Name, state: stateOK, lines: []textLine{
				{Cluster: "serving-" + r.Name, Spans: []span{{Text: "serving-" + r.Name}, {Text: "+12 ~3", Class: "create"}}},
				{Cluster: "batch-" + r.Name, Spans: []span{{Text: "batch-" + r.Name}, {Text: "no changes", Class: "muted"}}},
			}})
		}
	}
	if len(europe) < 12 {
		t.Fatalf("only %d regions in Europe and the Middle East: the catalogue changed", len(europe))
	}
	m, unplaced := newMap(europe)
	if len(unplaced) > 0 {
		t.Fatalf("regions not placed: %v", unplaced)
	}
	frame := box{0, 0, mapWidth, mapHeight}
	for i, a := range m.Markers {
		la := a.label
		if !la.inside(frame) {
			t.Errorf("label of %s is off the map: %+v", a.Region, la)
		}
		if a.LX2 == "" {
			t.Errorf("label of %s has no leader", a.Region)
		}
		for j, b := range m.Markers {
			if i != j && la.overlaps(b.label) {
				t.Errorf("labels of %s and %s overlap", a.Region, b.Region)
			}
			if la.overlaps(box{b.x - pinRadius, b.y - pinRadius, 2 * pinRadius, 2 * pinRadius}) {
				t.Errorf("label of %s covers the pin of %s", a.Region, b.Region)
			}
		}
		if len(a.Lines) != 2 {
			t.Errorf("label of %s has %d lines, want 2", a.Region, len(a.Lines))
		}
	}
	again, _ := newMap(europe)
	if fmt.Sprint(again.Markers) != fmt.Sprint(m.Markers) {
		t.Error("the same markers were laid out twice differently")
	}
}

// TestLayoutMarkersCrowded: when no place is free, every label is still
// drawn, on the map.
func TestLayoutMarkersCrowded(t *testing.T) {
	var crowd []regionLabel
	for _, r := range catalog.Regions() {
		var lines []textLine
		for i := range 8 {
			lines = append(lines, textLine{Spans: []span{{Text: fmt.Sprintf("cluster-%d-of-%s", i, r.Name)}}})
		}
		crowd = append(crowd, regionLabel{name: r.Name, state: stateBad, lines: lines})
	}
	m, _ := newMap(crowd)
	if len(m.Markers) != len(crowd) {
		t.Fatalf("%d markers for %d regions", len(m.Markers), len(crowd))
	}
	for _, a := range m.Markers {
		if b := a.label; !b.inside(box{0, 0, mapWidth, mapHeight}) {
			t.Errorf("label of %s is off the map: %+v", a.Region, b)
		}
	}
}
