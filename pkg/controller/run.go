package controller

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/geofed-io/kubectl-geofed/pkg/apply"
	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/engine"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/bundle"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// outcome is what one run did, for the metrics and the requeue.
type outcome struct {
	result  string
	paused  bool
	invalid bool
	// next is when a failover clock runs out, zero for none.
	next time.Time
}

// pass is one reconcile of one Topology: what its phases — load, failover,
// plan, status, apply — hand each other. It writes into topo.Status.
type pass struct {
	r    *Reconciler
	topo *v1alpha1.Topology
	log  logr.Logger

	// load
	t     *topology.Topology
	fsys  filesys.FileSystem
	creds *credentials

	// failover
	after, restoreAfter time.Duration
	// clusters is the status being written, by member.
	clusters map[string]*v1alpha1.ClusterStatus
	// tracked are the members whose clocks this pass advanced already;
	// dark are those left unconnected, their probe found them dark.
	tracked map[string]bool
	dark    map[string]error
	// waiting are the members in their failover grace period.
	waiting []string
	next    time.Time

	// plan
	res *plan.Result
}

// run does one reconcile and writes what it found into topo.Status; it
// never fails as a whole: every error ends up in a condition.
func (r *Reconciler) run(ctx context.Context, topo *v1alpha1.Topology) outcome {
	p := &pass{r: r, topo: topo, log: log.FromContext(ctx), clusters: map[string]*v1alpha1.ClusterStatus{}, tracked: map[string]bool{}, dark: map[string]error{}}
	if topo.Spec.Paused {
		p.setCond(v1alpha1.ConditionReady, metav1.ConditionFalse, "Paused", "spec.paused is set: nothing is planned or applied")
		r.stopWatching(client.ObjectKeyFromObject(topo))
		return outcome{result: "paused", paused: true}
	}
	if o, ok := p.load(ctx); !ok {
		return o
	}
	var dirty Dirty
	if r.Watches != nil {
		dirty = r.Watches.Take(client.ObjectKeyFromObject(topo))
	}
	if members, fp := p.alone(dirty); members != nil {
		return p.correct(ctx, members, fp)
	}
	o := p.fleet(ctx)
	p.remember(o)
	return o
}

// fleet is a pass over the whole fleet: failover, placement, plan and
// apply of every member.
func (p *pass) fleet(ctx context.Context) outcome {
	topo := p.topo
	p.failoverFromProbes()
	if o, ok := p.plan(ctx); !ok {
		return o
	}
	p.status()
	if len(p.waiting) > 0 && desired.DividesByCapacity(p.t) {
		// The plan left the unreachable member out (its capacity is
		// unknown) and moved its share; applying it would fail over
		// before failover.after. Nothing is applied until the member is
		// back or its grace has run out.
		msg := fmt.Sprintf("waiting for failover: %s unreachable; a division by capacity cannot keep its share, so nothing is applied until it is back or failover.after (%s) has passed", strings.Join(p.waiting, ", "), p.after)
		p.setCond(v1alpha1.ConditionSynced, metav1.ConditionFalse, "WaitingForFailover", msg)
		p.setCond(v1alpha1.ConditionReady, metav1.ConditionFalse, "WaitingForFailover", msg)
		p.degraded()
		return outcome{result: "waiting", next: p.next}
	}
	if topo.Spec.EffectiveMode() == v1alpha1.ModePlan {
		return p.report()
	}
	return p.apply(ctx)
}

func (p *pass) setCond(typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&p.topo.Status.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: p.topo.Generation})
}

func (p *pass) fail(reason string, err error) {
	p.setCond(v1alpha1.ConditionReady, metav1.ConditionFalse, reason, err.Error())
	p.setCond(v1alpha1.ConditionSynced, metav1.ConditionUnknown, reason, "not planned")
}

func (p *pass) soonest(at time.Time) {
	if !at.IsZero() && (p.next.IsZero() || at.Before(p.next)) {
		p.next = at
	}
}

