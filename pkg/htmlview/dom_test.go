package htmlview

import (
	"errors"
	"fmt"
	"html"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/status"
)

// The checks below read a page as HTML text: the page as rendered, or the
// DOM Chromium serialises after loading it. Both quote every attribute
// value with double quotes, so start tags and their attributes are found
// with two regular expressions; an element's content runs to the first
// closing tag of its kind, which is enough for the elements looked into
// (article, section and g do not nest here).
var (
	startTag = regexp.MustCompile(`<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s=/>]+(?:="[^"]*")?)*)\s*/?>`)
	attrRE   = regexp.MustCompile(`([^\s=/>]+)(?:="([^"]*)")?`)
)

// reporter is what the checks report to: a *testing.T, or a recorder
// when a test checks that a check fails.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// recorder notes failures instead of failing a test; Fatalf stops the
// check as it would stop a test.
type recorder struct{ failures []string }

var errStopped = errors.New("check stopped")

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(errStopped)
}

// fails runs check and reports what it found wrong; nothing when it
// passed.
func fails(check func(reporter)) []string {
	r := &recorder{}
	func() {
		defer func() {
			if v := recover(); v != nil && v != errStopped {
				panic(v)
			}
		}()
		check(r)
	}()
	return r.failures
}

type element struct {
	tag   string
	attrs map[string]string
	// inner is what follows the start tag up to its closing tag.
	inner string
}

// elements lists doc's elements that carry attribute name, in document
// order.
func elements(doc, name string) []element {
	var out []element
	for _, m := range startTag.FindAllStringSubmatchIndex(doc, -1) {
		attrs := map[string]string{}
		for _, a := range attrRE.FindAllStringSubmatch(doc[m[4]:m[5]], -1) {
			attrs[a[1]] = html.UnescapeString(a[2])
		}
		if _, ok := attrs[name]; !ok {
			continue
		}
		tag := doc[m[2]:m[3]]
		rest := doc[m[1]:]
		if end := strings.Index(rest, "</"+tag+">"); end >= 0 {
			rest = rest[:end]
		}
		out = append(out, element{tag: tag, attrs: attrs, inner: rest})
	}
	return out
}

// byValue indexes elements by the value of attribute name, failing the
// test when one value is on two elements.
func byValue(t reporter, els []element, name string) map[string]element {
	t.Helper()
	out := map[string]element{}
	for _, e := range els {
		v := e.attrs[name]
		if _, dup := out[v]; dup {
			t.Errorf("%s=%q is on two elements", name, v)
		}
		out[v] = e
	}
	return out
}

// text is an element's content without its tags, unescaped.
func text(inner string) string {
	return html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(inner, ""))
}

func atoi(t reporter, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Errorf("not a number: %q", s)
	}
	return n
}

// planWant is what a cluster's card must say, written out per fixture.
type planWant struct {
	health                                    string
	create, change, delete, attention, errors int
}

