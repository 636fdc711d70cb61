package htmlview

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"

	goldenfile "github.com/geofed-io/kubectl-geofed/internal/golden"

	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/status"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden (and docs/plan-html.png) from the current output")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Compare(t, name, got, *update)
}

func planPage(t *testing.T, p *plan.Plan) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Plan(&buf, p); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func statusPage(t *testing.T, s *status.Status) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Status(&buf, s); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestPlan(t *testing.T) {
	for _, tt := range []struct {
		golden string
		plan   func(*testing.T) *plan.Plan
		want   map[string]planWant
	}{
		{"seed-plan.html.golden", seedPlan, seedPlanWant},
		{"later-plan.html.golden", func(*testing.T) *plan.Plan { return laterPlan() }, laterPlanWant},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			p := tt.plan(t)
			page := planPage(t, p)
			checkPlanPage(t, page, p, tt.want)
			checkSelfContained(t, page)
			if again := planPage(t, p); again != page {
				t.Error("the same plan rendered twice gives two pages")
			}
			golden(t, tt.golden, []byte(page))
		})
	}
}

func TestStatus(t *testing.T) {
	for _, tt := range []struct {
		golden string
		status func(*testing.T) *status.Status
		want   map[string]statusWant
	}{
		{"seed-status.html.golden", seedStatus, seedStatusWant},
		{"later-status.html.golden", func(*testing.T) *status.Status { return laterStatus() }, laterStatusWant},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			s := tt.status(t)
			page := statusPage(t, s)
			checkStatusPage(t, page, s, tt.want)
			checkSelfContained(t, page)
			golden(t, tt.golden, []byte(page))
		})
	}
}

// checkSelfContained fails on anything that would make a browser fetch
// or run something: the page is opened offline, from a mail or a ticket.
// Text may say anything, escaped; tags and the style sheet may not.
func checkSelfContained(t *testing.T, page string) {
	t.Helper()
	for _, m := range startTag.FindAllStringSubmatch(page, -1) {
		switch strings.ToLower(m[1]) {
		case "script", "link", "img", "iframe", "object", "embed", "image", "use", "a", "base", "form", "video", "audio", "source":
			t.Errorf("the page has a <%s> element: %s", m[1], m[0])
		}
		for _, a := range attrRE.FindAllStringSubmatch(m[2], -1) {
			name := strings.ToLower(a[1])
			if name == "src" || name == "href" || name == "xlink:href" || name == "style" || strings.HasPrefix(name, "on") {
				t.Errorf("the page has a %s attribute: %s", name, m[0])
			}
		}
	}
	start, end := strings.Index(page, "<style>"), strings.Index(page, "</style>")
	if start < 0 || end < start || strings.Count(page, "<style") != 1 {
		t.Fatal("the page should have exactly one style sheet")
	}
	for _, banned := range []string{"url(", "@import", "@font-face"} {
		if strings.Contains(page[start:end], banned) {
			t.Errorf("the style sheet has %q", banned)
		}
	}
	if strings.Contains(page, "ZgotmplZ") {
		t.Error("html/template rejected a value (ZgotmplZ in the page)")
	}
}

// TestPlanShowsNoValues: a plan's field values and diffs never reach the
// page — not a Deployment's, and so not a Secret's whatever the plan
// holds. Paths do.
func TestPlanShowsNoValues(t *testing.T) {
	p := laterPlan()
	obj := &p.Regions[0].Clusters[0].Objects[2] // serving-eu's Secret
	if obj.Kind != "Secret" {
		t.Fatalf("fixture moved: object 2 of serving-eu is a %s", obj.Kind)
	}
	obj.Changes[0].Before, obj.Changes[0].After = "c2VjcmV0LWJlZm9yZQ==", "c2VjcmV0LWFmdGVy"
	obj.Diff = "-  token: c2VjcmV0LWJlZm9yZQ==\n+  token: c2VjcmV0LWFmdGVy\n"
	dep := &p.Regions[0].Clusters[0].Objects[3]
	dep.Diff = "-  replicas: 2\n+  replicas: 4\n# diff-only-line\n"
	page := planPage(t, p)
	for _, secret := range []string{"c2VjcmV0LWJlZm9yZQ==", "c2VjcmV0LWFmdGVy", "diff-only-line", "(sensitive, changed)", "replicas: 4"} {
		if strings.Contains(page, secret) {
			t.Errorf("the page shows %q", secret)
		}
	}
	for _, path := range []string{"data.token", "spec.replicas", "data.MAX_BATCH"} {
		if !strings.Contains(page, "<code>"+path+"</code>") {
			t.Errorf("the page does not name the changed field %s", path)
		}
	}
}

