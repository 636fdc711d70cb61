package plan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/cost"
	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/observe"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// Options says what to plan and how.
type Options struct {
	// Observe says what to read: the topology, GKE, member connections.
	observe.Options
	// FS holds the kustomize apps; the disk when nil.
	FS filesys.FileSystem
	// FullRefresh dry-runs every object instead of trusting the inventory
	// (--refresh=full).
	FullRefresh bool
	// Adopt plans to take over objects that belong to another topology or
	// ApplySet (--adopt) instead of refusing them.
	Adopt bool
	// Diff adds unified diffs to changed objects.
	Diff bool
	// Parallel bounds how many clusters are planned at once (default
	// member.DefaultParallel).
	Parallel int
	// Now stamps the plan; time.Now when nil.
	Now func() time.Time
	// Mode is what the plan is for, and is recorded in it. ModeDestroy
	// plans to remove everything geofed owns: no workload is desired
	// anywhere, so every object the inventory records is planned for
	// deletion with prune's safety, no GKE cluster is created or changed,
	// and no capacity is read. The workloads' sources are not rendered, so
	// a broken app does not stand in the way.
	Mode Mode
	// DeleteClusters names the managed clusters destroy deletes from GKE
	// once their objects are gone (destroy --clusters).
	DeleteClusters []string
	// Guard is the prune guard's limits and allowances (--max-prune,
	// --max-prune-fleet, --allow-prune); destroy has no guard.
	Guard GuardOptions
	// Only, with Placements, plans these clusters alone against a
	// placement of the whole fleet computed before: the control plane
	// corrects one member this way when nothing placement reads has
	// changed since. No other cluster is connected to, rendered for or in
	// the plan, so nothing is applied or pruned there.
	Only []string
	// Placements is the placement Only plans against: every workload's,
	// as a plan of the whole fleet placed it.
	Placements []placement.Result
	// Prices price the GKE node pools and the placements (--price-catalog
	// over the built-in list); the built-in list when nil.
	Prices *catalog.Prices
}

// errNotInPass is why a cluster outside Options.Only is not connected to.
var errNotInPass = errors.New("not part of this plan (planned alone: another member)")

// Result is a plan with what was computed to reach it: the desired state
// of every cluster and the open connections. Apply executes exactly this
// value — it never renders, places or connects a second time.
type Result struct {
	Topology    *topology.Topology
	Plan        *Plan
	Desired     *desired.State
	Observation *observe.Observation
}

