// Package observe reads the live state a plan starts from, and nothing
// else: the GKE clusters of the topology's projects, a connection to every
// member cluster that exists (version, discovery), and spare capacity for
// the workloads that divide by it. These are the only reads before the
// diff; plan hands the connections on to apply, which never connects twice.
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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
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
}

// Observation is what the clusters told: the placement inputs (reachability,
// spare capacity) and the connections plan goes on to use.
type Observation struct {
	// Clusters are the topology's clusters as placement sees them, in
	// topology order.
	Clusters []placement.Cluster
	// Conns are the connections to the same clusters, in the same order;
	// a managed cluster that does not exist yet has Err ErrNotCreated.
	Conns []*member.Conn
	// GKE holds the live GKE state of every managed cluster, by name.
	GKE map[string]*GKEState
	// AllLive is every GKE cluster listed in the topology's projects, for
	// finding orphans.
	AllLive []*containerpb.Cluster
}

// Excluded says why placement leaves the named cluster out ("" when it
// does not): plan must then leave it alone too.
func (o *Observation) Excluded(name string) string {
	for _, c := range o.Clusters {
		if c.Name == name {
			return c.Unreachable
		}
	}
	return ""
}

// Conn returns the named cluster's connection.
func (o *Observation) Conn(name string) *member.Conn {
	for _, c := range o.Conns {
		if c.Name == name {
			return c
		}
	}
	return nil
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
	limit := opts.ReconcilingLimit
	if limit <= 0 {
		limit = DefaultReconcilingLimit
	}
	stuck := stuckReconciling(ctx, opts.GKE, states, limit, time.Now())

	// Connect to every member that exists.
	targets := make([]member.Target, len(refs))
	for i, ref := range refs {
		targets[i] = member.Target{Name: ref.Cluster.Name, Region: ref.Region}
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

	// Placement inputs: reachability and spare capacity.
	clusters := placement.ClustersOf(t)
	for i, c := range conns {
		if st := states[c.Name]; st != nil && st.Err != nil {
			clusters[i].Unreachable = st.Err.Error()
			continue
		}
		if st := states[c.Name]; st != nil && st.Live != nil && !st.Usable() && st.Live.GetStatus() != containerpb.Cluster_PROVISIONING {
			// ERROR, STOPPING, or running without an endpoint: it cannot
			// take workloads, so its share goes to the others.
			clusters[i].Unreachable = fmt.Sprintf("GKE reports the cluster as %s", st.Live.GetStatus())
			continue
		}
		if why := stuck[c.Name]; why != "" {
			// Before the connection's error: an upgrade that hangs is
			// also why the apiserver may not answer.
			clusters[i].Unreachable = why
			continue
		}
		if c.Err != nil && !errors.Is(c.Err, member.ErrNotCreated) {
			clusters[i].Unreachable = c.Err.Error()
		}
	}
	if err := fillSpare(ctx, t, refs, conns, clusters); err != nil {
		return nil, err
	}
	return &Observation{Clusters: clusters, Conns: conns, GKE: states, AllLive: allLive}, nil
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

// fillSpare reads spare capacity for every resource a workload divides by,
// from each reachable cluster; a cluster to be created counts what its node
// pools will offer.
func fillSpare(ctx context.Context, t *topology.Topology, refs []topology.ClusterRef, conns []*member.Conn, clusters []placement.Cluster) error {
	resources := desired.CapacityResources(t)
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
			for _, res := range resources {
				if n, ok := plannedCapacity(ref, res); ok {
					spare[res] = n
				}
			}
			continue
		}
		c := &clusters[i]
		g.Go(func() error {
			for _, res := range resources {
				n, err := conn.SpareCapacity(gctx, corev1.ResourceName(res))
				if err != nil {
					// This cluster alone is excluded, with the reason; the
					// others are placed and planned.
					c.Spare = nil
					c.Unreachable = fmt.Sprintf("reading spare %s: %v", res, err)
					return nil
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

// Capacity reads spare capacity for render, which places as if every
// cluster were reachable: the clusters come back with Spare filled where it
// could be read and Unreachable cleared; unread says, per cluster, why its
// capacity could not be read.
func Capacity(ctx context.Context, opts Options) (clusters []placement.Cluster, unread map[string]string, err error) {
	obs, err := Observe(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	clusters = placement.ClustersOf(opts.Topology)
	unread = map[string]string{}
	for i := range clusters {
		clusters[i].Spare = obs.Clusters[i].Spare
		if r := obs.Clusters[i].Unreachable; r != "" {
			unread[clusters[i].Name] = r
		}
	}
	return clusters, unread, nil
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