// TestEscapes: the free text of a plan and a status (reasons, errors,
// warnings, explanations) is escaped, wherever it lands.
func TestEscapes(t *testing.T) {
	const evil = `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	p := laterPlan()
	p.Warnings = append(p.Warnings, evil)
	p.Regions[1].Clusters[0].Unreachable = evil
	p.Regions[3].Clusters[0].Objects[1].Reason = evil
	p.Placements[0].Explanation = append(p.Placements[0].Explanation, evil)
	p.TopologyFile = evil
	s := laterStatus()
	s.Warnings = append(s.Warnings, evil)
	s.Regions[0].Clusters[0].Errors = append(s.Regions[0].Clusters[0].Errors, evil)
	s.Regions[3].Clusters[0].Workloads[0].NotReady[0].Reason = evil
	for name, page := range map[string]string{"plan": planPage(t, p), "status": statusPage(t, s)} {
		for _, raw := range []string{"<script", "<img"} {
			if strings.Contains(page, raw) {
				t.Errorf("%s page holds %q unescaped", name, raw)
			}
		}
		if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s page lacks the escaped text", name)
		}
		checkSelfContained(t, page)
	}
}

type failingWriter struct{ writes int }

func (w *failingWriter) Write([]byte) (int, error) {
	w.writes++
	return 0, os.ErrClosed
}

// TestWriteErrors: a failing writer is reported, after one write — the
// page is rendered whole before any of it is written.
func TestWriteErrors(t *testing.T) {
	w := &failingWriter{}
	if err := Plan(w, laterPlan()); err == nil {
		t.Error("Plan succeeded on a failing writer")
	}
	if err := Status(w, laterStatus()); err == nil {
		t.Error("Status succeeded on a failing writer")
	}
	if w.writes != 2 {
		t.Errorf("%d writes, want one per page", w.writes)
	}
}

// TestPlanNoChanges: a plan with nothing to do says so, and its clusters
// read "no changes" on the map.
func TestPlanNoChanges(t *testing.T) {
	p := laterPlan()
	p.Regions = p.Regions[4:] // training-us
	c := &p.Regions[0].Clusters[0]
	c.GKE.Action, c.GKE.NodePools = "noop", nil
	c.Objects[2].Action, c.Objects[2].Changes = "noop", nil
	p.Placements, p.Orphans, p.Warnings, p.Summary = p.Placements[:1], nil, nil, plan.Summary{}
	p.Placements[0].Shares = p.Placements[0].Shares[1:]
	page := planPage(t, p)
	checkPlanPage(t, page, p, map[string]planWant{"training-us": {health: "reachable"}})
	if v := elements(page, "data-verdict")[0].attrs["data-verdict"]; v != "no-changes" {
		t.Errorf("data-verdict=%q, want no-changes", v)
	}
	label := elements(page, "data-map-cluster")[0]
	if got := text(label.inner); got != "training-us no changes" {
		t.Errorf("map label %q, want %q", got, "training-us no changes")
	}
}

// TestPlanRegionNotInCatalogue: a region the catalogue has no coordinates
// for (an orphan's, from a newer GCP than this build knows) keeps its
// section and is named under the map instead of pinned on it.
func TestPlanRegionNotInCatalogue(t *testing.T) {
	p := laterPlan()
	p.Orphans = append(p.Orphans, gke.ClusterChange{Region: "antarctica-south1", Project: "acme-ml", Location: "antarctica-south1-a",
		Cluster: "old-pole", Action: object.ActionAttention, Reasons: []string{gke.ReasonOrphan}})
	p.Summary.Attention++
	page := planPage(t, p)
	checkPlanPage(t, page, p, laterPlanWant)
	if got := elements(page, "data-unplaced"); len(got) != 1 || got[0].attrs["data-unplaced"] != "antarctica-south1" {
		t.Errorf("regions named as not on the map: %v, want antarctica-south1", got)
	}
}
