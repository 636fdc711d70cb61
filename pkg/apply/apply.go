package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// DefaultTimeout bounds the wait for one cluster's workloads to be ready.
const DefaultTimeout = 5 * time.Minute

// DefaultGKETimeout bounds one cluster's GKE work (a create, the node-pool
// changes): GKE takes minutes to create a cluster, so it is longer than
// DefaultTimeout.
const DefaultGKETimeout = 30 * time.Minute

// Options say which plan to execute and how.
type Options struct {
	// Planned is the plan to execute, with the desired state and the
	// connections plan.Compute made: apply sends exactly those objects over
	// those connections. For a saved plan, the plan computed afresh and
	// checked with plan.Stale.
	Planned *plan.Result
	// GKE creates, changes and reads GKE clusters; required when the
	// topology has managed clusters.
	GKE *gke.Client
	// TokenSource authenticates to GKE control planes (nil under the
	// emulator).
	TokenSource oauth2.TokenSource
	// Member tunes connections to the GKE clusters this apply creates (the
	// only clusters it connects to itself).
	Member member.Options
	// Lock says who takes each cluster's apply lock and for how long.
	Lock inventory.LockOptions
	// ForceConflicts takes fields other field managers own.
	ForceConflicts bool
	// Prune deletes what the plan lists for deletion.
	Prune bool
	// Wait waits for every cluster's objects to be ready, up to Timeout
	// per cluster (DefaultTimeout when zero).
	Wait    bool
	Timeout time.Duration
	// GKETimeout bounds the GKE work of each cluster (creating it, waiting
	// for an operation in flight, changing it); DefaultGKETimeout when zero.
	GKETimeout time.Duration
	// Waves applies one region at a time, in topology order, and stops at
	// the first region that does not end healthy. Otherwise every cluster
	// is applied at once, up to Parallel at a time.
	Waves bool
	// Parallel bounds how many clusters are applied at once (default
	// member.DefaultParallel).
	Parallel int
	// Progress hears one line per step (creating a cluster, an operation's
	// status, readiness); nil discards.
	Progress io.Writer
}

// Run executes the plan on every cluster: provisions GKE clusters, takes
// each cluster's lock, applies the objects in order with server-side
// apply, prunes exactly the plan's deletions, and waits for readiness. A
// cluster that fails never stops the others: the Result says what happened
// to each.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Planned == nil || o.Planned.Plan == nil || o.Planned.Desired == nil || o.Planned.Observation == nil || o.Planned.Topology == nil {
		return nil, errors.New("apply needs a computed plan")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.GKETimeout <= 0 {
		o.GKETimeout = DefaultGKETimeout
	}
	if o.Parallel <= 0 {
		o.Parallel = member.DefaultParallel
	}
	t := o.Planned.Topology
	if o.Member.TopologyDir == "" {
		o.Member.TopologyDir = t.Dir()
	}
	r := &runner{opts: o, out: o.Progress, destroy: o.Planned.Plan.Mode == plan.ModeDestroy}

	var clusters []plan.Cluster
	for _, reg := range o.Planned.Plan.Regions {
		clusters = append(clusters, reg.Clusters...)
	}
	if needsGKE(t, clusters) && o.GKE == nil {
		return nil, errors.New("the plan has GKE clusters but no GKE client was configured")
	}
	res := &Result{Clusters: make([]Outcome, len(clusters)), Waited: o.Wait}
	if !o.Waves {
		r.runAll(ctx, clusters, res.Clusters, allIndexes(len(clusters)))
		return res, nil
	}
	stopped := ""
	for _, region := range waveOrder(t, clusters) {
		var idx []int
		for i, c := range clusters {
			if c.Region == region {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			continue
		}
		if stopped != "" {
			for _, i := range idx {
				res.Clusters[i] = Outcome{Name: clusters[i].Name, Region: region,
					Skipped: "region " + stopped + " did not become healthy (--waves)"}
			}
			continue
		}
		r.say("wave: region %s", region)
		r.runAll(ctx, clusters, res.Clusters, idx)
		for _, i := range idx {
			if res.Clusters[i].Failed() {
				stopped = region
			}
		}
	}
	return res, nil
}

