package apply

import (
	"context"
	"fmt"
	"strings"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// deleteGKE deletes a managed cluster destroy was told to delete, once its
// objects are gone and its lock released. It converges: an operation
// already in flight (a delete an earlier, interrupted destroy started) is
// awaited, and a cluster already gone is done.
func (r *runner) deleteGKE(ctx context.Context, out *Outcome, pc plan.Cluster) {
	ch := pc.GKE
	where := fmt.Sprintf("GKE cluster %s (projects/%s/locations/%s)", ch.Cluster, ch.Project, ch.Location)
	progress := func(msg string) { r.say("%s: %s", pc.Name, msg) }
	ctx, cancel := context.WithTimeoutCause(ctx, r.opts.GKETimeout,
		fmt.Errorf("GKE did not finish deleting %s within --gke-timeout %s; re-running destroy awaits the operation", where, r.opts.GKETimeout))
	defer cancel()
	live, _, err := r.opts.GKE.AwaitCluster(ctx, ch.Project, ch.Location, ch.Cluster, progress)
	if err != nil {
		out.Err = fmt.Errorf("waiting for GKE to finish its work on %s: %w", where, causeOf(ctx, err))
		return
	}
	if live == nil {
		out.GKE = GKEDeleted
		return
	}
	r.say("%s: deleting %s", pc.Name, where)
	op, err := r.opts.GKE.DeleteCluster(ctx, ch.Project, ch.Location, ch.Cluster)
	if err != nil {
		out.Err = err
		return
	}
	if err := r.opts.GKE.WaitOperation(ctx, ch.Project, ch.Location, op, progress); err != nil {
		out.Err = fmt.Errorf("deleting %s: %w", where, causeOf(ctx, err))
		return
	}
	out.GKE = GKEDeleted
}

// DestroySummary is destroy's closing report: what was deleted, what was
// kept and why, and the clusters that failed.
func (r *Result) DestroySummary() string {
	var deleted, clusters, removed int
	var kept []string
	for _, c := range r.Clusters {
		deleted += c.Pruned
		if c.GKE == GKEDeleted {
			clusters++
		}
		if c.InventoryRemoved {
			removed++
		}
		if c.Kept > 0 {
			kept = append(kept, fmt.Sprintf("%s (%d)", c.Name, c.Kept))
		}
	}
	var b strings.Builder
	failed := r.FailedClusters()
	switch {
	case len(failed) > 0:
		fmt.Fprintf(&b, "Destroy failed on %d of %d clusters: %d objects deleted, %d GKE clusters deleted.\n", len(failed), len(r.Clusters), deleted, clusters)
		for _, c := range r.Clusters {
			if c.Failed() {
				fmt.Fprintf(&b, "  ! %s (%s): %s\n", c.Name, c.Region, c.describe(false))
			}
		}
		b.WriteString("Re-running destroy carries on where this one stopped.\n")
	case len(kept) > 0:
		fmt.Fprintf(&b, "Destroy incomplete: %d objects deleted, %d GKE clusters deleted; kept on %s (see above: prune disabled on them, or holding what geofed did not apply), still recorded: destroy again once that changes.\n",
			deleted, clusters, strings.Join(kept, ", "))
	default:
		fmt.Fprintf(&b, "Destroy complete: %d objects deleted, %d inventories removed, %d GKE clusters deleted.\n", deleted, removed, clusters)
	}
	return b.String()
}

// Incomplete reports whether destroy left anything geofed owns behind.
func (r *Result) Incomplete() bool {
	for _, c := range r.Clusters {
		if c.Kept > 0 {
			return true
		}
	}
	return r.Failed()
}

// Left says, one line per cluster, what a destroy left behind and why: a
// cluster it could not reach or plan, one it failed on, the objects it kept
// because they hold what geofed did not apply. Nothing when the destroy is
// complete. res is nil when nothing was applied.
func Left(p *plan.Plan, res *Result) []string {
	outcomes := map[string]Outcome{}
	if res != nil {
		for _, o := range res.Clusters {
			outcomes[o.Name] = o
		}
	}
	var out []string
	for _, r := range p.Regions {
		for _, c := range r.Clusters {
			var why []string
			switch {
			case c.Unreachable != "":
				why = append(why, "unreachable: "+c.Unreachable)
			case c.Error != "":
				why = append(why, "not planned: "+c.Error)
			}
			kept := 0
			for _, o := range c.Objects {
				if o.Action == object.ActionKeep {
					kept++
					why = append(why, fmt.Sprintf("%s %s: %s", o.Kind, objectName(o.Namespace, o.Name), o.Reason))
				}
			}
			if o, ok := outcomes[c.Name]; ok && c.Unreachable == "" {
				switch {
				case o.Skipped != "":
					why = append(why, "skipped: "+o.Skipped)
				case o.Err != nil:
					why = append(why, "failed: "+o.Err.Error())
				case o.Kept > kept:
					// Kept by apply: something arrived after the plan.
					why = append(why, fmt.Sprintf("objects kept, holding what geofed did not apply: %d", o.Kept))
				}
			}
			if len(why) > 0 {
				out = append(out, c.Name+": "+strings.Join(why, "; "))
			}
		}
	}
	return out
}

func objectName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}