// load reads the Topology's sources, its GKE client when it has GKE
// clusters, its members' credentials and their failover state.
func (p *pass) load(ctx context.Context) (outcome, bool) {
	r, topo := p.r, p.topo
	t, fsys, err := r.load(ctx, topo)
	if err != nil {
		var invalid topology.ErrorList
		if errors.As(err, &invalid) {
			p.fail("Invalid", err)
			r.Recorder.Eventf(topo, nil, corev1.EventTypeWarning, "Invalid", "Load", "%s", truncate(err.Error()))
			return outcome{result: "invalid", invalid: true}, false
		}
		p.fail("SourcesUnavailable", err)
		return outcome{result: "error"}, false
	}
	p.t, p.fsys = t, fsys
	if err := r.session().Prepare(ctx, t); err != nil {
		p.fail("GKEUnavailable", fmt.Errorf("the topology has GKE clusters: %w", err))
		return outcome{result: "error"}, false
	}
	p.creds = readCredentials(ctx, r.Secrets, r.Namespace, t)
	p.after, p.restoreAfter = topo.Spec.FailoverAfter(), topo.Spec.FailoverRestoreAfter()
	prev := map[string]v1alpha1.ClusterStatus{}
	for _, c := range topo.Status.Clusters {
		prev[c.Name] = c
	}
	for _, ref := range t.Clusters() {
		c := prev[ref.Cluster.Name]
		c.Name, c.Region = ref.Cluster.Name, ref.Region
		p.clusters[c.Name] = &c
	}
	return outcome{}, true
}

// load reads the pushed sources and loads the Topology's spec from them
// with the CLI's own loader: same validation, same defaults. The sources
// and the topology document are laid out in memory under a root named for
// the Topology, and a problem in the spec is reported against the Topology
// and its field, not against that copy of it.
func (r *Reconciler) load(ctx context.Context, topo *v1alpha1.Topology) (*topology.Topology, filesys.FileSystem, error) {
	doc, err := topo.Document()
	if err != nil {
		return nil, nil, err
	}
	b := &bundle.Bundle{Topology: "topology.yaml"}
	if src := topo.Spec.Sources; src != nil {
		if b, err = bundle.Read(ctx, r.Reader, topo.Namespace, src); err != nil {
			return nil, nil, err
		}
	}
	root := path.Join("/topologies", topo.Namespace, topo.Name)
	fsys, err := b.FS(root)
	if err != nil {
		return nil, nil, err
	}
	file := b.TopologyPath(root)
	// The document sits in the bundle's filesystem, where plan reads it
	// for the plan's source digest.
	if err := fsys.WriteFile(file, doc); err != nil {
		return nil, nil, err
	}
	t, err := topology.Options{IsDir: fsys.IsDir}.Parse(file, doc)
	var invalid topology.ErrorList
	if errors.As(err, &invalid) {
		// The document is made from the spec: its lines are nobody's, and
		// paths in the sources are the bundle's own.
		for _, e := range invalid {
			e.File, e.Line = fmt.Sprintf("Topology %s/%s", topo.Namespace, topo.Name), 0
			e.Msg = strings.ReplaceAll(e.Msg, root+"/", "")
		}
		return nil, nil, invalid
	}
	if err != nil {
		return nil, nil, err
	}
	return t, fsys, nil
}

// failoverFromProbes advances, before anything is planned, the clocks of
// the members whose state is known without connecting: dark by their
// health probe (left unconnected, so healthy members never wait on them),
// with no credentials, or excluded and healthy again. A member failed over
// or restored here is planned by its new state at once.
func (p *pass) failoverFromProbes() {
	now := p.r.now()
	for _, ref := range p.t.Clusters() {
		name := ref.Cluster.Name
		c := p.clusters[name]
		var v Verdict
		if p.r.Health != nil {
			v = p.r.Health.Verdict(name)
		}
		switch {
		case v.Known && !v.Healthy:
			p.dark[name] = v.Err
			p.track(c, false, v.Since, v.Err.Error())
		case v.Known && c.Excluded:
			p.track(c, true, v.Since, "")
		case p.creds.missing[name] != "":
			p.track(c, false, now, p.creds.missing[name])
		}
	}
}

