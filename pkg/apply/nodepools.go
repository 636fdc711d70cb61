package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/client-go/kubernetes"

	"github.com/geofed-io/kubectl-geofed/pkg/drain"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

// drainedPools are the node pool changes of ch that move pods off nodes
// before a pool goes: replacements, then deletions, so that pods a deleted
// pool's drain evicts can land on a replacement's nodes.
func drainedPools(ch gke.ClusterChange) []gke.NodePoolChange {
	var replace, remove []gke.NodePoolChange
	for _, p := range ch.NodePools {
		switch p.Action {
		case object.ActionReplace:
			replace = append(replace, p)
		case object.ActionDelete:
			remove = append(remove, p)
		}
	}
	return append(replace, remove...)
}

// pools replaces and deletes node pools of a running GKE cluster, the
// nodes drained through the cluster's own API.
type pools struct {
	r        *runner
	desired  *containerpb.Cluster
	project  string
	location string
	where    string // "GKE cluster C (projects/P/locations/L)", for errors
	kube     kubernetes.Interface
	progress func(string)
	// changed is set once anything was asked of GKE.
	changed bool
}

// run makes the planned changes, one after the other. Each step looks at
// GKE and at the nodes first and does only what is left, so that a re-run
// after an interrupted apply (SIGKILL included) carries on from where that
// one stopped: a replacement pool already created is used, nodes already
// cordoned stay so, a pool already deleted is not deleted again. What the
// cluster holds now must still be what the plan said: a pool that changed
// identity since (the topology's pool now, or no longer the replacement) is
// refused, to plan again.
func (p *pools) run(ctx context.Context, changes []gke.NodePoolChange) error {
	for _, ch := range changes {
		var err error
		switch {
		case ch.Action == object.ActionReplace && ch.Replacement != nil:
			err = p.replace(ctx, ch)
			if err != nil {
				err = fmt.Errorf("replacing node pool %s of %s: %w", ch.Name, p.where, err)
			}
		case ch.Action == object.ActionDelete:
			err = p.remove(ctx, ch.Name, "")
			if err != nil {
				err = fmt.Errorf("deleting node pool %s of %s: %w", ch.Name, p.where, err)
			}
		default:
			err = fmt.Errorf("node pool %s of %s: the plan asks to %s it, with no replacement pool named", ch.Name, p.where, ch.Action)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// replace creates the new pool unless it exists, waits for its nodes to be
// Ready, then drains and deletes each old pool.
func (p *pools) replace(ctx context.Context, ch gke.NodePoolChange) error {
	rep := ch.Replacement
	dp := poolOf(p.desired, ch.Name)
	if dp == nil {
		return fmt.Errorf("the topology has no node pool %s", ch.Name)
	}
	live, err := p.live(ctx)
	if err != nil {
		return err
	}
	want := -1 // nodes to wait for; unknown until the new pool is known
	if poolOf(live, rep.Pool) == nil {
		if rep.Exists {
			return fmt.Errorf("the new pool %s the plan found is gone; run plan again", rep.Pool)
		}
		perZone, err := p.startSize(ctx, dp, rep.Old)
		if err != nil {
			return err
		}
		p.progress(fmt.Sprintf("node pool %s: creating %s (%d nodes per zone) to replace %s", ch.Name, rep.Pool, perZone, joinNames(rep.Old)))
		if err := p.wait(ctx, "creating node pool "+rep.Pool, func() (*containerpb.Operation, error) {
			return p.r.opts.GKE.CreateNodePool(ctx, p.desired, gke.PoolNamed(dp, rep.Pool, perZone))
		}); err != nil && status.Code(err) != codes.AlreadyExists {
			return err
		}
		if live, err = p.live(ctx); err != nil {
			return err
		}
		want = int(perZone)
	}
	np := poolOf(live, rep.Pool)
	switch keep := gke.LivePool(dp, live); {
	case np == nil:
		return fmt.Errorf("GKE does not list the new pool %s after creating it", rep.Pool)
	case keep != np:
		return fmt.Errorf("node pool %s in GKE is not a pool GKE can change into the topology's %s (it stands for %q); run plan again",
			rep.Pool, ch.Name, gke.TopologyName(np))
	case np.GetStatus() != containerpb.NodePool_RUNNING:
		return fmt.Errorf("GKE reports the new pool %s %s%s; the old pools are kept", rep.Pool, np.GetStatus(), suffix(": ", np.GetStatusMessage()))
	}
	if want < 0 {
		want = int(floor(dp))
	}
	want *= max(len(np.GetLocations()), 1)

	// A drain of this pool an earlier apply began (its pools swapped
	// since) is given back before pods are moved onto it.
	selector := gke.LabelNodePool + "=" + rep.Pool
	if back, err := drain.Uncordon(ctx, p.kube, selector); err != nil {
		return err
	} else if len(back) > 0 {
		p.progress(fmt.Sprintf("node pool %s: uncordoned %s, cordoned by an earlier apply", rep.Pool, joinNames(back)))
	}
	if err := p.ready(ctx, rep.Pool, want); err != nil {
		return err
	}
	for _, old := range rep.Old {
		if err := p.remove(ctx, old, rep.Pool); err != nil {
			return fmt.Errorf("node pool %s: %w", old, err)
		}
	}
	return nil
}

// remove drains and deletes the pool called name in GKE. With a
// replacement, the replacement's nodes are checked Ready once more right
// before the old pool goes.
func (p *pools) remove(ctx context.Context, name, replacement string) error {
	live, err := p.live(ctx)
	if err != nil {
		return err
	}
	lp := poolOf(live, name)
	if lp == nil {
		p.progress(fmt.Sprintf("node pool %s: already deleted", name))
		return nil
	}
	for _, dp := range p.desired.GetNodePools() {
		if gke.LivePool(dp, live) == lp {
			return fmt.Errorf("it is the topology's node pool %s now, not one to delete; run plan again", dp.GetName())
		}
	}
	if lp.GetAutoscaling().GetEnabled() {
		// Else the autoscaler grows the pool being drained for the very
		// pods the drain evicts.
		p.progress(fmt.Sprintf("node pool %s: autoscaling off before the drain", name))
		if err := p.wait(ctx, "turning autoscaling off", func() (*containerpb.Operation, error) {
			return p.r.opts.GKE.SetNodePoolAutoscaling(ctx, p.desired, name, nil)
		}); err != nil {
			return err
		}
	}
	p.progress(fmt.Sprintf("node pool %s: draining its nodes", name))
	res, err := drain.Drain(ctx, p.kube, drain.Options{Selector: gke.LabelNodePool + "=" + name, Progress: func(s string) {
		p.progress("node pool " + name + ": " + s)
	}})
	if err != nil {
		return fmt.Errorf("draining its nodes: %w", err)
	}
	p.progress(fmt.Sprintf("node pool %s: drained %d nodes, %d pods evicted", name, len(res.Nodes), res.Evicted))
	if replacement != "" {
		live, err := p.live(ctx)
		if err != nil {
			return err
		}
		np := poolOf(live, replacement)
		if np == nil || np.GetStatus() != containerpb.NodePool_RUNNING {
			return fmt.Errorf("the replacement %s is %s now; not deleting the pool it replaces", replacement, poolStatus(np))
		}
		if err := p.ready(ctx, replacement, 0); err != nil {
			return err
		}
	}
	p.progress(fmt.Sprintf("node pool %s: deleting it", name))
	return p.wait(ctx, "deleting node pool "+name, func() (*containerpb.Operation, error) {
		return p.r.opts.GKE.DeleteNodePool(ctx, p.desired, name)
	})
}

// startSize is how many nodes per zone a replacement of dp starts with
// (replacementSize), counting the old pools' nodes when dp autoscales.
func (p *pools) startSize(ctx context.Context, dp *containerpb.NodePool, old []string) (int32, error) {
	if !dp.GetAutoscaling().GetEnabled() {
		return replacementSize(dp, nil, old), nil
	}
	counts, err := gke.CountNodes(ctx, p.kube.CoreV1().Nodes())
	if err != nil {
		return 0, err
	}
	return replacementSize(dp, counts, old), nil
}

// replacementSize is how many nodes per zone a replacement of dp starts
// with: the topology's count for a fixed-size pool; for one that
// autoscales, the most the old pools have in a zone now, within its
// bounds, so that the pods drained off them find room at once instead of
// waiting for the autoscaler.
func replacementSize(dp *containerpb.NodePool, counts gke.NodeCounts, old []string) int32 {
	a := dp.GetAutoscaling()
	if !a.GetEnabled() {
		return dp.GetInitialNodeCount()
	}
	var most int32
	for _, o := range old {
		for _, n := range counts[o] {
			most = max(most, n)
		}
	}
	return min(max(most, a.GetMinNodeCount()), a.GetMaxNodeCount())
}

// ready waits until the pool has at least want nodes, every one of them
// Ready and schedulable.
func (p *pools) ready(ctx context.Context, pool string, want int) error {
	return drain.WaitReady(ctx, p.kube, gke.LabelNodePool+"="+pool, want, 0, func(s string) {
		p.progress(fmt.Sprintf("node pool %s: waiting for its nodes: %s", pool, s))
	})
}

// wait starts a GKE operation and waits for it to end.
func (p *pools) wait(ctx context.Context, doing string, start func() (*containerpb.Operation, error)) error {
	op, err := start()
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	p.changed = true
	if err := p.r.opts.GKE.WaitOperation(ctx, p.project, p.location, op, p.progress); err != nil {
		return fmt.Errorf("%s: %w", doing, causeOf(ctx, err))
	}
	return nil
}

func (p *pools) live(ctx context.Context) (*containerpb.Cluster, error) {
	live, err := p.r.opts.GKE.GetCluster(ctx, p.project, p.location, p.desired.GetName())
	if err == nil && live == nil {
		err = errors.New("the cluster disappeared")
	}
	return live, err
}

// floor is the fewest nodes per zone a pool has: its autoscaling minimum,
// else its size.
func floor(p *containerpb.NodePool) int32 {
	if a := p.GetAutoscaling(); a.GetEnabled() {
		return a.GetMinNodeCount()
	}
	return p.GetInitialNodeCount()
}

func poolOf(c *containerpb.Cluster, name string) *containerpb.NodePool {
	for _, p := range c.GetNodePools() {
		if p.GetName() == name {
			return p
		}
	}
	return nil
}

func poolStatus(p *containerpb.NodePool) string {
	if p == nil {
		return "gone"
	}
	return p.GetStatus().String() + suffix(": ", p.GetStatusMessage())
}

func suffix(sep, s string) string {
	if s == "" {
		return ""
	}
	return sep + s
}

func joinNames(names []string) string {
	names = slices.Clone(names)
	slices.Sort(names)
	return strings.Join(names, ", ")
}
