package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/client-go/kubernetes"

	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

// provision makes a managed cluster's GKE side what the plan asked — creates
// it, waits for a create or change already in flight, or changes it in
// place — and returns the live cluster, running and ready to connect to.
//
// In place means GKE operations one after the other (gke.Updates), then
// the node pools to replace and to delete (nodepools.go), whose nodes are
// drained through the cluster's own connection, the one plan made.
//
// It converges: a cluster another apply began creating is awaited, never
// created twice, and a cluster the plan would create that exists now is
// used if it is geofed's; an operation still in flight is awaited, and a
// replacement left half done is finished. A cluster that needs attention
// is refused before anything is changed, and so are node pool changes
// when the cluster's nodes cannot be reached to drain them.
func (r *runner) provision(ctx context.Context, out *Outcome, desired *containerpb.Cluster, ch *gke.ClusterChange) (*containerpb.Cluster, error) {
	name := desired.GetName()
	project, location := gke.Project(desired), desired.GetLocation()
	where := fmt.Sprintf("GKE cluster %s (projects/%s/locations/%s)", name, project, location)
	progress := func(msg string) { r.say("%s: %s", name, msg) }
	// Every GKE wait is bounded: one stuck operation fails its cluster
	// alone instead of holding every later wave.
	ctx, cancel := context.WithTimeoutCause(ctx, r.opts.GKETimeout,
		fmt.Errorf("GKE did not finish its work on %s within --gke-timeout %s; re-running apply awaits an operation still in flight", where, r.opts.GKETimeout))
	defer cancel()

	var updates []gke.Update
	var drained []gke.NodePoolChange
	if ch != nil {
		var err error
		if updates, err = gke.Updates(*ch, desired); err != nil {
			return nil, err
		}
		drained = drainedPools(*ch)
	}
	var kube kubernetes.Interface
	if len(drained) > 0 {
		conn := r.opts.Planned.Observation.Conn(name)
		if conn == nil || conn.Err != nil {
			why := "it was not connected to"
			if conn != nil {
				why = conn.Err.Error()
			}
			return nil, fmt.Errorf("%s: node pools to replace or delete have their nodes drained through the cluster's API, which geofed cannot reach: %s", where, why)
		}
		var err error
		if kube, err = kubernetes.NewForConfig(conn.Config); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}

	live, op, err := r.opts.GKE.AwaitCluster(ctx, project, location, name, progress)
	if op != nil && op.GetOperationType() == containerpb.Operation_CREATE_CLUSTER && err == nil {
		out.GKE = GKECreated
	}
	if err != nil {
		return nil, fmt.Errorf("waiting for GKE to finish its work on %s: %w", where, causeOf(ctx, err))
	}
	if live == nil {
		r.say("%s: creating %s", name, where)
		op, err := r.opts.GKE.CreateCluster(ctx, desired)
		switch {
		case status.Code(err) == codes.AlreadyExists:
			// Created since it was looked up: by a concurrent apply, say.
			if live, _, err = r.opts.GKE.AwaitCluster(ctx, project, location, name, progress); err != nil {
				return nil, fmt.Errorf("waiting for GKE to finish its work on %s: %w", where, err)
			}
		case err != nil:
			return nil, err
		default:
			if err := r.opts.GKE.WaitOperation(ctx, project, location, op, progress); err != nil {
				return nil, fmt.Errorf("creating %s: %w", where, causeOf(ctx, err))
			}
			out.GKE = GKECreated
			if live, err = r.opts.GKE.GetCluster(ctx, project, location, name); err != nil {
				return nil, err
			}
		}
		if live == nil {
			return nil, fmt.Errorf("%s: GKE reported it created, but it does not exist", where)
		}
		// Just created as the topology says: nothing to change.
		updates, drained = nil, nil
	}
	// Whatever the plan saw, geofed acts only on a cluster it owns and GKE
	// reports healthy; the node counts are not needed for that.
	if now := gke.Diff(desired, live, nil); now.Action == object.ActionAttention {
		return nil, fmt.Errorf("%s needs attention, geofed leaves it alone: %s", where, strings.Join(now.Reasons, "; "))
	}
	if s := live.GetStatus(); s != containerpb.Cluster_RUNNING {
		return nil, fmt.Errorf("%s is %s, not RUNNING", where, s)
	}

	if len(updates) == 0 && len(drained) == 0 {
		return live, nil
	}
	for _, u := range updates {
		r.say("%s: updating: %s", name, u.Description)
		op, err := r.opts.GKE.StartUpdate(ctx, desired, live, u)
		if err != nil {
			return nil, err
		}
		if err := r.opts.GKE.WaitOperation(ctx, project, location, op, progress); err != nil {
			return nil, fmt.Errorf("updating %s: %s: %w", where, u.Description, causeOf(ctx, err))
		}
		out.GKE = GKEUpdated
	}
	if len(drained) > 0 {
		p := &pools{r: r, desired: desired, project: project, location: location, where: where, kube: kube, progress: progress}
		err := p.run(ctx, drained)
		if p.changed {
			out.GKE = GKEUpdated
		}
		if err != nil {
			return nil, causeOf(ctx, err)
		}
	}
	live, err = r.opts.GKE.GetCluster(ctx, project, location, name)
	if err == nil && live == nil {
		err = errors.New(where + " disappeared while it was being updated")
	}
	return live, err
}

// causeOf adds why ctx ended (a --gke-timeout, say) to an error it caused.
func causeOf(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil && !errors.Is(err, cause) {
		return fmt.Errorf("%w: %w", cause, err)
	}
	return err
}