// failoverFromPlan advances the clocks of the other members from what the
// plan's connections found, and reports whether one failed over or was
// restored: the plan then placed by a membership that no longer holds.
func (p *pass) failoverFromPlan(res *plan.Result) (moved bool) {
	now := p.r.now()
	for _, reg := range res.Plan.Regions {
		for _, pc := range reg.Clusters {
			c := p.clusters[pc.Name]
			if p.tracked[pc.Name] {
				continue
			}
			reachable, why := pc.Unreachable == "", pc.Unreachable
			if c.Excluded {
				// Placement left it out whatever it answered: the
				// connection says.
				why = "not connected"
				conn := res.Observation.Conn(pc.Name)
				if conn != nil && conn.Err != nil {
					why = conn.Err.Error()
				}
				reachable = conn != nil && conn.Err == nil
			}
			if p.track(c, reachable, now, why).Moves() {
				moved = true
			}
		}
	}
	return moved
}

// track advances one member's clocks, seen reachable or not since since,
// and says so in its message, an Event and the log.
func (p *pass) track(c *v1alpha1.ClusterStatus, reachable bool, since time.Time, why string) v1alpha1.Transition {
	p.tracked[c.Name] = true
	c.Reachable = reachable
	tr, at := c.Track(reachable, since, p.r.now(), p.after, p.restoreAfter)
	p.soonest(at)
	switch tr {
	case v1alpha1.Grace:
		p.waiting = append(p.waiting, c.Name)
		c.Message = fmt.Sprintf("unreachable since %s; its share moves to the others at %s: %s",
			c.UnreachableSince.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339), why)
	case v1alpha1.FailedOver:
		c.Message = "excluded by failover: " + why
		p.r.Recorder.Eventf(p.topo, nil, corev1.EventTypeWarning, "FailedOver", "Failover",
			"cluster %s unreachable since %s: excluded, its share goes to the others", c.Name, c.UnreachableSince.UTC().Format(time.RFC3339))
		p.log.Info("member failed over", "cluster", c.Name)
	case v1alpha1.Recovering:
		c.Message = fmt.Sprintf("reachable again since %s; excluded until it has been reachable for %s", c.ReachableSince.UTC().Format(time.RFC3339), p.restoreAfter)
	case v1alpha1.Restored:
		c.Message = ""
		p.r.Recorder.Eventf(p.topo, nil, corev1.EventTypeNormal, "Restored", "Failover",
			"cluster %s has been reachable for %s: its share returns", c.Name, p.restoreAfter)
		p.log.Info("member restored", "cluster", c.Name)
	default:
		c.Message = ""
		if c.Excluded {
			c.Message = "excluded by failover: " + why
		}
	}
	return tr
}

// plan computes the plan, and computes it again when what it found failed
// a member over or restored it: what is applied is always placed by the
// membership the status says.
func (p *pass) plan(ctx context.Context) (outcome, bool) {
	for again := false; ; again = true {
		res, err := p.compute(ctx)
		if err != nil {
			p.fail("PlanFailed", err)
			p.r.Recorder.Eventf(p.topo, nil, corev1.EventTypeWarning, "PlanFailed", "Plan", "%s", truncate(err.Error()))
			p.topo.Status.Clusters = sortedClusters(p.clusters)
			return outcome{result: "error", next: p.next}, false
		}
		p.res = res
		if !p.failoverFromPlan(res) || again {
			return outcome{}, true
		}
	}
}

// compute is one plan.Compute. Members failover keeps out are excluded
// from placement: the engine places nothing on them and leaves them alone.
// Every other member keeps its share while it cannot be reached, until
// failover.after: the healthy members are planned and applied meanwhile (a
// hand edit there is put back) and nothing moves. A division by capacity
// cannot keep the share of a member whose capacity it cannot read: such a
// topology is not applied at all during a grace period (see run).
func (p *pass) compute(ctx context.Context) (*plan.Result, error) {
	exclude := map[string]string{}
	var keep []string
	capacityDivided := desired.DividesByCapacity(p.t)
	for _, ref := range p.t.Clusters() {
		name := ref.Cluster.Name
		switch {
		case p.clusters[name].Excluded:
			exclude[name] = "excluded by failover"
		case !capacityDivided:
			keep = append(keep, name)
		}
	}
	started := time.Now()
	res, err := p.r.session().Plan(ctx, engine.PlanOptions{Fleet: engine.Fleet{
		Topology: p.t, FS: p.fsys, Keep: keep, Exclude: exclude, Members: p.creds.targets(p.t, p.dark),
	}})
	p.r.Metrics.PlanDuration.WithLabelValues(p.topo.Namespace, p.topo.Name).Observe(time.Since(started).Seconds())
	return res, err
}