// checkPlanPage checks a plan page against the plan: every region on the
// map where the catalogue puts it, every cluster's card with the counts
// want gives and the replicas placement gave it, every placement and
// warning, and counts that add up to the plan's own summary.
func checkPlanPage(t reporter, doc string, p *plan.Plan, want map[string]planWant) {
	t.Helper()
	body := elements(doc, "data-page")
	if len(body) != 1 || body[0].attrs["data-page"] != "plan" || body[0].attrs["data-topology"] != p.Topology {
		t.Fatalf("page is not marked as the plan of %s: %v", p.Topology, body)
	}

	var regions []string
	for _, r := range p.Regions {
		regions = append(regions, r.Name)
	}
	for _, o := range p.Orphans {
		if !slices.Contains(regions, o.Region) {
			regions = append(regions, o.Region)
		}
	}
	checkRegions(t, doc, regions)

	cards := byValue(t, elements(doc, "data-cluster"), "data-cluster")
	labels := byValue(t, elements(doc, "data-map-cluster"), "data-map-cluster")
	var sum planWant
	clusters := 0
	for _, r := range p.Regions {
		for _, c := range r.Clusters {
			clusters++
			card, ok := cards[c.Name]
			if !ok {
				t.Errorf("cluster %s has no card", c.Name)
				continue
			}
			if _, ok := labels[c.Name]; !ok {
				t.Errorf("cluster %s is not on the map", c.Name)
			}
			if card.attrs["data-mode"] != c.Mode {
				t.Errorf("cluster %s: data-mode=%q, want %q", c.Name, card.attrs["data-mode"], c.Mode)
			}
			got := planWant{
				health: card.attrs["data-health"],
				create: atoi(t, card.attrs["data-create"]), change: atoi(t, card.attrs["data-change"]), delete: atoi(t, card.attrs["data-delete"]),
				attention: atoi(t, card.attrs["data-attention"]), errors: atoi(t, card.attrs["data-errors"]),
			}
			if w, ok := want[c.Name]; !ok {
				t.Errorf("test has no expectations for cluster %s", c.Name)
			} else if got != w {
				t.Errorf("cluster %s card: %+v, want %+v", c.Name, got, w)
			}
			sum.create += got.create
			sum.change += got.change
			sum.delete += got.delete
			sum.attention += got.attention
			sum.errors += got.errors
			if c.Error != "" {
				sum.errors++
			}
			if c.GKE != nil && c.GKE.Action == object.ActionAttention {
				sum.attention++
			}
			checkShares(t, c.Name, card, p)
			if c.Unreachable != "" && !strings.Contains(text(card.inner), c.Unreachable) {
				t.Errorf("cluster %s card does not say why it is unreachable (%q):\n%s", c.Name, c.Unreachable, text(card.inner))
			}
		}
	}
	for _, o := range p.Orphans {
		clusters++
		card, ok := cards[o.Cluster]
		if !ok {
			t.Errorf("orphan %s has no card", o.Cluster)
			continue
		}
		if card.attrs["data-health"] != "orphan" {
			t.Errorf("orphan %s: data-health=%q", o.Cluster, card.attrs["data-health"])
		}
		sum.attention++
	}
	if len(cards) != clusters {
		t.Errorf("%d cluster cards, want %d", len(cards), clusters)
	}
	// The cards add up to what plan counted.
	s := p.Summary
	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"objects to create", sum.create, s.ObjectsToCreate},
		{"objects to change", sum.change, s.ObjectsToChange},
		{"objects to delete", sum.delete, s.ObjectsToDelete},
		{"attention", sum.attention, s.Attention},
		{"errors", sum.errors, s.Errors},
	} {
		if c.got != c.want {
			t.Errorf("the cards count %d %s, the plan's summary %d", c.got, c.what, c.want)
		}
	}
	figures := byValue(t, elements(doc, "data-figure"), "data-figure")
	for key, n := range map[string]int{
		"clusters-create": s.ClustersToCreate, "clusters-change": s.ClustersToChange,
		"objects-create": s.ObjectsToCreate, "objects-change": s.ObjectsToChange, "objects-delete": s.ObjectsToDelete,
	} {
		if f, ok := figures[key]; !ok || atoi(t, f.attrs["data-n"]) != n {
			t.Errorf("summary figure %s = %v, want %d", key, f.attrs["data-n"], n)
		}
	}

	placements := byValue(t, elements(doc, "data-placement"), "data-placement")
	if len(placements) != len(p.Placements) {
		t.Errorf("%d placements on the page, want %d", len(placements), len(p.Placements))
	}
	for _, pl := range p.Placements {
		sec, ok := placements[pl.Workload]
		if !ok {
			t.Errorf("placement of %s missing", pl.Workload)
			continue
		}
		if sec.attrs["data-mode"] != pl.Mode {
			t.Errorf("placement of %s: data-mode=%q, want %q", pl.Workload, sec.attrs["data-mode"], pl.Mode)
		}
		for _, line := range pl.Explanation {
			if !strings.Contains(text(sec.inner), line) {
				t.Errorf("placement of %s lacks the explanation %q", pl.Workload, line)
			}
		}
	}
	checkWarnings(t, doc, p.Warnings)
}

// checkShares checks the replicas a cluster's card shows per workload
// against placement's shares.
func checkShares(t reporter, cluster string, card element, p *plan.Plan) {
	t.Helper()
	shown := byValue(t, elements(card.inner, "data-workload"), "data-workload")
	n := 0
	for _, pl := range p.Placements {
		for _, s := range pl.Shares {
			if s.Cluster != cluster {
				continue
			}
			n++
			li, ok := shown[pl.Workload]
			if !ok {
				t.Errorf("cluster %s does not show its share of %s", cluster, pl.Workload)
				continue
			}
			want := ""
			if s.Replicas != nil && s.Excluded == "" {
				want = fmt.Sprint(*s.Replicas)
			}
			if got := li.attrs["data-replicas"]; got != want {
				t.Errorf("cluster %s, workload %s: data-replicas=%q, want %q", cluster, pl.Workload, got, want)
			}
			if _, excluded := li.attrs["data-excluded"]; excluded != (s.Excluded != "") {
				t.Errorf("cluster %s, workload %s: excluded shown %v, want %v", cluster, pl.Workload, excluded, s.Excluded != "")
			}
		}
	}
	if len(shown) != n {
		t.Errorf("cluster %s shows %d workloads, placement gave it %d", cluster, len(shown), n)
	}
}

