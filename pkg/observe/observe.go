// Package observe reads the live state a plan or a status starts from, and
// nothing else reads members before the diff: the GKE clusters of the
// topology's projects; per member cluster a connection (version, discovery)
// or the one reason placement leaves it out (LeftOut); what each offers the
// workloads that divide replicas (its nodes, bound pods and node pools);
// the node counts GKE's pools are compared with; and geofed's inventory and
// objects on each (Objects). Plan hands the connections on to apply, which
// never connects twice.
package observe

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"golang.org/x/oauth2"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/geofed-io/kubectl-geofed/pkg/capacity"
	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/datasource"
	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// GKE is what observing needs of the GKE API; *gke.Client implements it.
type GKE interface {
	ListClusters(ctx context.Context, project string) ([]*containerpb.Cluster, error)
}

// DefaultReconcilingLimit is how long GKE may reconcile a cluster before
// placement leaves it out. GKE upgrades a control plane, or changes a node
// pool, in minutes; a cluster still RECONCILING after half an hour is stuck
// and needs a person, and until one comes its share is better run by the
// others than promised to a cluster GKE is still working on.
const DefaultReconcilingLimit = 30 * time.Minute

// operationLookupTimeout bounds reading a RECONCILING cluster's operation.
// Giving up only keeps the cluster in, as it was before the check.
const operationLookupTimeout = 10 * time.Second

// Options say what to observe and how.
type Options struct {
	Topology *topology.Topology
	// GKE lists the live GKE clusters; required when the topology has
	// managed clusters.
	GKE GKE
	// ReconcilingLimit is how long GKE may report a cluster RECONCILING,
	// counted from the start of its running operation, before placement
	// leaves the cluster out like an unreachable one; zero means
	// DefaultReconcilingLimit.
	ReconcilingLimit time.Duration
	// TokenSource authenticates to GKE control planes (nil under the
	// emulator, whose clusters use client certificates).
	TokenSource oauth2.TokenSource
	// Member tunes connections to member clusters.
	Member member.Options
	// Keep names clusters that keep their place in placement when they
	// cannot be reached: their share stays theirs instead of going to the
	// others, and plan still plans nothing on them. The control plane
	// keeps a member this way during its failover grace period; the CLI
	// keeps none. A cluster whose capacity a division needs is left out
	// all the same when that capacity cannot be read.
	Keep []string
	// Exclude leaves clusters out of placement whether they answer or
	// not, with the reason as their LeftOut (Excluded): plan plans nothing on
	// them and prunes nothing there. They are still connected to, so
	// Conns says whether they answer. Failover keeps a member out this way
	// until it has been healthy long enough.
	Exclude map[string]string
	// Members, by cluster name, say how the control plane reaches its
	// members instead of the topology's kubeconfig references: with a
	// client configuration held in memory (Config, for a cluster with a
	// kubeconfig reference), or not at all (Unreachable, for any cluster:
	// its health probe found it dark, or it has no credentials). Name and
	// Region are the topology's. The CLI passes none.
	Members map[string]member.Target
	// Data says how to reach Cloud Storage, to read the location of the
	// buckets the topology's workloads name (only those topologies reach
	// it).
	Data datasource.Options
	// Nodes reads the nodes and bound pods of every cluster that answers,
	// whether or not a workload divides replicas (status reports them).
	Nodes bool
}

// Observation is what the clusters told: per cluster its connection or
// why it is left out, its GKE state and what was read of its nodes, and
// the placement inputs (reachability, capacity) derived from them.
type Observation struct {
	// Members are the topology's clusters, in topology order.
	Members []Member
	// Clusters are the same clusters as placement sees them, in the same
	// order: a cluster left out is Unreachable with its LeftOut's
	// message.
	Clusters []placement.Cluster
	// AllLive is every GKE cluster listed in the topology's projects, for
	// finding orphans.
	AllLive []*containerpb.Cluster
	// Capacity is what each reachable cluster offers, by name, read when
	// some workload divides replicas; a cluster that does not exist yet
	// offers its node pools.
	Capacity map[string]*capacity.Cluster
	// CapacityUnread says, by cluster name, why its capacity could not be
	// read.
	CapacityUnread map[string]string
	// Data is where the data the workloads name lives, by gs:// URL.
	Data datasource.Locations
}

