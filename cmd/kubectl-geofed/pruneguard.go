package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// pruneGuardFlags are the prune guard's flags, plan's and apply's.
type pruneGuardFlags struct {
	MaxPrune      string
	MaxPruneFleet string
	AllowPrune    []string
	// guard is what the flags say, set by validate; changed says the
	// command line set one of them (apply of a saved plan refuses that).
	guard   plan.GuardOptions
	changed bool
}

const pruneGuardHelp = `
Blast radius: plan weighs every cluster's deletions against what geofed owns
there (the objects its inventory records). A cluster is held by the prune
guard when its deletions pass --max-prune (default 50%,10: more than half of
what geofed owns there AND more than 10 objects), or take every object of a
workload still in the topology off it (a label typo that drops the cluster
from a clusterSelector, an overlay that renders nothing), or when the fleet's
deletions together pass --max-prune-fleet (default 50%,10, across every
cluster planned: many small clusters emptied at once). The plan says so
("! prune guard: …", naming the workload and why); apply then makes every
other change, deletes nothing on a held cluster and exits 1, unless
--allow-prune names it (or all). A plan saved with --out records what was
allowed, and applying it honours exactly that. An object annotated
geofed.io/prune: disabled is never deleted, by prune or destroy.`

func (f *pruneGuardFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.MaxPrune, "max-prune", plan.DefaultMaxPrune.String(),
		"Hold a cluster's deletions past this: a share of what geofed owns there and a count, both exceeded (50%,10), or either alone (25%, 100)")
	cmd.Flags().StringVar(&f.MaxPruneFleet, "max-prune-fleet", plan.DefaultMaxPruneFleet.String(),
		"Hold every cluster's deletions when the fleet's together pass this (same form as --max-prune)")
	cmd.Flags().StringSliceVar(&f.AllowPrune, "allow-prune", nil,
		"Clusters whose deletions the prune guard holds that apply deletes anyway (comma-separated), or all")
	_ = cmd.RegisterFlagCompletionFunc("max-prune", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("max-prune-fleet", cobra.NoFileCompletions)
}

// complete notes whether the command line set a guard flag.
func (f *pruneGuardFlags) complete(cmd *cobra.Command) {
	for _, name := range []string{"max-prune", "max-prune-fleet", "allow-prune"} {
		f.changed = f.changed || cmd.Flags().Changed(name)
	}
}

// validate reads the limits; one left empty (Options built without the
// command) is its default.
func (f *pruneGuardFlags) validate() error {
	cluster, fleet := plan.DefaultMaxPrune, plan.DefaultMaxPruneFleet
	var err error
	if f.MaxPrune != "" {
		if cluster, err = plan.ParsePruneLimit(f.MaxPrune); err != nil {
			return fmt.Errorf("--max-prune %w", err)
		}
	}
	if f.MaxPruneFleet != "" {
		if fleet, err = plan.ParsePruneLimit(f.MaxPruneFleet); err != nil {
			return fmt.Errorf("--max-prune-fleet %w", err)
		}
	}
	var allow []string
	for _, a := range f.AllowPrune {
		if a = strings.TrimSpace(a); a != "" {
			allow = append(allow, a)
		}
	}
	f.guard = plan.GuardOptions{MaxPrune: &cluster, MaxPruneFleet: &fleet, Allow: allow}
	return nil
}

// heldNote tells, after a plan, which clusters the guard holds and how to
// allow them; "" when none.
func heldNote(p *plan.Plan) string {
	var held []string
	for _, r := range p.Regions {
		for _, c := range r.Clusters {
			if c.PruneGuard.Held() {
				held = append(held, c.Name)
			}
		}
	}
	if len(held) == 0 {
		return ""
	}
	slices.Sort(held)
	return fmt.Sprintf("The prune guard holds the deletions on %s: apply deletes nothing there. Once reviewed, plan or apply with --allow-prune=%s.",
		strings.Join(held, ", "), strings.Join(held, ","))
}
