package apply

import (
	"fmt"
	"strings"

	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// What happened to a GKE cluster (Outcome.GKE).
const (
	GKECreated = "created"
	GKEUpdated = "updated"
	GKEDeleted = "deleted"
)

// Outcome is what apply did to one member cluster.
type Outcome struct {
	Name   string
	Region string
	// GKE is GKECreated (created now, or a create in flight was awaited),
	// GKEUpdated, or "" when the GKE cluster was left as it was or the
	// cluster is joined.
	GKE string
	// Applied counts the objects sent; Pruned those deleted.
	Applied int
	Pruned  int
	// Ready is set when apply waited and every object became ready.
	Ready bool
	// Held names desired objects apply left alone because they are being
	// deleted; the cluster fails until a later apply creates them.
	Held []string
	// Skipped says why nothing was tried on the cluster.
	Skipped string
	// Kept counts, for destroy, the objects still recorded because they
	// hold what geofed did not apply; InventoryRemoved says the cluster's
	// inventory is gone, nothing being left to record.
	Kept             int
	InventoryRemoved bool
	// PruneHeld is the prune guard that held the cluster's deletions:
	// every other change was made, nothing deleted. The cluster counts as
	// failed until a plan allows them (--allow-prune).
	PruneHeld *plan.ClusterGuard
	// Err is why the cluster failed; what was done before it is counted.
	Err error
}

// Failed reports whether the cluster did not end as the plan asked.
func (o Outcome) Failed() bool { return o.Err != nil || o.Skipped != "" || o.PruneHeld != nil }

// PruneHeldClusters names the clusters whose deletions the prune guard held.
func (r *Result) PruneHeldClusters() []string {
	var out []string
	for _, c := range r.Clusters {
		if c.PruneHeld != nil {
			out = append(out, c.Name)
		}
	}
	return out
}

// Result is what apply did to every cluster of the plan.
type Result struct {
	// Clusters are in plan order: by region, then name.
	Clusters []Outcome
	// Waited says whether readiness was waited for (--wait).
	Waited bool
}

// Failed reports whether any cluster failed or was skipped.
func (r *Result) Failed() bool {
	for _, c := range r.Clusters {
		if c.Failed() {
			return true
		}
	}
	return false
}

// FailedClusters names the clusters that failed or were skipped.
func (r *Result) FailedClusters() []string {
	var out []string
	for _, c := range r.Clusters {
		if c.Failed() {
			out = append(out, c.Name)
		}
	}
	return out
}

// Summary is the closing report: one line when everything succeeded, else
// a line of totals and one line per cluster saying what happened to it.
func (r *Result) Summary() string {
	var created, updated, applied, pruned int
	for _, c := range r.Clusters {
		switch c.GKE {
		case GKECreated:
			created++
		case GKEUpdated:
			updated++
		}
		applied += c.Applied
		pruned += c.Pruned
	}
	totals := fmt.Sprintf("%d clusters created, ", created)
	if updated > 0 {
		totals += fmt.Sprintf("%d changed, ", updated)
	}
	totals += fmt.Sprintf("%d objects applied, %d pruned", applied, pruned)

	failed := r.FailedClusters()
	if len(failed) == 0 {
		tail := "All workloads ready."
		if !r.Waited {
			tail = "Readiness not checked (--wait=false)."
		}
		return fmt.Sprintf("Apply complete: %s. %s\n", totals, tail)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Apply failed on %d of %d clusters: %s.\n", len(failed), len(r.Clusters), totals)
	for _, c := range r.Clusters {
		fmt.Fprintf(&b, "  %s %s (%s): %s\n", mark(c), c.Name, c.Region, c.describe(r.Waited))
	}
	return b.String()
}

func mark(c Outcome) string {
	if c.Failed() {
		return "!"
	}
	return " "
}

// describe says what happened to one cluster, for Summary.
func (c Outcome) describe(waited bool) string {
	var parts []string
	if c.GKE != "" {
		parts = append(parts, "GKE cluster "+c.GKE)
	}
	if c.Applied > 0 || c.Pruned > 0 || c.Err == nil && c.Skipped == "" {
		parts = append(parts, fmt.Sprintf("%d applied, %d pruned", c.Applied, c.Pruned))
	}
	if g := c.PruneHeld; g != nil {
		parts = append(parts, fmt.Sprintf("prune guard: %d deletions held, nothing deleted (%s); review the plan and re-run with --allow-prune=%s",
			g.Deleting, strings.Join(g.Reasons, "; "), c.Name))
	}
	switch {
	case c.Skipped != "":
		parts = append(parts, "skipped: "+c.Skipped)
	case c.Err != nil:
		parts = append(parts, "failed: "+c.Err.Error())
	case c.Ready:
		parts = append(parts, "ready")
	case !waited:
		parts = append(parts, "readiness not checked")
	}
	return strings.Join(parts, ", ")
}