// Member returns the named cluster's observation, nil when the topology
// has no such cluster.
func (o *Observation) Member(name string) *Member {
	for i := range o.Members {
		if o.Members[i].Name == name {
			return &o.Members[i]
		}
	}
	return nil
}

// LeftOut says why placement leaves the named cluster out, nil when it
// does not: plan must then leave it alone too.
func (o *Observation) LeftOut(name string) *LeftOut {
	if m := o.Member(name); m != nil {
		return m.LeftOut
	}
	return nil
}

// Conn returns the named cluster's connection.
func (o *Observation) Conn(name string) *member.Conn {
	if m := o.Member(name); m != nil {
		return m.Conn
	}
	return nil
}

// Observe reads the live GKE state, connects to every member that exists,
// and reads their capacity when some workload divides replicas, their
// nodes when Options.Nodes asks, and the node counts of GKE clusters.
func Observe(ctx context.Context, opts Options) (*Observation, error) {
	t := opts.Topology
	// First, and once per plan: a bucket that is gone fails the plan
	// before any cluster is contacted.
	data, err := datasource.Resolve(ctx, t, opts.Data)
	if err != nil {
		return nil, err
	}
	refs := t.Clusters()
	states, allLive, err := liveGKE(ctx, t, opts.GKE)
	if err != nil {
		return nil, err
	}
	limit := opts.ReconcilingLimit
	if limit <= 0 {
		limit = DefaultReconcilingLimit
	}
	stuck := stuckReconciling(ctx, opts.GKE, states, limit, time.Now())

	// Connect to every member that exists.
	targets := make([]member.Target, len(refs))
	for i, ref := range refs {
		targets[i] = member.Target{Name: ref.Cluster.Name, Region: ref.Region}
		if m, ok := opts.Members[ref.Cluster.Name]; ok && (m.Unreachable != nil || ref.Cluster.Kubeconfig != nil) {
			targets[i].Config, targets[i].Unreachable = m.Config, m.Unreachable
			continue
		}
		if ref.Cluster.Kubeconfig != nil {
			targets[i].Kubeconfig = ref.Cluster.Kubeconfig
			continue
		}
		st := states[ref.Cluster.Name]
		if st.Usable() {
			cfg, err := gke.RESTConfig(st.Live, opts.TokenSource)
			if err != nil {
				st.Err = fmt.Errorf("building credentials for GKE cluster %s: %w", ref.Cluster.Name, err)
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
	if err := sameServer(ctx, t, conns); err != nil {
		return nil, err
	}

	// Placement inputs: reachability, then capacity.
	obs := &Observation{Members: make([]Member, len(conns)), Clusters: placement.ClustersOf(t), AllLive: allLive, Data: data}
	for i, c := range conns {
		m := &obs.Members[i]
		*m = Member{Name: c.Name, Region: c.Region, Conn: c, GKE: states[c.Name]}
		why, excluded := opts.Exclude[c.Name]
		obs.leaveOut(i, leaveOut(m, stuck[c.Name], why, excluded, slices.Contains(opts.Keep, c.Name)))
	}
	obs.readCapacity(ctx, t, refs)
	obs.readNodes(ctx, opts.Nodes)
	return obs, nil
}

// leaveOut records why placement leaves the i-th cluster out (nothing
// when why is nil).
func (o *Observation) leaveOut(i int, why *LeftOut) {
	if why == nil {
		return
	}
	o.Members[i].LeftOut = why
	o.Clusters[i].Unreachable = why.Message
}

// GKEState is one managed cluster's GKE state: what the topology asks
// for, what GKE reports (nil when it does not exist), or why GKE could not
// tell.
type GKEState struct {
	Desired *containerpb.Cluster
	Live    *containerpb.Cluster
	Err     error
}

// Usable reports whether the live cluster can be connected to.
func (s *GKEState) Usable() bool {
	if s == nil || s.Err != nil || s.Live == nil || s.Live.GetEndpoint() == "" {
		return false
	}
	switch s.Live.GetStatus() {
	case containerpb.Cluster_RUNNING, containerpb.Cluster_RECONCILING, containerpb.Cluster_DEGRADED:
		return true
	}
	return false
}

// liveGKE lists the GKE clusters of every project the topology uses (one
// call per project) and matches them to the managed clusters. A project that
// cannot be listed marks its clusters unreachable.
func liveGKE(ctx context.Context, t *topology.Topology, client GKE) (map[string]*GKEState, []*containerpb.Cluster, error) {
	states := map[string]*GKEState{}
	projects := map[string][]string{}
	for _, ref := range t.Clusters() {
		if !ref.Cluster.Managed() {
			continue
		}
		d := gke.Desired(t, ref)
		states[ref.Cluster.Name] = &GKEState{Desired: d}
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
				states[name].Err = fmt.Errorf("listing GKE clusters of project %s: %w", pr, err)
			}
			continue
		}
		all = append(all, live...)
		for _, name := range projects[pr] {
			st := states[name]
			for _, c := range live {
				if c.GetName() == st.Desired.GetName() && c.GetLocation() == st.Desired.GetLocation() {
					st.Live = c
				}
			}
			// A cluster GKE could not list is unknown, not missing: never
			// plan to create what may well exist.
			if st.Live == nil && missing != nil && inZones(st.Desired.GetLocation(), missing.Zones) {
				st.Err = missing
			}
		}
	}
	return states, all, nil
}

// operationReader is what judging a RECONCILING cluster needs of GKE
// besides listing; *gke.Client has it. A GKE without it judges no cluster
// stuck.
type operationReader interface {
	RunningOperation(ctx context.Context, project, location, cluster string) (*containerpb.Operation, error)
}

// stuckReconciling reads the running operation of every managed cluster GKE
// reports RECONCILING and says, by cluster name, why those GKE has been
// reconciling for longer than limit are left out. A cluster whose operation
// cannot be read, or that has none, is not judged: it stays in, as GKE
// says it serves.
func stuckReconciling(ctx context.Context, client GKE, states map[string]*GKEState, limit time.Duration, now time.Time) map[string]string {
	ops, ok := client.(operationReader)
	if !ok {
		return nil
	}
	var (
		mu  sync.Mutex
		out = map[string]string{}
		g   errgroup.Group
	)
	g.SetLimit(8)
	for name, st := range states {
		// One without an endpoint is left out already.
		if !st.Usable() || st.Live.GetStatus() != containerpb.Cluster_RECONCILING {
			continue
		}
		g.Go(func() error {
			octx, cancel := context.WithTimeout(ctx, operationLookupTimeout)
			defer cancel()
			op, err := ops.RunningOperation(octx, gke.Project(st.Desired), st.Live.GetLocation(), st.Live.GetName())
			if err != nil {
				return nil
			}
			if why := reconcilingTooLong(op, now, limit); why != "" {
				mu.Lock()
				out[name] = why
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	return out
}

// reconcilingTooLong says why a cluster GKE has been reconciling under op
// is left out at now, or "" when op began within limit (or when it is not
// known when op began).
func reconcilingTooLong(op *containerpb.Operation, now time.Time, limit time.Duration) string {
	if op == nil {
		return ""
	}
	// GKE's times are RFC 3339, with or without fractional seconds; Parse
	// accepts both.
	start, err := time.Parse(time.RFC3339, op.GetStartTime())
	if err != nil {
		return ""
	}
	running := now.Sub(start)
	if running <= limit {
		return ""
	}
	return fmt.Sprintf("GKE has been RECONCILING the cluster for %s (operation %s %s, since %s)",
		roughDuration(running), op.GetName(), op.GetOperationType(), start.UTC().Format(time.RFC3339))
}

// roughDuration is d to the minute ("47m", "2h5m", "3h"), or to the second
// under a minute.
func roughDuration(d time.Duration) string {
	if d < time.Minute {
		return d.Truncate(time.Second).String()
	}
	s := strings.TrimSuffix(d.Truncate(time.Minute).String(), "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
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

// readCapacity reads, when some workload divides replicas, what every
// reachable cluster offers: its nodes and bound pods (two LISTs) and, for
// a GKE cluster, its node pools; a cluster to be created offers its pools
// alone. A cluster whose capacity cannot be read is excluded, with the
// reason, when some workload divides by capacity (its share cannot be
// known); otherwise it stays in and only its fit warnings are lost.
func (o *Observation) readCapacity(ctx context.Context, t *topology.Topology, refs []topology.ClusterRef) {
	if !desired.NeedsCapacity(t) {
		return
	}
	strict := desired.DividesByCapacity(t)
	o.Capacity = map[string]*capacity.Cluster{}
	o.CapacityUnread = map[string]string{}
	var (
		mu sync.Mutex
		g  errgroup.Group
	)
	g.SetLimit(8)
	for i := range o.Members {
		m := &o.Members[i]
		if m.LeftOut != nil {
			continue
		}
		conn, ref := m.Conn, refs[i]
		if conn.Err != nil && !errors.Is(conn.Err, member.ErrNotCreated) {
			// Unreachable, yet kept in placement (Options.Keep): nothing
			// to read.
			o.CapacityUnread[m.Name] = conn.Err.Error()
			if strict {
				o.leaveOut(i, &LeftOut{CapacityUnread, conn.Err.Error()})
			}
			continue
		}
		g.Go(func() error {
			in, err := readCluster(ctx, ref, m)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				o.CapacityUnread[m.Name] = err.Error()
				if strict {
					// This cluster alone is excluded, with the reason; the
					// others are placed and planned.
					o.leaveOut(i, &LeftOut{CapacityUnread, err.Error()})
				}
				return nil
			}
			o.Capacity[m.Name] = in
			return nil
		})
	}
	_ = g.Wait()
}

// readCluster is what one reachable cluster offers; the nodes and pods it
// reads are kept on the member too.
func readCluster(ctx context.Context, ref topology.ClusterRef, m *Member) (*capacity.Cluster, error) {
	in := &capacity.Cluster{}
	if !errors.Is(m.Conn.Err, member.ErrNotCreated) {
		read, err := m.Conn.ReadCapacity(ctx)
		if err != nil {
			m.NodesErr = err
			return nil, err
		}
		m.Nodes = &read
		in = &capacity.Cluster{Nodes: read.Nodes, Pods: read.Pods}
	}
	if st := m.GKE; st != nil {
		pools, err := nodePools(ref, st)
		if err != nil {
			return nil, fmt.Errorf("reading the capacity of cluster %s: %w", ref.Cluster.Name, err)
		}
		in.Pools = pools
		// GKE's admission lets GPU pods onto its GPU-tainted nodes.
		in.ExtendedResourceToleration = true
	}
	return in, nil
}

// nodePools are a GKE cluster's node pools as the topology asks for them
// (what apply will make them): one node's shape, the nodes a pool this
// apply creates will start with, and what autoscaling can grow each to.
// Sizes are per zone in GKE, so they are multiplied by the pool's zones:
// those GKE reports for a live pool, else those the pool or cluster names,
// else the zone of a zonal cluster, else three zones of the region, GKE's
// default for a regional cluster.
func nodePools(ref topology.ClusterRef, st *GKEState) ([]capacity.Pool, error) {
	var out []capacity.Pool
	// GKE's GPU taint depends on the pools the cluster has when a pool is
	// made.
	made := gke.MadePools(st.Desired, st.Live)
	for _, dp := range st.Desired.GetNodePools() {
		// A replaced pool lives under another GKE name, labelled with
		// the topology's.
		lp := gke.LivePool(dp, st.Live)
		zones := poolZones(st, dp, lp)
		shape, err := gke.NodeShape(made[dp.GetName()], ref.Region, zones[0])
		if err != nil {
			return nil, fmt.Errorf("node pool %s: %w", dp.GetName(), err)
		}
		p := capacity.Pool{Name: dp.GetName(), Label: gke.LabelNodePool, Value: dp.GetName(), Shape: shape}
		if lp != nil {
			p.Value = lp.GetName()
		}
		if lp == nil {
			p.Planned = int(dp.GetInitialNodeCount()) * len(zones)
		}
		if a := dp.GetAutoscaling(); a.GetEnabled() {
			p.MaxNodes = int(a.GetMaxNodeCount()) * len(zones)
			if a.GetTotalMaxNodeCount() > 0 {
				p.MaxNodes = int(a.GetTotalMaxNodeCount())
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// PoolZones is how many zones the named node pool of the desired cluster
// spreads over (its per-zone node counts are multiplied by it, as GKE
// does); 1 for a pool the cluster does not have.
func (s *GKEState) PoolZones(pool string) int {
	for _, dp := range s.Desired.GetNodePools() {
		if dp.GetName() == pool {
			return len(poolZones(s, dp, gke.LivePool(dp, s.Live)))
		}
	}
	return 1
}

// poolZones are the zones a node pool's nodes are spread over; never empty.
func poolZones(st *GKEState, desired, live *containerpb.NodePool) []string {
	for _, zones := range [][]string{live.GetLocations(), desired.GetLocations(), st.Live.GetLocations(), st.Desired.GetLocations()} {
		if len(zones) > 0 {
			return zones
		}
	}
	loc := st.Desired.GetLocation()
	if _, zonal := catalog.RegionOfZone(loc); zonal {
		return []string{loc}
	}
	if r, ok := catalog.LookupRegion(loc); ok && len(r.Zones) > 0 {
		return r.Zones[:min(3, len(r.Zones))]
	}
	return []string{loc}
}

// Capacity reads capacity for render, which places as if every cluster
// were reachable: the clusters come back with none left out, and unread
// says, per cluster, why its capacity could not be read (or why it was
// left out), and data where the buckets workloads name are.
func Capacity(ctx context.Context, opts Options) (clusters []placement.Cluster, in map[string]*capacity.Cluster, unread map[string]string, data datasource.Locations, err error) {
	obs, err := Observe(ctx, opts)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	clusters = placement.ClustersOf(opts.Topology)
	unread = maps.Clone(obs.CapacityUnread)
	if unread == nil {
		unread = map[string]string{}
	}
	for i := range clusters {
		if why := obs.Members[i].LeftOut; why != nil {
			unread[clusters[i].Name] = why.Message
		}
	}
	return clusters, obs.Capacity, unread, obs.Data, nil
}

// sameServer refuses a topology that reaches one API server under two
// cluster names (two contexts, or a context and a GKE endpoint, or one
// server under two addresses): geofed would apply to it twice and prune one
// name's objects as the other's leftovers. The loader catches the same
// context twice; this compares what identifies a cluster whatever its
// address: the UID of its kube-system Namespace (the address when that
// cannot be read). One GET per cluster.
func sameServer(ctx context.Context, t *topology.Topology, conns []*member.Conn) error {
	ids := make([]string, len(conns))
	var g errgroup.Group
	g.SetLimit(8)
	for i, c := range conns {
		if c.Err != nil || c.Config == nil || c.Dynamic == nil {
			continue
		}
		ids[i] = "host " + strings.TrimSuffix(strings.ToLower(c.Config.Host), "/")
		g.Go(func() error {
			ns, err := c.Dynamic.Resource(namespaces).Get(ctx, metav1.NamespaceSystem, metav1.GetOptions{})
			if err == nil && ns.GetUID() != "" {
				ids[i] = "uid " + string(ns.GetUID())
			}
			return nil
		})
	}
	_ = g.Wait()
	first := map[string]string{}
	var errs []error
	for i, c := range conns {
		if ids[i] == "" {
			continue
		}
		if prev, dup := first[ids[i]]; dup {
			errs = append(errs, fmt.Errorf("%s: cluster %s (%s) is the same cluster as %s (%s): the same cluster twice in one topology",
				t.ClusterPlace(c.Name), c.Name, c.Config.Host, prev, t.ClusterPlace(prev)))
			continue
		}
		first[ids[i]] = c.Name
	}
	return errors.Join(errs...)
}

var namespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