// checkRegions checks that every region has one section, and that every
// region the catalogue knows has one pin on the map, placed relative to
// the others as their coordinates are: west of, north of.
func checkRegions(t reporter, doc string, regions []string) {
	t.Helper()
	sections := byValue(t, elements(doc, "data-region"), "data-region")
	markers := byValue(t, elements(doc, "data-map-region"), "data-map-region")
	if len(sections) != len(regions) {
		t.Errorf("%d region sections, want %d (%v)", len(sections), len(regions), regions)
	}
	type pin struct {
		name     string
		x, y     float64
		lat, lng float64
	}
	var pins []pin
	for _, r := range regions {
		if _, ok := sections[r]; !ok {
			t.Errorf("region %s has no section", r)
		}
		cat, known := catalog.LookupRegion(r)
		m, ok := markers[r]
		if ok != known {
			t.Errorf("region %s: on the map %v, in the catalogue %v", r, ok, known)
			continue
		}
		if !ok {
			continue
		}
		circles := elements(m.inner, "cx")
		if len(circles) != 1 {
			t.Errorf("region %s: %d pins, want 1", r, len(circles))
			continue
		}
		x, errX := strconv.ParseFloat(circles[0].attrs["cx"], 64)
		y, errY := strconv.ParseFloat(circles[0].attrs["cy"], 64)
		if errX != nil || errY != nil || x < 0 || x > mapWidth || y < 0 || y > mapHeight {
			t.Errorf("region %s: pin at (%s, %s) is off the map", r, circles[0].attrs["cx"], circles[0].attrs["cy"])
		}
		pins = append(pins, pin{r, x, y, cat.Lat, cat.Lng})
	}
	if len(markers) != len(pins) {
		t.Errorf("%d pins on the map, want %d", len(markers), len(pins))
	}
	for _, a := range pins {
		for _, b := range pins {
			if a.lng < b.lng-0.5 && !(a.x < b.x) {
				t.Errorf("%s (lng %v) is drawn at x %v, not west of %s (lng %v) at x %v", a.name, a.lng, a.x, b.name, b.lng, b.x)
			}
			if a.lat > b.lat+0.5 && !(a.y < b.y) {
				t.Errorf("%s (lat %v) is drawn at y %v, not north of %s (lat %v) at y %v", a.name, a.lat, a.y, b.name, b.lat, b.y)
			}
		}
	}
}

func checkWarnings(t reporter, doc string, want []string) {
	t.Helper()
	var got []string
	for _, e := range elements(doc, "data-warning") {
		got = append(got, text(e.inner))
	}
	if !slices.Equal(got, want) {
		t.Errorf("warnings on the page:\n%q\nwant:\n%q", got, want)
	}
}

// statusWant is what a cluster's status card must say.
type statusWant struct {
	health     string
	nodes      string // "ready/total", "" when unknown
	drift      string
	workloads  map[string]string // name -> "ready" or "not-ready", with " desired/ready" replicas
	gkeStatus  string
	reachable  bool
	problemsIn []string
}