// Compute builds the plan: live GKE state, connections to every member,
// placement with live reachability and capacity, rendering, and per
// cluster the object changes. A cluster that cannot be reached is reported
// in the plan, never fatal; errors are returned only when nothing sensible
// can be planned (a workload that cannot be placed or rendered).
func Compute(ctx context.Context, opts Options) (*Result, error) {
	t := opts.Topology
	if opts.Mode == ModeDestroy {
		nothing := *t
		nothing.Spec.Workloads = nil
		t = &nothing
		opts.Topology = t
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = member.DefaultParallel
	}
	p := &Plan{
		FormatVersion: FormatVersion,
		Mode:          opts.Mode,
		Topology:      t.Metadata.Name,
		TopologyFile:  t.Path,
		CreatedAt:     now().UTC().Truncate(time.Second),
	}

	if err := opts.Guard.validate(clusterNames(t)); err != nil {
		return nil, err
	}
	if err := narrow(&opts); err != nil {
		return nil, err
	}
	// Rendering waits for no cluster: kustomize runs while the clusters
	// are connected to, and placement then uses what it rendered.
	pre := make(chan *desired.Prerendered, 1)
	go func() { pre <- desired.Prerender(desired.Options{Topology: t, FS: opts.FS, Only: opts.Only}) }()
	obs, err := observe.Observe(ctx, opts.Options)
	if err != nil {
		return nil, err
	}
	if opts.Mode != ModeDestroy {
		p.Orphans = gke.Orphans(t, obs.AllLive)
	}

	if opts.Prices == nil {
		opts.Prices = catalog.BuiltinPrices()
	}
	want, err := desired.Compute(desired.Options{Topology: t, FS: opts.FS, Clusters: obs.Clusters, Capacity: obs.Capacity, Placed: opts.Placements, Only: opts.Only, Prerendered: <-pre, Prices: opts.Prices, Data: obs.Data})
	if err != nil {
		return nil, err
	}
	p.Placements = want.Placements
	for _, pr := range want.Placements {
		for _, w := range pr.Warnings {
			p.Warnings = append(p.Warnings, "workload "+pr.Workload+": "+w)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(obs.CapacityUnread)) {
		if obs.LeftOut(name) == nil {
			p.Warnings = append(p.Warnings, fmt.Sprintf("cluster %s: whether its replicas fit is not checked: %s", name, obs.CapacityUnread[name]))
		}
	}

	// Plan every cluster concurrently.
	planned := make([]Cluster, len(want.Clusters))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for i := range want.Clusters {
		dc := &want.Clusters[i]
		if opts.Only != nil && !slices.Contains(opts.Only, dc.Name) {
			continue
		}
		ref, _ := t.Cluster(dc.Name)
		m := obs.Member(dc.Name)
		g.Go(func() error {
			planned[i] = planCluster(gctx, t, ref, dc, m, opts)
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	regions := map[string]*Region{}
	var order []string
	for _, c := range planned {
		if c.Name == "" {
			// Outside Only: not planned.
			continue
		}
		r := regions[c.Region]
		if r == nil {
			r = &Region{Name: c.Region}
			regions[c.Region] = r
			order = append(order, c.Region)
		}
		r.Clusters = append(r.Clusters, c)
	}
	sort.Strings(order)
	for _, name := range order {
		p.Regions = append(p.Regions, *regions[name])
	}
	p.SourceDigest, err = sourceDigest(opts.FS, t, want)
	if err != nil {
		return nil, err
	}
	if opts.Mode != ModeDestroy {
		guard(p, t, want, opts.Guard)
	}
	if priced(p) {
		p.Prices = opts.Prices.Origins
	}
	p.Summary = summarize(p)
	return &Result{Topology: t, Plan: p, Desired: want, Observation: obs}, nil
}

// narrow checks Only and leaves every cluster outside it unconnected: a
// member target that is unreachable on purpose, which observe never dials.
func narrow(opts *Options) error {
	if opts.Only == nil {
		if opts.Placements != nil {
			return errors.New("planning against a given placement needs the clusters to plan (Only)")
		}
		return nil
	}
	if opts.Placements == nil {
		return errors.New("planning some clusters alone needs the fleet's placement to plan them against")
	}
	if opts.Mode == ModeDestroy {
		return errors.New("destroy plans every cluster: it cannot be narrowed")
	}
	members := maps.Clone(opts.Members)
	if members == nil {
		members = map[string]member.Target{}
	}
	for _, name := range opts.Only {
		if _, ok := opts.Topology.Cluster(name); !ok {
			return fmt.Errorf("cluster %q is not in topology %s", name, opts.Topology.Metadata.Name)
		}
	}
	for _, ref := range opts.Topology.Clusters() {
		if name := ref.Cluster.Name; !slices.Contains(opts.Only, name) {
			members[name] = member.Target{Name: name, Region: ref.Region, Unreachable: errNotInPass}
			opts.Keep = append(slices.Clone(opts.Keep), name)
		}
	}
	opts.Members = members
	return nil
}

// priced reports whether the plan shows a cost, so it must say where the
// prices come from.
func priced(p *Plan) bool {
	for _, r := range p.Regions {
		for _, c := range r.Clusters {
			if c.Cost != nil && len(c.Cost.Pools) > 0 {
				return true
			}
		}
	}
	for _, pl := range p.Placements {
		if pl.USDPerHour != nil {
			return true
		}
	}
	return false
}

// planCluster plans one cluster from what observing found of it; it never
// fails, it reports.
func planCluster(ctx context.Context, t *topology.Topology, ref topology.ClusterRef, dc *desired.Cluster, m *observe.Member, opts Options) (c Cluster) {
	st, conn := m.GKE, m.Conn
	c = Cluster{Name: dc.Name, Region: dc.Region, Mode: "joined"}
	if ref.Cluster.Managed() {
		c.Mode = "managed"
	}
	// Every request to the cluster counts, connecting and discovery too.
	defer func() { c.Requests = conn.Requests() }()

	if st != nil {
		if st.Err != nil {
			c.Unreachable = st.Err.Error()
			return c
		}
		if m.NodeCountsErr != nil {
			c.Error = fmt.Sprintf("counting nodes of cluster %s: %v", dc.Name, m.NodeCountsErr)
		}
		ch := gke.Diff(st.Desired, st.Live, m.NodeCounts)
		c.GKE = &ch
		if opts.Mode != ModeDestroy {
			c.Cost = cost.OfCluster(opts.Prices, ref, st.PoolZones)
		}
		if opts.Mode == ModeDestroy {
			// Nothing is created or changed; the cluster is deleted only
			// when destroy was told to.
			c.GKE = nil
			if st.Live != nil {
				c.GKE = &gke.ClusterChange{Region: ch.Region, Project: ch.Project, Location: ch.Location, Cluster: ch.Cluster, Action: object.ActionNoop}
				if slices.Contains(opts.DeleteClusters, dc.Name) {
					c.GKE.Action = object.ActionDelete
				}
			}
		}
	}

	switch {
	case m.LeftOut != nil:
		// Placement left it out (GKE not serving it, unreachable, capacity
		// unreadable, excluded): it received no share, so planning its
		// objects would prune them. Nothing is planned on it, nothing
		// pruned.
		c.Unreachable = m.LeftOut.Message
		return c
	case errors.Is(conn.Err, member.ErrNotCreated):
		// The cluster does not exist yet (or GKE is still creating it):
		// everything is new, and nothing can be dry-run.
		for _, o := range dc.Objects {
			c.Objects = append(c.Objects, newObject(o, "cluster is created by this plan"))
		}
		return c
	case conn.Err != nil:
		c.Unreachable = conn.Err.Error()
		return c
	}
	c.ServerVersion = conn.Version
	d := &clusterDiffer{
		conn:      conn,
		topology:  t.Metadata.Name,
		partOf:    inventory.ID(t.Metadata.Name),
		client:    conn.Dynamic,
		mapper:    conn.Mapper,
		discovery: conn.Discovery,
		full:      opts.FullRefresh,
		unified:   opts.Diff,
		adopt:     opts.Adopt,
	}
	objs, invVersion, err := d.plan(ctx, dc.Objects)
	c.InventoryVersion, c.Owned = invVersion, d.owned
	if err != nil {
		c.Error = fmt.Sprintf("planning cluster %s: %v", dc.Name, err)
	}
	c.Objects = objs
	return c
}

func newObject(o desired.Object, reason string) Object {
	gvk := o.Object.GroupVersionKind()
	return Object{
		Action:      object.ActionCreate,
		Group:       gvk.Group,
		Version:     gvk.Version,
		Kind:        gvk.Kind,
		Namespace:   o.Object.GetNamespace(),
		Name:        o.Object.GetName(),
		Workload:    o.Workload,
		DesiredHash: printableHash(o),
		Reason:      reason,
	}
}

// sourceDigest hashes the topology file and every desired manifest, in plan
// order: a saved plan whose digest no longer matches a fresh render is stale.
func sourceDigest(fs filesys.FileSystem, t *topology.Topology, d *desired.State) (string, error) {
	h := sha256.New()
	if t.Path != "" {
		// Through the sources' filesystem when it holds the file: the
		// controller plans from an in-memory bundle, with no topology
		// file on its disk.
		if fs == nil || !fs.Exists(t.Path) {
			fs = filesys.MakeFsOnDisk()
		}
		b, err := fs.ReadFile(t.Path)
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", t.Path, err)
		}
		h.Write(b)
	}
	for _, dc := range d.Clusters {
		fmt.Fprintf(h, "\x00cluster %s\n", dc.Name)
		for _, o := range dc.Objects {
			// Not a Secret's hash: a function of its values, it would let
			// anyone with the saved plan and the other sources guess a
			// short value offline. A Secret changed since the plan shows
			// as another action or a moved resourceVersion instead.
			fmt.Fprintf(h, "%s %s\n", object.Describe(o.Object), printableHash(o))
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func summarize(p *Plan) Summary {
	var s Summary
	for _, r := range p.Regions {
		for _, c := range r.Clusters {
			if c.Unreachable != "" {
				s.Unreachable++
			}
			if c.Error != "" {
				s.Errors++
			}
			if c.GKE != nil {
				switch a := c.GKE.Action; {
				case a.IsCreate():
					s.ClustersToCreate++
				case a.IsChange():
					s.ClustersToChange++
				case a.IsPrune():
					s.ClustersToDelete++
				case a.NeedsAttention():
					s.Attention++
				}
			}
			if c.PruneGuard.Held() {
				s.Guarded++
			}
			for _, o := range c.Objects {
				switch a := o.Action; {
				case a.IsCreate():
					s.ObjectsToCreate++
				case a.IsChange():
					s.ObjectsToChange++
					if a == object.ActionConflict {
						s.Conflicts++
					}
				case a.IsPrune():
					s.ObjectsToDelete++
				case a == object.ActionError:
					s.Errors++
				case a.NeedsAttention():
					s.Attention++
				}
			}
		}
	}
	s.Attention += len(p.Orphans)
	return s
}

// Failed reports whether the plan is incomplete: a cluster could not be
// reached or planned, or an object was rejected. Such a plan exits 1.
func (p *Plan) Failed() bool { return p.Summary.Unreachable > 0 || p.Summary.Errors > 0 }