// runner carries what every cluster's apply shares.
type runner struct {
	opts Options
	// destroy executes a destroy plan (plan.ModeDestroy, the plan's own
	// mode): no GKE cluster is created or changed, nothing waited for;
	// once a cluster's objects are deleted, its inventory is removed when
	// nothing is left to record, its lock released, and then the GKE
	// clusters the plan marks for deletion are deleted.
	destroy bool
	mu      sync.Mutex
	out     io.Writer
}

// say writes one progress line; lines of concurrent clusters never mix.
func (r *runner) say(format string, args ...any) {
	if r.out == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.out, format+"\n", args...)
}

// runAll applies the clusters at idx concurrently, each outcome into out.
func (r *runner) runAll(ctx context.Context, clusters []plan.Cluster, out []Outcome, idx []int) {
	var g errgroup.Group
	g.SetLimit(r.opts.Parallel)
	for _, i := range idx {
		g.Go(func() error {
			out[i] = r.cluster(ctx, clusters[i])
			if c := clusters[i]; r.destroy && !out[i].Failed() && ctx.Err() == nil &&
				c.GKE != nil && c.GKE.Action == object.ActionDelete {
				r.deleteGKE(ctx, &out[i], c)
			}
			return nil
		})
	}
	_ = g.Wait() // outcomes carry the errors
}