func checkStatusPage(t reporter, doc string, s *status.Status, want map[string]statusWant) {
	t.Helper()
	body := elements(doc, "data-page")
	if len(body) != 1 || body[0].attrs["data-page"] != "status" || body[0].attrs["data-topology"] != s.Topology {
		t.Fatalf("page is not marked as the status of %s", s.Topology)
	}
	verdict := "not-ok"
	if s.OK() {
		verdict = "ok"
	}
	if got := body[0].attrs["data-verdict"]; got != verdict {
		t.Errorf("data-verdict=%q, want %q", got, verdict)
	}
	var regions []string
	for _, r := range s.Regions {
		regions = append(regions, r.Name)
	}
	checkRegions(t, doc, regions)
	cards := byValue(t, elements(doc, "data-cluster"), "data-cluster")
	labels := byValue(t, elements(doc, "data-map-cluster"), "data-map-cluster")
	n := 0
	for _, r := range s.Regions {
		for _, c := range r.Clusters {
			n++
			card, ok := cards[c.Name]
			if !ok {
				t.Errorf("cluster %s has no card", c.Name)
				continue
			}
			if _, ok := labels[c.Name]; !ok {
				t.Errorf("cluster %s is not on the map", c.Name)
			}
			w, ok := want[c.Name]
			if !ok {
				t.Errorf("test has no expectations for cluster %s", c.Name)
				continue
			}
			a := card.attrs
			nodes := ""
			if a["data-nodes-total"] != "" {
				nodes = a["data-nodes-ready"] + "/" + a["data-nodes-total"]
			}
			if a["data-health"] != w.health || nodes != w.nodes || a["data-drift"] != w.drift || a["data-gke-status"] != w.gkeStatus || a["data-reachable"] != fmt.Sprint(w.reachable) || a["data-mode"] != c.Mode {
				t.Errorf("cluster %s card: health %q nodes %q drift %q gke %q reachable %q mode %q; want health %q nodes %q drift %q gke %q reachable %v mode %q",
					c.Name, a["data-health"], nodes, a["data-drift"], a["data-gke-status"], a["data-reachable"], a["data-mode"],
					w.health, w.nodes, w.drift, w.gkeStatus, w.reachable, c.Mode)
			}
			got := map[string]string{}
			for _, e := range elements(card.inner, "data-workload") {
				v := "not-ready"
				if e.attrs["data-ready"] == "true" {
					v = "ready"
				}
				if e.attrs["data-desired"] != "" {
					v += " " + e.attrs["data-desired"] + "/" + e.attrs["data-ready-replicas"]
				}
				got[e.attrs["data-workload"]] = v
			}
			if fmt.Sprint(got) != fmt.Sprint(w.workloads) {
				t.Errorf("cluster %s workloads %v, want %v", c.Name, got, w.workloads)
			}
			for _, p := range w.problemsIn {
				if !strings.Contains(text(card.inner), p) {
					t.Errorf("cluster %s card lacks %q:\n%s", c.Name, p, text(card.inner))
				}
			}
		}
	}
	if len(cards) != n {
		t.Errorf("%d cluster cards, want %d", len(cards), n)
	}
	figures := byValue(t, elements(doc, "data-figure"), "data-figure")
	m := s.Summary
	for key, n := range map[string]int{
		"reachable": m.Reachable, "unreachable": m.Unreachable,
		"workloads-ready": m.WorkloadsReady, "workloads-not-ready": m.WorkloadsNotReady, "drifted": m.Drifted,
	} {
		if f, ok := figures[key]; !ok || atoi(t, f.attrs["data-n"]) != n {
			t.Errorf("summary figure %s = %v, want %d", key, f.attrs["data-n"], n)
		}
	}
	checkWarnings(t, doc, s.Warnings)
}

// seedPlanWant and laterPlanWant are the cards of seedPlan and laterPlan.
var (
	seedPlanWant = map[string]planWant{
		"training-us": {health: "pending", create: 4},
		"serving-eu":  {health: "pending", create: 5},
		"serving-us":  {health: "unreachable"},
	}
	laterPlanWant = map[string]planWant{
		"serving-eu":       {health: "reachable", change: 3, delete: 1},
		"serving-nl":       {health: "unreachable"},
		"training-central": {health: "pending", create: 4},
		"serving-us":       {health: "error", change: 1, attention: 1},
		"training-us":      {health: "reachable", change: 1},
	}
	seedStatusWant = map[string]statusWant{
		"training-us": {health: "unreachable", gkeStatus: "", problemsIn: []string{"does not exist yet"}},
		"serving-eu":  {health: "unreachable", problemsIn: []string{"does not exist yet"}},
		"serving-us":  {health: "unreachable", problemsIn: []string{`kubeconfig context "serving-us" not found`}},
	}
	laterStatusWant = map[string]statusWant{
		"edge-eu": {health: "excluded", reachable: true, drift: "0", workloads: map[string]string{},
			problemsIn: []string{"excluded from placement: its spare nvidia.com/gpu could not be read", "listing nodes: nodes is forbidden"}},
		"serving-eu": {health: "ready", reachable: true, nodes: "6/6", drift: "0", gkeStatus: "RUNNING",
			workloads: map[string]string{"model-server": "ready 4/4"}},
		"serving-nl":       {health: "unreachable", workloads: map[string]string{}, problemsIn: []string{"i/o timeout"}},
		"training-central": {health: "unreachable", workloads: map[string]string{}, problemsIn: []string{"does not exist yet"}},
		"serving-us": {health: "not-ready", reachable: true, nodes: "2/3", drift: "1",
			workloads:  map[string]string{"model-server": "not-ready 2/1"},
			problemsIn: []string{"2 Insufficient nvidia.com/gpu", "apps/Deployment serving/model-server changed outside geofed"}},
		"training-us": {health: "ready", reachable: true, nodes: "5/5", drift: "0", gkeStatus: "RUNNING",
			workloads: map[string]string{"trainer": "ready 4/4"}},
	}
)

// near reports whether a and b are within d of each other.
func near(a, b, d float64) bool { return math.Abs(a-b) <= d }