// status writes what the plan found into the status and the metrics, and
// keeps the members watched and probed.
func (p *pass) status() {
	r, topo, st, pl := p.r, p.topo, &p.topo.Status, p.res.Plan
	st.LastPlanTime = &metav1.Time{Time: pl.CreatedAt}
	st.LastPlan = &v1alpha1.PlanSummary{
		ObjectsToCreate: pl.Summary.ObjectsToCreate, ObjectsToChange: pl.Summary.ObjectsToChange, ObjectsToDelete: pl.Summary.ObjectsToDelete,
		Errors: pl.Summary.Errors, Unreachable: pl.Summary.Unreachable, Warnings: pl.Warnings,
	}
	st.Placements = placements(pl)
	unreachable, excluded := 0, 0
	for _, reg := range pl.Regions {
		for _, pc := range reg.Clusters {
			c := p.clusters[pc.Name]
			c.InSync, c.Drifted, c.Failed = countObjects(pc)
			c.Applied, c.Pruned, c.Ready = 0, 0, false
			r.Metrics.OutOfSync.WithLabelValues(topo.Namespace, topo.Name, pc.Name).Set(float64(c.Drifted))
			if c.Reachable && !c.Excluded {
				c.Message = pc.Error
			}
			if !c.Reachable {
				unreachable++
			}
			if c.Excluded {
				excluded++
			}
		}
	}
	r.Metrics.Unreachable.WithLabelValues(topo.Namespace, topo.Name).Set(float64(unreachable))
	r.Metrics.Excluded.WithLabelValues(topo.Namespace, topo.Name).Set(float64(excluded))
	st.Clusters = sortedClusters(p.clusters)

	key := client.ObjectKeyFromObject(topo)
	if r.Watches != nil {
		r.Watches.Ensure(key, memberWatches(p.t, p.res, p.creds, p.clusters))
	}
	if r.Health != nil {
		var probes []Probe
		for _, ref := range p.t.Clusters() {
			name := ref.Cluster.Name
			if cfg := p.creds.configs[name]; cfg != nil {
				probes = append(probes, Probe{Cluster: name, Config: cfg, Key: p.creds.keys[name], Reachable: p.clusters[name].Reachable})
			}
		}
		r.Health.Ensure(key, probes)
	}
}

// degraded sets the Degraded condition from the members' state.
func (p *pass) degraded() {
	var why []string
	for _, c := range p.topo.Status.Clusters {
		if c.Message != "" || c.Failed > 0 {
			why = append(why, c.Name+": "+firstNonEmpty(c.Message, fmt.Sprintf("%d objects failed", c.Failed)))
		}
	}
	if len(why) == 0 {
		p.setCond(v1alpha1.ConditionDegraded, metav1.ConditionFalse, "AllMembersHealthy", "every member is reachable and planned")
		return
	}
	p.setCond(v1alpha1.ConditionDegraded, metav1.ConditionTrue, "MembersUnhealthy", truncate(strings.Join(why, "; ")))
}

func (p *pass) waitingMessage() string {
	return fmt.Sprintf("waiting for failover: %s unreachable, keeping its share until it is back or failover.after (%s) has passed", strings.Join(p.waiting, ", "), p.after)
}