// cluster executes the plan on one cluster. ctx ending is an interrupt:
// nothing new is started, and what is in flight finishes and is recorded.
func (r *runner) cluster(ctx context.Context, pc plan.Cluster) (out Outcome) {
	out = Outcome{Name: pc.Name, Region: pc.Region}
	if ctx.Err() != nil {
		out.Skipped = "interrupted before it started"
		return out
	}
	computed := r.opts.Planned
	t := computed.Topology
	ref, ok := t.Cluster(pc.Name)
	dc, okDesired := computed.Desired.Cluster(pc.Name)
	conn := computed.Observation.Conn(pc.Name)
	switch {
	case !ok || !okDesired || conn == nil:
		out.Err = fmt.Errorf("cluster %s is in the plan but not in the topology", pc.Name)
		return out
	case pc.Unreachable != "":
		out.Err = errors.New("unreachable when planned: " + pc.Unreachable)
		return out
	case pc.Error != "":
		out.Err = errors.New("not fully planned: " + pc.Error)
		return out
	}
	if err := refusedObjects(pc, r.opts.ForceConflicts); err != nil {
		out.Err = err
		return out
	}

	if r.destroy && (errors.Is(conn.Err, member.ErrNotCreated) || !needsWrites(pc) && pc.InventoryVersion == "") {
		// Nothing geofed owns is there.
		return out
	}
	if ref.Cluster.Managed() && !r.destroy {
		live, err := r.provision(ctx, &out, gke.Desired(t, ref), pc.GKE)
		if err != nil {
			out.Err = err
			return out
		}
		if errors.Is(conn.Err, member.ErrNotCreated) {
			// Created by this apply: the first connection to it.
			target := member.Target{Name: pc.Name, Region: pc.Region}
			if target.Config, err = gke.RESTConfig(live, r.opts.TokenSource); err != nil {
				out.Err = fmt.Errorf("building credentials for GKE cluster %s: %w", pc.Name, err)
				return out
			}
			conn = member.Connect(ctx, []member.Target{target}, r.opts.Member)[0]
		}
	}
	if conn.Err != nil {
		out.Err = conn.Err
		return out
	}

	rendered := map[string]bool{}
	for _, d := range dc.Objects {
		rendered[object.KeyOf(d.Object)] = true
	}
	skip, retain := map[string]bool{}, map[string]bool{}
	var deletes []plan.Object
	for _, o := range pc.Objects {
		switch {
		case o.Action == object.ActionNoop && !o.DryRun:
			// Known unchanged from the inventory, without a dry-run:
			// nothing to send. A dry-run that found no change is applied
			// anyway, so the inventory records it and the next plan needs
			// no dry-run.
			skip[o.Key()] = true
		case o.Action == object.ActionBeingDeleted:
			// Still recorded until it is gone; and if the topology still
			// renders it, not applied now, which the outcome says.
			skip[o.Key()] = true
			retain[o.Key()] = true
			if rendered[o.Key()] {
				out.Held = append(out.Held, o.String()+" is being deleted")
			}
		case o.Action == object.ActionKeep:
			retain[o.Key()] = true
		case o.Action == object.ActionDelete && r.opts.Prune && pc.PruneGuard.Held():
			// The prune guard holds every deletion here: the object stays,
			// and stays recorded, until a plan allows it.
			retain[o.Key()] = true
			out.PruneHeld = pc.PruneGuard
		case o.Action == object.ActionDelete:
			deletes = append(deletes, o)
		}
	}
	if !needsWrites(pc) && !r.destroy {
		// Nothing to send or delete: no lock, no inventory write; only
		// readiness, which is checked on every apply.
		return r.ready(ctx, &out, dc, conn, retain, nil)
	}

	// The lock before the first write; the work stops when it is lost.
	// Its renewals have a rate limit of their own: queued in the cluster's
	// shared bucket behind a tier's applies in flight, a renewal could
	// miss the lease's deadline and lose the lock to a throttle.
	lockConfig := rest.CopyConfig(conn.Config)
	lockConfig.RateLimiter, lockConfig.QPS, lockConfig.Burst = nil, 5, 10
	leases, err := kubernetes.NewForConfig(lockConfig)
	if err != nil {
		out.Err = fmt.Errorf("cluster %s: %w", pc.Name, err)
		return out
	}
	lockOpts := r.opts.Lock
	lockOpts.Topology, lockOpts.Cluster = t.Metadata.Name, pc.Name
	// The writes run on their own context: an interrupt (ctx ending) stops
	// them between objects, never in the middle of recording one; losing
	// the lock cancels them at once.
	work, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	lock, err := inventory.AcquireLock(work, leases.CoordinationV1(), lockOpts)
	if err != nil {
		out.Err = err
		return out
	}
	go func() {
		select {
		case <-lock.Lost():
			cancel(fmt.Errorf("cluster %s: lost the apply lock", pc.Name))
		case <-work.Done():
		}
	}()
	defer func() {
		// Released whatever happened, within a deadline of its own; a lock
		// left behind expires after its TTL.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer rcancel()
		if err := lock.Release(rctx); err != nil && out.Err == nil {
			out.Err = err
		}
	}()

	// The applies whose response is read for metadata alone ask for no
	// more (ClusterOptions.Metadata), on the cluster's shared rate limit.
	meta, err := metadata.NewForConfig(conn.Config)
	if err != nil {
		out.Err = fmt.Errorf("cluster %s: %w", pc.Name, err)
		return out
	}
	res, err := Cluster(work, ClusterOptions{
		Stop:             ctx.Done(),
		Topology:         t.Metadata.Name,
		Cluster:          pc.Name,
		Client:           conn.Dynamic,
		Mapper:           conn.Mapper,
		Discovery:        conn.Discovery,
		PlannedAt:        computed.Plan.CreatedAt,
		Objects:          dc.Objects,
		Skip:             skip,
		Deletes:          deletes,
		Retain:           retain,
		InventoryVersion: pc.InventoryVersion,
		ForceConflicts:   r.opts.ForceConflicts,
		Prune:            r.opts.Prune,
		RemoveInventory:  r.destroy,
		Progress:         func(line string) { r.say("%s", line) },
		Metadata:         meta,
		NoReadiness:      !r.opts.Wait,
	})
	out.Applied, out.Pruned = res.Applied, res.Pruned
	out.Kept, out.InventoryRemoved = res.Kept, res.InventoryRemoved
	if err != nil {
		if cause := context.Cause(work); cause != nil && work.Err() != nil {
			err = fmt.Errorf("%w: %w", cause, err)
		}
		out.Err = err
		return out
	}
	if r.destroy {
		r.say("%s: %d objects deleted", pc.Name, res.Pruned)
		return out
	}
	r.say("%s: %d objects applied, %d pruned", pc.Name, res.Applied, res.Pruned)
	return r.ready(ctx, &out, dc, conn, retain, res.Live)
}

