package htmlview

import (
	"strings"
	"testing"

	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// TestPlanPruneGuard: a cluster the prune guard holds shows the guard's
// line, as the text view prints it, inside its card, which needs a
// person; the header counts it.
func TestPlanPruneGuard(t *testing.T) {
	p := laterPlan()
	c := &p.Regions[0].Clusters[0]
	c.PruneGuard = &plan.ClusterGuard{Deleting: 12, Owned: 14, Reasons: []string{
		"workload web no longer selects it: clusterSelector tier=front, the cluster's labels tier=fornt"}}
	p.Summary.Guarded = 1
	page := planPage(t, p)

	want := plan.GuardLine(c.Name, c.PruneGuard)
	var found bool
	for _, card := range elements(page, "data-cluster") {
		if card.tag != "article" {
			continue
		}
		guards := elements(card.inner, "data-prune-guard")
		if card.attrs["data-cluster"] != c.Name {
			if len(guards) > 0 {
				t.Errorf("card %s shows a prune guard: %s", card.attrs["data-cluster"], text(guards[0].inner))
			}
			continue
		}
		found = true
		if len(guards) != 1 || text(guards[0].inner) != "! "+want {
			t.Errorf("card %s: prune guard elements %v, want one saying %q", c.Name, guards, want)
		}
		if !strings.Contains(card.attrs["class"], stateBad) {
			t.Errorf("card %s class %q, want %s", c.Name, card.attrs["class"], stateBad)
		}
	}
	if !found {
		t.Fatalf("no card for %s", c.Name)
	}
	if !strings.Contains(page, `data-figure="guarded" data-n="1"><dt>cluster held by the prune guard</dt>`) {
		t.Errorf("the page's figures do not count the held cluster")
	}
}
