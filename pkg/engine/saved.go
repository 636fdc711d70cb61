package engine

import (
	"context"
	"fmt"

	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// SavedOptions say which saved plan to plan again, and how.
type SavedOptions struct {
	// Path is the file plan --out wrote.
	Path string
	// TopologyFile is the topology planned again; "" is the one the saved
	// plan names.
	TopologyFile string
	// PlanOptions say how to read the fleet. Its Topology is loaded here,
	// and its Guard is the one the saved plan was reviewed with.
	PlanOptions
}

// Replan checks an apply plan saved with plan --out: it refuses one of
// another mode or an incomplete one, plans its topology again with the
// prune guard it was reviewed with (allowances and all), and returns the
// fresh plan only when nothing changed since — otherwise a
// *plan.StaleError, naming the file. Apply executes that fresh plan: what
// was reviewed, over connections made now.
func (s *Session) Replan(ctx context.Context, o SavedOptions) (*plan.Result, error) {
	saved, err := plan.Load(o.Path, plan.ModeApply)
	if err != nil {
		return nil, err
	}
	if saved.Failed() {
		return nil, fmt.Errorf("the saved plan %s is incomplete (%s): plan again when every cluster can be reached", o.Path, saved.Summary.Failures())
	}
	file := o.TopologyFile
	if file == "" {
		file = saved.TopologyFile
	}
	opts := o.PlanOptions
	if opts.Topology, err = topology.Load(file); err != nil {
		return nil, err
	}
	if opts.Guard, err = saved.PruneGuard.Options(); err != nil {
		return nil, fmt.Errorf("the saved plan %s: pruneGuard.%w", o.Path, err)
	}
	opts.Mode = plan.ModeApply
	fresh, err := s.Plan(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := plan.Stale(saved, fresh.Plan); err != nil {
		return nil, fmt.Errorf("%s: %w", o.Path, err)
	}
	return fresh, nil
}