// needsWrites reports whether the plan asks anything of the cluster
// beyond readiness: an object to send (a dry-run found no change is sent
// too, so the inventory records it) or to delete, or a GKE change. Objects
// the server rejected or another owner holds never get here:
// refusedObjects stops the cluster first.
func needsWrites(pc plan.Cluster) bool {
	if pc.GKE != nil && pc.GKE.Action != object.ActionNoop {
		return true
	}
	for _, o := range pc.Objects {
		if o.Action.IsWrite() || o.Action == object.ActionNoop && o.DryRun {
			return true
		}
	}
	return false
}

// ready waits for (or, with --wait=false, reports) the readiness of every
// desired object of the cluster except those retained unsent, and settles
// the outcome.
func (r *runner) ready(ctx context.Context, out *Outcome, dc *desired.Cluster, conn *member.Conn, retain map[string]bool, applied []*unstructured.Unstructured) Outcome {
	var objs []*unstructured.Unstructured
	for _, d := range dc.Objects {
		if !retain[object.KeyOf(d.Object)] {
			objs = append(objs, d.Object)
		}
	}
	held := func() Outcome {
		if len(out.Held) > 0 {
			out.Err = fmt.Errorf("not applied: %s; re-run apply once it is gone", strings.Join(out.Held, ", "))
		}
		return *out
	}
	if !r.opts.Wait {
		return held()
	}
	live := make(map[string]*unstructured.Unstructured, len(applied))
	for _, l := range applied {
		live[object.KeyOf(l)] = l
	}
	err := waitReady(ctx, readyOptions{
		cluster: dc.Name,
		client:  conn.Dynamic,
		mapper:  conn.Mapper,
		objects: objs,
		live:    live,
		timeout: r.opts.Timeout,
		report:  func(line string) { r.say("%s", line) },
	})
	if err != nil {
		out.Err = err
		return *out
	}
	if len(out.Held) > 0 {
		return held()
	}
	out.Ready = true
	r.say("%s: ready", dc.Name)
	return *out
}

// refusedObjects refuses a cluster, before anything is sent to it, when the
// plan found objects the server rejects, or fields another manager owns
// and --force-conflicts was not given. The conflict reason names the other
// manager and the fields.
func refusedObjects(pc plan.Cluster, force bool) error {
	var problems []string
	for _, o := range pc.Objects {
		switch {
		case o.Action == object.ActionError:
			problems = append(problems, o.String()+": "+o.Reason)
		case o.Action == object.ActionConflict && !force:
			problems = append(problems, o.String()+": "+o.Reason)
		case o.Action == object.ActionForeign:
			problems = append(problems, o.String()+": "+o.Reason)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("nothing applied to cluster %s: %s", pc.Name, strings.Join(problems, "; "))
}

func needsGKE(t *topology.Topology, clusters []plan.Cluster) bool {
	for _, c := range clusters {
		if ref, ok := t.Cluster(c.Name); ok && ref.Cluster.Managed() && c.Unreachable == "" {
			return true
		}
	}
	return false
}

// waveOrder is the order --waves applies regions in: the topology's, so
// the person writing it decides which region goes first (a canary); regions
// only the plan knows come last.
func waveOrder(t *topology.Topology, clusters []plan.Cluster) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range t.Spec.Regions {
		if !seen[r.Name] {
			seen[r.Name] = true
			out = append(out, r.Name)
		}
	}
	for _, c := range clusters {
		if !seen[c.Region] {
			seen[c.Region] = true
			out = append(out, c.Region)
		}
	}
	return out
}

func allIndexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