// report is Plan mode's end: drift is reported, nothing changed.
func (p *pass) report() outcome {
	pl := p.res.Plan
	if pl.Summary.HasChanges() {
		msg := planLine(pl)
		p.setCond(v1alpha1.ConditionSynced, metav1.ConditionFalse, "Drifted", msg)
		p.r.Recorder.Eventf(p.topo, nil, corev1.EventTypeNormal, "Drifted", "Plan", "%s (mode Plan: nothing changed)", msg)
	} else {
		p.setCond(v1alpha1.ConditionSynced, metav1.ConditionTrue, "NoChanges", "the plan has no changes")
	}
	switch {
	case len(p.waiting) > 0:
		p.setCond(v1alpha1.ConditionReady, metav1.ConditionFalse, "WaitingForFailover", p.waitingMessage())
	case pl.Failed():
		p.setCond(v1alpha1.ConditionReady, metav1.ConditionFalse, "PlanIncomplete", "some members could not be planned")
	default:
		p.setCond(v1alpha1.ConditionReady, metav1.ConditionTrue, "Planned", "every member was planned")
	}
	p.degraded()
	if pl.Summary.HasChanges() {
		return outcome{result: "drifted", next: p.next}
	}
	return outcome{result: "synced", next: p.next}
}

// apply is Apply mode's end: the plan applied under the members' Leases,
// and what it did in the status.
func (p *pass) apply(ctx context.Context) outcome {
	r, topo, st := p.r, p.topo, &p.topo.Status
	heldID := plan.HeldID(p.res.Plan)
	if clusters, ok := approved(topo.Annotations[v1alpha1.AnnotationApprovePrune], heldID); ok {
		p.res.Plan.AllowPrune(clusters)
		who := strings.Join(clusters, ", ")
		if slices.Contains(clusters, plan.AllowAll) {
			who = "every member it held"
		}
		r.Recorder.Eventf(topo, nil, corev1.EventTypeNormal, "PruneApproved", "Apply", "plan %s: deleting what the prune guard held on %s, as approved", heldID, who)
		heldID = plan.HeldID(p.res.Plan)
	}
	started := time.Now()
	ar, err := r.session().Apply(ctx, p.res, engine.ApplyOptions{
		GKETimeout: r.GKETimeout,
		Lock:       inventory.LockOptions{TTL: r.LockTTL, Holder: r.Holder},
		// The topology is the authority: a field someone changed by hand
		// (kubectl edit takes it into their own field manager) is taken
		// back, or the edit would stand forever.
		ForceConflicts: !r.KeepConflicts,
		Prune:          true,
		Wait:           true,
		Timeout:        r.ApplyTimeout,
	})
	r.Metrics.ApplyDuration.WithLabelValues(topo.Namespace, topo.Name).Observe(time.Since(started).Seconds())
	st.LastApplyTime = &metav1.Time{Time: r.now()}
	if err != nil {
		p.fail("ApplyFailed", err)
		r.Recorder.Eventf(topo, nil, corev1.EventTypeWarning, "ApplyFailed", "Apply", "%s", truncate(err.Error()))
		p.degraded()
		return outcome{result: "error", next: p.next}
	}
	done := p.recordApply(ar, func(name string) bool {
		// Left alone on purpose: the plan had it out.
		return p.clusters[name].Excluded || slices.Contains(p.waiting, name)
	})
	failed, held := done.failed, done.held
	for _, name := range done.created {
		// Plan again soon: that plan connects to the new cluster, and
		// joins it.
		p.soonest(r.now())
		r.Recorder.Eventf(topo, nil, corev1.EventTypeNormal, "Provisioned", "Apply", "GKE cluster %s created", name)
	}
	r.joinProvisioned(ctx, topo, p.t, p.res, p.creds, p.clusters)
	st.Clusters = sortedClusters(p.clusters)
	if done.applied > 0 || done.pruned > 0 {
		r.Recorder.Eventf(topo, nil, corev1.EventTypeNormal, "Applied", "Apply", "%s; applied %d objects, pruned %d", planLine(p.res.Plan), done.applied, done.pruned)
	}
	p.degraded()
	// The prune guard's hold is a person's to lift (kubectl geofed apply
	// --allow-prune): said as its own condition and Event, and cleared
	// once a plan holds nothing.
	if len(held) > 0 {
		msg := fmt.Sprintf("prune guard: %s; everything else applied. Plan %s: kubectl geofed approve --hub HUB --topology %s lets these deletions through",
			strings.Join(held, "; "), heldID, topo.Name)
		p.setCond(v1alpha1.ConditionPruneBlocked, metav1.ConditionTrue, "PruneGuard", truncate(msg))
		r.Recorder.Eventf(topo, nil, corev1.EventTypeWarning, "PruneBlocked", "Apply", "%s", truncate(msg))
	} else {
		meta.RemoveStatusCondition(&st.Conditions, v1alpha1.ConditionPruneBlocked)
	}
	if len(failed) > 0 {
		msg := fmt.Sprintf("apply failed on %s", strings.Join(failed, ", "))
		p.setCond(v1alpha1.ConditionSynced, metav1.ConditionFalse, "ApplyFailed", msg)
		p.setCond(v1alpha1.ConditionReady, metav1.ConditionFalse, "ApplyFailed", msg)
		r.Recorder.Eventf(topo, nil, corev1.EventTypeWarning, "ApplyFailed", "Apply", "%s", truncate(msg+": "+ar.Summary()))
		return outcome{result: "degraded", next: p.next}
	}
	if len(p.waiting) > 0 {
		p.setCond(v1alpha1.ConditionSynced, metav1.ConditionFalse, "WaitingForFailover", p.waitingMessage())
		p.setCond(v1alpha1.ConditionReady, metav1.ConditionFalse, "WaitingForFailover", p.waitingMessage())
		return outcome{result: "waiting", next: p.next}
	}
	p.setCond(v1alpha1.ConditionSynced, metav1.ConditionTrue, "Applied", "every reachable member holds what the topology renders for it")
	p.setCond(v1alpha1.ConditionReady, metav1.ConditionTrue, "Ready", "applied; every workload is ready")
	for _, c := range p.clusters {
		if c.Excluded {
			return outcome{result: "degraded", next: p.next}
		}
	}
	return outcome{result: "synced", next: p.next}
}

