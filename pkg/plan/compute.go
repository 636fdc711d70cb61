package plan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"golang.org/x/oauth2"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// GKE is what planning needs of the GKE API; *gke.Client implements it.
type GKE interface {
	ListClusters(ctx context.Context, project string) ([]*containerpb.Cluster, error)
}

// Options says what to plan and how.
type Options struct {
	Topology *topology.Topology
	// FS holds the kustomize apps; the disk when nil.
	FS filesys.FileSystem
	// GKE lists the live GKE clusters; required when the topology has
	// managed clusters.
	GKE GKE
	// TokenSource authenticates to GKE control planes (nil under the
	// emulator, whose clusters use client certificates).
	TokenSource oauth2.TokenSource
	// Member tunes connections to member clusters.
	Member member.Options
	// FullRefresh dry-runs every object instead of trusting the inventory
	// (--refresh=full).
	FullRefresh bool
	// Diff adds unified diffs to changed objects.
	Diff bool
	// Parallel bounds how many clusters are planned at once (default 8).
	Parallel int
	// Now stamps the plan; time.Now when nil.
	Now func() time.Time
}

// Compute builds the plan: live GKE state, connections to every member,
// placement with live reachability and spare capacity, rendering, and per
// cluster the object changes. A cluster that cannot be reached is reported
// in the plan, never fatal; errors are returned only when nothing sensible
// can be planned (a workload that cannot be placed or rendered).
func Compute(ctx context.Context, opts Options) (*Plan, error) {
	t := opts.Topology
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = 8
	}
	p := &Plan{
		FormatVersion: FormatVersion,
		Topology:      t.Metadata.Name,
		TopologyFile:  t.Path,
		CreatedAt:     now().UTC().Truncate(time.Second),
	}

	obs, err := Observe(ctx, opts)
	if err != nil {
		return nil, err
	}
	p.Orphans = gke.Orphans(t, obs.allLive)
	clusters, states := obs.Clusters, obs.states
	byName := map[string]*member.Conn{}
	for _, c := range obs.conns {
		byName[c.Name] = c
	}

	desired, err := ComputeDesired(DesiredOptions{Topology: t, FS: opts.FS, Clusters: clusters})
	if err != nil {
		return nil, err
	}
	p.Placements = desired.Placements
	for _, pr := range desired.Placements {
		for _, w := range pr.Warnings {
			p.Warnings = append(p.Warnings, "workload "+pr.Workload+": "+w)
		}
	}

	// Plan every cluster concurrently.
	planned := make([]Cluster, len(desired.Clusters))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for i := range desired.Clusters {
		dc := &desired.Clusters[i]
		ref, _ := t.Cluster(dc.Name)
		conn := byName[dc.Name]
		g.Go(func() error {
			planned[i] = planCluster(gctx, t, ref, dc, conn, states[dc.Name], opts)
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
	p.SourceDigest, err = sourceDigest(t, desired)
	if err != nil {
		return nil, err
	}
	p.Summary = summarize(p)
	return p, nil
}

// Observation is what the clusters told: the placement inputs (reachability,
// spare capacity) and the connections plan goes on to use.
type Observation struct {
	// Clusters are the topology's clusters as placement sees them, in
	// topology order.
	Clusters []placement.Cluster

	states  map[string]*gkeState
	allLive []*containerpb.Cluster
	conns   []*member.Conn
}

// Observe reads the live GKE state, connects to every member that exists,
// and reads spare capacity for the resources workloads divide by.
func Observe(ctx context.Context, opts Options) (*Observation, error) {
	t := opts.Topology
	refs := t.Clusters()
	states, allLive, err := liveGKE(ctx, t, opts.GKE)
	if err != nil {
		return nil, err
	}

	// Connect to every member that exists.
	targets := make([]member.Target, len(refs))
	for i, ref := range refs {
		targets[i] = member.Target{Name: ref.Cluster.Name, Region: ref.Region}
		if ref.Cluster.Kubeconfig != nil {
			targets[i].Kubeconfig = ref.Cluster.Kubeconfig
			continue
		}
		st := states[ref.Cluster.Name]
		if st.usable() {
			cfg, err := gke.RESTConfig(st.live, opts.TokenSource)
			if err != nil {
				st.err = fmt.Errorf("building credentials for GKE cluster %s: %w", ref.Cluster.Name, err)
				continue
			}
			targets[i].Config = cfg
		}
	}
	memberOpts := opts.Member
	if memberOpts.TopologyDir == "" {
		memberOpts.TopologyDir = t.Dir()
	}
	conns := member.Connect(ctx, targets, memberOpts)

	// Placement inputs: reachability and spare capacity.
	clusters := placement.ClustersOf(t)
	for i, c := range conns {
		if st := states[c.Name]; st != nil && st.err != nil {
			clusters[i].Unreachable = st.err.Error()
			continue
		}
		if c.Err != nil && !errors.Is(c.Err, member.ErrNotCreated) {
			clusters[i].Unreachable = c.Err.Error()
		}
	}
	if err := fillSpare(ctx, t, refs, conns, clusters); err != nil {
		return nil, err
	}
	return &Observation{Clusters: clusters, states: states, allLive: allLive, conns: conns}, nil
}

// NeedsCapacity reports whether some workload divides by spare capacity, the
// only reason render contacts clusters.
func NeedsCapacity(t *topology.Topology) bool {
	for _, w := range t.Spec.Workloads {
		if r := w.Placement.Replicas; r != nil && r.DivideBy == topology.DivideByCapacity {
			return true
		}
	}
	return false
}

// gkeState is one managed cluster's live GKE state.
type gkeState struct {
	desired *containerpb.Cluster
	live    *containerpb.Cluster
	err     error
}

// usable reports whether the live cluster can be connected to.
func (s *gkeState) usable() bool {
	if s == nil || s.err != nil || s.live == nil || s.live.GetEndpoint() == "" {
		return false
	}
	switch s.live.GetStatus() {
	case containerpb.Cluster_RUNNING, containerpb.Cluster_RECONCILING, containerpb.Cluster_DEGRADED:
		return true
	}
	return false
}

// liveGKE lists the GKE clusters of every project the topology uses (one
// call per project) and matches them to the managed clusters. A project that
// cannot be listed marks its clusters unreachable.
func liveGKE(ctx context.Context, t *topology.Topology, client GKE) (map[string]*gkeState, []*containerpb.Cluster, error) {
	states := map[string]*gkeState{}
	projects := map[string][]string{}
	for _, ref := range t.Clusters() {
		if !ref.Cluster.Managed() {
			continue
		}
		d := gke.Desired(t, ref)
		states[ref.Cluster.Name] = &gkeState{desired: d}
		pr := gke.Project(d)
		projects[pr] = append(projects[pr], ref.Cluster.Name)
	}
	if len(projects) == 0 {
		return states, nil, nil
	}
	if client == nil {
		return nil, nil, errors.New("the topology has GKE clusters but no GKE client was configured")
	}
	var all []*containerpb.Cluster
	for _, pr := range slices.Sorted(maps.Keys(projects)) {
		live, err := client.ListClusters(ctx, pr)
		var missing *gke.MissingZonesError
		if err != nil && !errors.As(err, &missing) {
			for _, name := range projects[pr] {
				states[name].err = fmt.Errorf("listing GKE clusters of project %s: %w", pr, err)
			}
			continue
		}
		all = append(all, live...)
		for _, name := range projects[pr] {
			st := states[name]
			for _, c := range live {
				if c.GetName() == st.desired.GetName() && c.GetLocation() == st.desired.GetLocation() {
					st.live = c
				}
			}
			// A cluster GKE could not list is unknown, not missing: never
			// plan to create what may well exist.
			if st.live == nil && missing != nil && inZones(st.desired.GetLocation(), missing.Zones) {
				st.err = missing
			}
		}
	}
	return states, all, nil
}

// inZones reports whether a location (a zone, or a region) covers one of
// zones.
func inZones(location string, zones []string) bool {
	for _, z := range zones {
		if z == location {
			return true
		}
		if r, ok := catalog.RegionOfZone(z); ok && r == location {
			return true
		}
	}
	return false
}

// fillSpare reads spare capacity for every resource a workload divides by,
// from each reachable cluster; a cluster to be created counts what its node
// pools will offer.
func fillSpare(ctx context.Context, t *topology.Topology, refs []topology.ClusterRef, conns []*member.Conn, clusters []placement.Cluster) error {
	resources := map[string]bool{}
	for _, w := range t.Spec.Workloads {
		if r := w.Placement.Replicas; r != nil && r.DivideBy == topology.DivideByCapacity {
			res := r.Resource
			if res == "" {
				res = placement.DefaultResource
			}
			resources[res] = true
		}
	}
	if len(resources) == 0 {
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range clusters {
		if clusters[i].Unreachable != "" {
			continue
		}
		conn := conns[i]
		ref := refs[i]
		spare := map[string]int64{}
		clusters[i].Spare = spare
		if errors.Is(conn.Err, member.ErrNotCreated) {
			for res := range resources {
				if n, ok := plannedCapacity(ref, res); ok {
					spare[res] = n
				}
			}
			continue
		}
		g.Go(func() error {
			for _, res := range slices.Sorted(maps.Keys(resources)) {
				n, err := conn.SpareCapacity(gctx, corev1.ResourceName(res))
				if err != nil {
					return fmt.Errorf("reading spare %s of cluster %s: %w", res, conn.Name, err)
				}
				spare[res] = n
			}
			return nil
		})
	}
	return g.Wait()
}

// plannedCapacity is what a GKE cluster that does not exist yet will offer
// of a resource once created: GPUs of its node pools at their initial size.
func plannedCapacity(ref topology.ClusterRef, res string) (int64, bool) {
	if ref.Cluster.GKE == nil || res != placement.DefaultResource {
		return 0, false
	}
	var total int64
	for _, np := range ref.Cluster.GKE.NodePools {
		nodes := int64(0)
		if np.NodeCount != nil {
			nodes = int64(*np.NodeCount)
		}
		if np.Autoscaling != nil && int64(np.Autoscaling.MinNodes) > nodes {
			nodes = int64(np.Autoscaling.MinNodes)
		}
		perNode := int64(0)
		for _, a := range np.Accelerators {
			perNode += a.Count
		}
		if perNode == 0 {
			if m, ok := catalog.LookupMachine(np.MachineType); ok {
				perNode = m.GPUs
			}
		}
		total += nodes * perNode
	}
	return total, true
}

// planCluster plans one cluster; it never fails, it reports.
func planCluster(ctx context.Context, t *topology.Topology, ref topology.ClusterRef, dc *DesiredCluster, conn *member.Conn, st *gkeState, opts Options) (c Cluster) {
	c = Cluster{Name: dc.Name, Region: dc.Region, Mode: "joined"}
	if ref.Cluster.Managed() {
		c.Mode = "managed"
	}
	// Every request to the cluster counts, connecting and discovery too.
	defer func() { c.Requests = conn.Requests() }()

	if st != nil {
		if st.err != nil {
			c.Unreachable = st.err.Error()
			return c
		}
		var nodes gke.NodeCounts
		if conn.Err == nil {
			cs, err := kubernetes.NewForConfig(conn.Config)
			if err == nil {
				nodes, err = gke.CountNodes(ctx, cs.CoreV1().Nodes())
			}
			if err != nil {
				c.Error = fmt.Sprintf("counting nodes of cluster %s: %v", dc.Name, err)
			}
		}
		ch := gke.Diff(st.desired, st.live, nodes)
		c.GKE = &ch
	}

	switch {
	case st != nil && st.live != nil && !st.usable() && st.live.GetStatus() != containerpb.Cluster_PROVISIONING:
		c.Unreachable = fmt.Sprintf("GKE reports the cluster as %s", st.live.GetStatus())
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
	d := &clusterDiffer{topology: t.Metadata.Name, client: conn.Dynamic, mapper: conn.Mapper, full: opts.FullRefresh, unified: opts.Diff}
	objs, invVersion, err := d.plan(ctx, dc.Objects)
	c.InventoryVersion = invVersion
	if err != nil {
		c.Error = fmt.Sprintf("planning cluster %s: %v", dc.Name, err)
	}
	c.Objects = objs
	return c
}

func newObject(o DesiredObject, reason string) Object {
	gvk := o.Object.GroupVersionKind()
	return Object{
		Action:      ActionCreate,
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
func sourceDigest(t *topology.Topology, d *Desired) (string, error) {
	h := sha256.New()
	if t.Path != "" {
		b, err := os.ReadFile(t.Path)
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", t.Path, err)
		}
		h.Write(b)
	}
	for _, dc := range d.Clusters {
		fmt.Fprintf(h, "\x00cluster %s\n", dc.Name)
		for _, o := range dc.Objects {
			fmt.Fprintf(h, "%s %s\n", describe(o.Object), o.Hash)
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
				switch c.GKE.Action {
				case gke.ActionCreate:
					s.ClustersToCreate++
				case gke.ActionUpdate:
					s.ClustersToChange++
				case gke.ActionAttention:
					s.Attention++
				}
			}
			for _, o := range c.Objects {
				switch o.Action {
				case ActionCreate:
					s.ObjectsToCreate++
				case ActionUpdate:
					s.ObjectsToChange++
				case ActionDelete:
					s.ObjectsToDelete++
				case ActionConflict:
					s.ObjectsToChange++
					s.Conflicts++
				case ActionError:
					s.Errors++
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
