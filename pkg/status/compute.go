package status

import (
	"context"
	"errors"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/observe"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// Options say what to report on and how.
type Options struct {
	// Observe says what to read: the topology, GKE, member connections.
	observe.Options
	// FS holds the kustomize apps; the disk when nil.
	FS filesys.FileSystem
	// FullRefresh counts drift exactly: every object is dry-run through
	// plan (plan --refresh=full), at the cost of a request per object.
	FullRefresh bool
	// Parallel bounds how many clusters are read at once (default
	// member.DefaultParallel).
	Parallel int
	// Now stamps the status; time.Now when nil.
	Now func() time.Time
}

// Compute reads the state of every cluster of the topology. It observes
// as plan does (GKE, a connection to every member, capacity when a
// workload divides replicas) and computes the same desired state, then per
// reachable cluster reads geofed's inventory, LISTs geofed's objects once
// per kind and namespace, and the nodes and bound pods when observing did
// not already. Pods are listed again only in namespaces where a workload
// is not ready, to say why. A cluster that cannot be reached is reported,
// never fatal; errors are returned only when nothing sensible can be
// reported (a topology whose workloads cannot be rendered).
func Compute(ctx context.Context, opts Options) (*Status, error) {
	t := opts.Topology
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = member.DefaultParallel
	}
	s := &Status{
		APIVersion:   APIVersion,
		Topology:     t.Metadata.Name,
		TopologyFile: t.Path,
		ObservedAt:   now().UTC().Truncate(time.Second),
		Refresh:      RefreshInventory,
	}

	var (
		obs  *observe.Observation
		want *desired.State
		// planned holds, by cluster, plan's full dry-run of its objects.
		planned map[string]*plan.Cluster
	)
	// Status reports every reachable cluster's nodes, whether or not a
	// workload divides replicas by them.
	opts.Options.Nodes = true
	if opts.FullRefresh {
		res, err := plan.Compute(ctx, plan.Options{Options: opts.Options, FS: opts.FS, FullRefresh: true, Parallel: parallel, Now: opts.Now})
		switch err := unplaceable(err); {
		case err != nil:
			return nil, err
		case res != nil:
			s.Refresh = RefreshFull
			obs, want = res.Observation, res.Desired
			planned = map[string]*plan.Cluster{}
			for _, r := range res.Plan.Regions {
				for i := range r.Clusters {
					planned[r.Clusters[i].Name] = &r.Clusters[i]
				}
			}
		default:
			s.Warnings = append(s.Warnings, "--refresh=full: nothing was dry-run: the workloads cannot be placed; drift is counted from the inventory")
		}
	}
	if obs == nil {
		var err error
		if obs, err = observe.Observe(ctx, opts.Options); err != nil {
			return nil, err
		}
		want, err = desired.Compute(desired.Options{Topology: t, FS: opts.FS, Clusters: obs.Clusters, Capacity: obs.Capacity, Data: obs.Data})
		if err = unplaceable(err); err != nil {
			return nil, err
		}
	}
	if want == nil {
		// Placement needs the capacity of clusters that could not be read:
		// what should run where is unknown, so no workload is judged.
		s.Warnings = append(s.Warnings, "workloads not judged: their placement is unknown while the clusters they divide replicas by cannot be read")
	}

	refs := t.Clusters()
	clusters := make([]Cluster, len(refs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for i, ref := range refs {
		in := clusterInput{
			topology: t.Metadata.Name,
			ref:      ref,
			member:   obs.Member(ref.Cluster.Name),
			planned:  planned[ref.Cluster.Name],
		}
		if want != nil {
			if dc, ok := want.Cluster(ref.Cluster.Name); ok {
				in.desired = dc.Objects
			}
			in.desiredKnown = true
		}
		g.Go(func() error {
			clusters[i] = readCluster(gctx, in)
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	byRegion := map[string]*Region{}
	for _, c := range clusters {
		r := byRegion[c.Region]
		if r == nil {
			r = &Region{Name: c.Region}
			byRegion[c.Region] = r
		}
		r.Clusters = append(r.Clusters, c)
	}
	for _, r := range byRegion {
		sort.Slice(r.Clusters, func(i, j int) bool { return r.Clusters[i].Name < r.Clusters[j].Name })
		s.Regions = append(s.Regions, *r)
	}
	sort.Slice(s.Regions, func(i, j int) bool { return s.Regions[i].Name < s.Regions[j].Name })
	s.Summary = summarize(s)
	return s, nil
}

// unplaceable is err, or nil when the error only says that a workload
// dividing by capacity cannot be placed while clusters are unreadable:
// status still reports every cluster then, without judging workloads.
func unplaceable(err error) error {
	var capErr *placement.CapacityUnknownError
	if errors.As(err, &capErr) {
		return nil
	}
	return err
}