// applyDone is what one apply did over the members a pass recorded.
type applyDone struct {
	applied, pruned int
	// failed names the members that failed; held says, per member, what
	// the prune guard held there; created names the GKE clusters apply
	// created.
	failed, held, created []string
}

// recordApply writes one apply's outcome per member into the status being
// written: its counts and readiness, and why it failed — or, when it did
// not, that it is in sync with no message left. skip names the members
// to leave as they are; nil skips none.
func (p *pass) recordApply(ar *apply.Result, skip func(name string) bool) applyDone {
	var done applyDone
	for _, o := range ar.Clusters {
		if skip != nil && skip(o.Name) {
			continue
		}
		c := p.clusters[o.Name]
		c.Applied, c.Pruned, c.Ready = o.Applied, o.Pruned, o.Ready
		if o.GKE == apply.GKECreated {
			done.created = append(done.created, o.Name)
		}
		done.applied += o.Applied
		done.pruned += o.Pruned
		var guard string
		if g := o.PruneHeld; g != nil {
			guard = fmt.Sprintf("%s would lose %d of %d objects geofed applied (%s)", o.Name, g.Deleting, g.Owned, strings.Join(g.Reasons, "; "))
			done.held = append(done.held, guard)
			guard = "prune guard: " + guard + ": nothing deleted"
		}
		if o.Failed() {
			done.failed = append(done.failed, o.Name)
			c.Message = firstNonEmpty(errString(o.Err), o.Skipped, guard)
			if c.Failed == 0 {
				c.Failed = max(c.Drifted, 1)
			}
			continue
		}
		c.Message = ""
		c.InSync, c.Drifted = c.InSync+c.Drifted, 0
		p.r.Metrics.OutOfSync.WithLabelValues(p.topo.Namespace, p.topo.Name, o.Name).Set(0)
	}
	return done
}

// approved reads an approval (v1alpha1.AnnotationApprovePrune) of the plan
// whose held deletions are heldID: the clusters it allows (plan.AllowAll
// for every one), and whether it approves this plan at all.
func approved(annotation, heldID string) ([]string, bool) {
	if heldID == "" || annotation == "" {
		return nil, false
	}
	id, clusters, some := strings.Cut(annotation, ":")
	if id != heldID {
		return nil, false
	}
	if !some {
		return []string{plan.AllowAll}, true
	}
	return strings.Split(clusters, ","), true
}
