// Package controller is the control plane: it reconciles Topology objects
// (package controller/api/v1alpha1) in a hub cluster with the same engine
// `kubectl geofed plan` and `apply` use — plan.Compute, then in Apply mode
// apply.Run under the same per-cluster Lease — at every change of the
// Topology and at a resync period, keeps failover state in the status,
// and reports conditions, per-cluster results, Events and metrics.
package controller

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/geofed-io/kubectl-geofed/pkg/apply"
	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/bundle"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/membership"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/observe"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// Defaults of the Reconciler.
const (
	DefaultResync       = 5 * time.Minute
	DefaultApplyTimeout = 5 * time.Minute
	// FieldManager is the hub-side field manager and the Events' reporting
	// controller; on members the engine's own (object.FieldManager) is used.
	FieldManager = "geofed-controller"
)

// Reconciler reconciles one Topology at a time with the engine.
type Reconciler struct {
	// Client reads Topologies and writes their status.
	Client client.Client
	// Reader reads the pushed sources and the member Secrets uncached, so
	// the controller needs get on them, not list and watch.
	Reader client.Reader
	// Namespace holds the member kubeconfig Secrets.
	Namespace string
	Recorder  recorder.EventRecorder
	Metrics   *Metrics
	// Resync is how often a Topology is planned again with no change to it;
	// DefaultResync when zero.
	Resync time.Duration
	// Member tunes connections to the members, as the CLI's flags do.
	Member member.Options
	// LockTTL is the member Leases' TTL (inventory.DefaultLockTTL when
	// zero); Holder is written to them so a refused CLI apply names the
	// controller.
	LockTTL time.Duration
	Holder  string
	// KeepConflicts leaves fields other managers took from geofed to them,
	// as the CLI does without --force-conflicts: such objects fail instead
	// of being put back.
	KeepConflicts bool
	// ApplyTimeout bounds waiting for one cluster's workloads to be ready.
	ApplyTimeout time.Duration
	// Parallel bounds how many members are planned and applied at once.
	Parallel int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Watches, when set, watches every reconciled Topology's members and
	// reconciles on what it sees; SetupWithManager wires its trigger.
	Watches *Watches
	// GKE reaches the GKE API for topologies with managed clusters: the
	// emulator when its EmulatorHost is set, else Google's API with the
	// pod's Application Default Credentials (Workload Identity).
	GKE gke.ClientOptions
	// GKETimeout bounds one cluster's GKE work, as apply --gke-timeout.
	GKETimeout time.Duration
	// Hub writes, through package membership, the member Secrets of the
	// GKE clusters the controller provisions; nil joins none.
	Hub kubernetes.Interface

	gkeMu     sync.Mutex
	gkeClient *gke.Client
	gkeTokens oauth2.TokenSource
}

// gkeAPI is the process's GKE client and token source, made at the first
// topology with managed clusters and kept.
func (r *Reconciler) gkeAPI(ctx context.Context) (*gke.Client, oauth2.TokenSource, error) {
	r.gkeMu.Lock()
	defer r.gkeMu.Unlock()
	if r.gkeClient != nil {
		return r.gkeClient, r.gkeTokens, nil
	}
	ts, err := gke.TokenSource(ctx, r.GKE)
	if err != nil {
		return nil, nil, err
	}
	// Not ctx: the client outlives this reconcile.
	c, err := gke.NewClient(context.WithoutCancel(ctx), r.GKE)
	if err != nil {
		return nil, nil, err
	}
	r.gkeClient, r.gkeTokens = c, ts
	return c, ts, nil
}

// SetupWithManager watches Topologies: a change of spec (generation) or of
// labels and annotations reconciles; status writes do not.
// Several managers in one process (tests) need skipNameValidation: the
// controller's name labels its metrics, and controller-runtime refuses a
// name twice per process.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, skipNameValidation bool) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Topology{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		WithOptions(crcontroller.Options{SkipNameValidation: &skipNameValidation}).
		Named("topology")
	if r.Watches != nil {
		if err := mgr.Add(r.Watches); err != nil {
			return err
		}
		b = b.WatchesRawSource(r.Watches.Source())
	}
	return b.Complete(r)
}

// Reconcile plans the Topology and, in Apply mode, applies it.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var topo v1alpha1.Topology
	if err := r.Client.Get(ctx, req.NamespacedName, &topo); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.Namespace, req.Name)
			if r.Watches != nil {
				r.Watches.Forget(req.NamespacedName)
			}
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if done, res, err := r.deletionPolicy(ctx, &topo); done {
		if apierrors.IsConflict(err) {
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		return res, err
	}
	started := time.Now()
	run := r.run(ctx, &topo)
	r.Metrics.Reconciles.WithLabelValues(topo.Namespace, topo.Name, run.result).Inc()
	log.FromContext(ctx).Info("reconciled", "result", run.result, "took", time.Since(started).Round(time.Millisecond).String())
	topo.Status.ObservedGeneration = topo.Generation
	if err := r.Client.Status().Update(ctx, &topo); err != nil {
		// A conflict means the Topology changed meanwhile, and that change
		// reconciles again; the failover clocks of this run are lost with
		// the write, and start over from the status on the next.
		if apierrors.IsConflict(err) {
			return ctrl.Result{RequeueAfter: time.Second}, nil
		}
		return ctrl.Result{}, fmt.Errorf("writing the status of Topology %s/%s: %w", topo.Namespace, topo.Name, err)
	}
	if run.paused || run.invalid {
		return ctrl.Result{}, nil
	}
	next := r.resync()
	if !run.next.IsZero() {
		if d := run.next.Sub(r.now()); d < next {
			next = max(d, time.Second)
		}
	}
	return ctrl.Result{RequeueAfter: next}, nil
}

func (r *Reconciler) resync() time.Duration {
	if r.Resync > 0 {
		return r.Resync
	}
	return DefaultResync
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// outcome is what one run did, for the metrics and the requeue.
type outcome struct {
	result  string
	paused  bool
	invalid bool
	// next is when a failover clock runs out, zero for none.
	next time.Time
}

// run does one reconcile and writes what it found into topo.Status; it
// never fails as a whole: every error ends up in a condition.
func (r *Reconciler) run(ctx context.Context, topo *v1alpha1.Topology) outcome {
	logger := log.FromContext(ctx)
	st := &topo.Status
	gen := topo.Generation
	setCond := func(typ string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen})
	}
	fail := func(reason string, err error) {
		setCond(v1alpha1.ConditionReady, metav1.ConditionFalse, reason, err.Error())
		setCond(v1alpha1.ConditionSynced, metav1.ConditionUnknown, reason, "not planned")
	}

	if topo.Spec.Paused {
		setCond(v1alpha1.ConditionReady, metav1.ConditionFalse, "Paused", "spec.paused is set: nothing is planned or applied")
		if r.Watches != nil {
			r.Watches.Forget(client.ObjectKeyFromObject(topo))
		}
		return outcome{result: "paused", paused: true}
	}

	// One private directory per reconcile holds the member kubeconfigs
	// (and names the in-memory bundle's root, see load).
	dir, err := os.MkdirTemp("", "geofed-reconcile-")
	if err != nil {
		fail("Internal", err)
		return outcome{result: "error"}
	}
	defer os.RemoveAll(dir)

	t, fsys, err := r.load(ctx, topo, dir)
	if err != nil {
		var invalid topology.ErrorList
		if errors.As(err, &invalid) {
			fail("Invalid", err)
			r.Recorder.Eventf(topo, nil, corev1.EventTypeWarning, "Invalid", "Load", "%s", truncate(err.Error()))
			return outcome{result: "invalid", invalid: true}
		}
		fail("SourcesUnavailable", err)
		return outcome{result: "error"}
	}
	var (
		gkeClient *gke.Client
		gkeTokens oauth2.TokenSource
	)
	if slices.ContainsFunc(t.Clusters(), func(ref topology.ClusterRef) bool { return ref.Cluster.Managed() }) {
		if gkeClient, gkeTokens, err = r.gkeAPI(ctx); err != nil {
			fail("GKEUnavailable", fmt.Errorf("the topology has GKE clusters: %w", err))
			return outcome{result: "error"}
		}
	}

	creds, err := writeCredentials(ctx, r.Reader, r.Namespace, t, filepath.Join(dir, "members"))
	if err != nil {
		fail("Credentials", err)
		return outcome{result: "error"}
	}

	after, restoreAfter := topo.Spec.FailoverAfter(), topo.Spec.FailoverRestoreAfter()
	prev := map[string]v1alpha1.ClusterStatus{}
	for _, c := range st.Clusters {
		prev[c.Name] = c
	}
	clusters := map[string]*v1alpha1.ClusterStatus{}
	var next time.Time
	soonest := func(at time.Time) {
		if !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}

	// Members failover keeps out are excluded from placement: the engine
	// places nothing on them and leaves them alone, but still connects, so
	// the plan says whether they answer (their restore clock).
	exclude := map[string]string{}
	for _, ref := range t.Clusters() {
		c := prev[ref.Cluster.Name]
		c.Name, c.Region = ref.Cluster.Name, ref.Region
		clusters[c.Name] = &c
		if c.Excluded {
			exclude[c.Name] = "excluded by failover"
		}
	}

	// Every member failover does not keep out keeps its share while it
	// cannot be reached, until failover.after: the healthy members are
	// planned and applied meanwhile (a hand edit there is put back) and
	// nothing moves. A division by capacity cannot keep the share of a
	// member whose capacity it cannot read: such a topology is not
	// applied at all during a grace period (see below).
	capacityDivided := desired.DividesByCapacity(t)
	var keep []string
	if !capacityDivided {
		for _, ref := range t.Clusters() {
			if !clusters[ref.Cluster.Name].Excluded {
				keep = append(keep, ref.Cluster.Name)
			}
		}
	}

	obsOpts := observe.Options{Topology: t, Member: r.Member, Keep: keep, Exclude: exclude, TokenSource: gkeTokens}
	if gkeClient != nil {
		obsOpts.GKE = gkeClient // a nil *gke.Client would be a non-nil interface
	}
	planStart := time.Now()
	res, err := plan.Compute(ctx, plan.Options{
		Options:  obsOpts,
		FS:       fsys,
		Parallel: r.Parallel,
		Now:      r.Now,
	})
	r.Metrics.PlanDuration.WithLabelValues(topo.Namespace, topo.Name).Observe(time.Since(planStart).Seconds())
	if err != nil {
		fail("PlanFailed", err)
		r.Recorder.Eventf(topo, nil, corev1.EventTypeWarning, "PlanFailed", "Plan", "%s", truncate(err.Error()))
		st.Clusters = sortedClusters(clusters)
		return outcome{result: "error", next: next}
	}
	p := res.Plan
	if r.Watches != nil {
		r.Watches.Ensure(client.ObjectKeyFromObject(topo), memberWatches(t, res, creds, clusters))
	}
	st.LastPlanTime = &metav1.Time{Time: p.CreatedAt}
	st.LastPlan = &v1alpha1.PlanSummary{
		ObjectsToCreate: p.Summary.ObjectsToCreate, ObjectsToChange: p.Summary.ObjectsToChange, ObjectsToDelete: p.Summary.ObjectsToDelete,
		Errors: p.Summary.Errors, Unreachable: p.Summary.Unreachable, Warnings: p.Warnings,
	}
	st.Placements = placements(p)

	// Reachability comes from the plan's own connections. Clocks start
	// when a member was seen, not when the reconcile began: a member seen
	// down after a reconcile started must not count the time before as
	// down (nor up, for a restore).
	now := r.now()
	var waiting []string
	unreachable, excluded := 0, 0
	for _, reg := range p.Regions {
		for _, pc := range reg.Clusters {
			c := clusters[pc.Name]
			c.InSync, c.Drifted, c.Failed = countObjects(pc)
			c.Applied, c.Pruned, c.Ready = 0, 0, false
			r.Metrics.OutOfSync.WithLabelValues(topo.Namespace, topo.Name, pc.Name).Set(float64(c.Drifted))
			if _, out := exclude[pc.Name]; out {
				connErr := errors.New("not connected")
				if conn := res.Observation.Conn(pc.Name); conn != nil {
					connErr = conn.Err
				}
				c.Reachable = connErr == nil
				switch tr, at := track(c, c.Reachable, now, after, restoreAfter); tr {
				case restored:
					c.Message = ""
					r.Recorder.Eventf(topo, nil, corev1.EventTypeNormal, "Restored", "Failover",
						"cluster %s has been reachable for %s: its share returns", c.Name, restoreAfter)
					logger.Info("member restored", "cluster", c.Name)
					// This plan left it out: plan again at once.
					soonest(now)
				case recovering:
					c.Message = fmt.Sprintf("reachable again since %s; excluded until it has been reachable for %s", c.ReachableSince.UTC().Format(time.RFC3339), restoreAfter)
					soonest(at)
				default:
					c.Message = fmt.Sprintf("excluded by failover: %s", memberError(connErr, creds.missing[c.Name]))
				}
				if c.Excluded {
					excluded++
				}
				if !c.Reachable {
					unreachable++
				}
				continue
			}
			c.Reachable = pc.Unreachable == ""
			if !c.Reachable {
				unreachable++
			}
			switch tr, at := track(c, c.Reachable, now, after, restoreAfter); tr {
			case grace:
				waiting = append(waiting, c.Name)
				c.Message = fmt.Sprintf("unreachable since %s; its share moves to the others at %s: %s",
					c.UnreachableSince.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339), memberError(errors.New(pc.Unreachable), creds.missing[c.Name]))
				soonest(at)
			case failedOver:
				excluded++
				c.Message = "excluded by failover: " + memberError(errors.New(pc.Unreachable), creds.missing[c.Name])
				r.Recorder.Eventf(topo, nil, corev1.EventTypeWarning, "FailedOver", "Failover",
					"cluster %s unreachable since %s: excluded, its share goes to the others", c.Name, c.UnreachableSince.UTC().Format(time.RFC3339))
				logger.Info("member failed over", "cluster", c.Name)
			default:
				c.Message = pc.Error
			}
		}
	}
	r.Metrics.Unreachable.WithLabelValues(topo.Namespace, topo.Name).Set(float64(unreachable))
	r.Metrics.Excluded.WithLabelValues(topo.Namespace, topo.Name).Set(float64(excluded))
	st.Clusters = sortedClusters(clusters)

	degraded := func() {
		var why []string
		for _, c := range st.Clusters {
			if c.Message != "" || c.Failed > 0 {
				why = append(why, c.Name+": "+firstNonEmpty(c.Message, fmt.Sprintf("%d objects failed", c.Failed)))
			}
		}
		if len(why) == 0 {
			setCond(v1alpha1.ConditionDegraded, metav1.ConditionFalse, "AllMembersHealthy", "every member is reachable and planned")
			return
		}
		setCond(v1alpha1.ConditionDegraded, metav1.ConditionTrue, "MembersUnhealthy", truncate(strings.Join(why, "; ")))
	}

	waitingMsg := fmt.Sprintf("waiting for failover: %s unreachable, keeping its share until it is back or failover.after (%s) has passed", strings.Join(waiting, ", "), after)
	if len(waiting) > 0 && capacityDivided {
		// The plan left the unreachable member out (its capacity is
		// unknown) and moved its share; applying it would fail over
		// before failover.after. Nothing is applied until the member is
		// back or its grace has run out.
		msg := fmt.Sprintf("waiting for failover: %s unreachable; a division by capacity cannot keep its share, so nothing is applied until it is back or failover.after (%s) has passed", strings.Join(waiting, ", "), after)
		setCond(v1alpha1.ConditionSynced, metav1.ConditionFalse, "WaitingForFailover", msg)
		setCond(v1alpha1.ConditionReady, metav1.ConditionFalse, "WaitingForFailover", msg)
		degraded()
		return outcome{result: "waiting", next: next}
	}

	if topo.Spec.EffectiveMode() == v1alpha1.ModePlan {
		if p.Summary.HasChanges() {
			msg := planLine(p)
			setCond(v1alpha1.ConditionSynced, metav1.ConditionFalse, "Drifted", msg)
			r.Recorder.Eventf(topo, nil, corev1.EventTypeNormal, "Drifted", "Plan", "%s (mode Plan: nothing changed)", msg)
		} else {
			setCond(v1alpha1.ConditionSynced, metav1.ConditionTrue, "NoChanges", "the plan has no changes")
		}
		if len(waiting) > 0 {
			setCond(v1alpha1.ConditionReady, metav1.ConditionFalse, "WaitingForFailover", waitingMsg)
		} else if p.Failed() {
			setCond(v1alpha1.ConditionReady, metav1.ConditionFalse, "PlanIncomplete", "some members could not be planned")
		} else {
			setCond(v1alpha1.ConditionReady, metav1.ConditionTrue, "Planned", "every member was planned")
		}
		degraded()
		if p.Summary.HasChanges() {
			return outcome{result: "drifted", next: next}
		}
		return outcome{result: "synced", next: next}
	}

	applyStart := time.Now()
	ar, err := apply.Run(ctx, apply.Options{
		Result:      res,
		Member:      r.Member,
		GKE:         gkeClient,
		TokenSource: gkeTokens,
		GKETimeout:  r.GKETimeout,
		Lock:        inventory.LockOptions{TTL: r.LockTTL, Holder: r.Holder},
		// The topology is the authority: a field someone changed by hand
		// (kubectl edit takes it into their own field manager) is taken
		// back, or the edit would stand forever.
		ForceConflicts: !r.KeepConflicts,
		Prune:          true,
		Wait:           true,
		Timeout:        r.ApplyTimeout,
		// Parallel as in plan.
		Parallel: r.Parallel,
	})
	r.Metrics.ApplyDuration.WithLabelValues(topo.Namespace, topo.Name).Observe(time.Since(applyStart).Seconds())
	st.LastApplyTime = &metav1.Time{Time: r.now()}
	if err != nil {
		fail("ApplyFailed", err)
		r.Recorder.Eventf(topo, nil, corev1.EventTypeWarning, "ApplyFailed", "Apply", "%s", truncate(err.Error()))
		degraded()
		return outcome{result: "error", next: next}
	}
	var failed []string
	applied, pruned := 0, 0
	for _, o := range ar.Clusters {
		c := clusters[o.Name]
		if _, out := exclude[o.Name]; out || slices.Contains(waiting, o.Name) {
			// Left alone on purpose: the plan had it out.
			continue
		}
		c.Applied, c.Pruned, c.Ready = o.Applied, o.Pruned, o.Ready
		if o.GKE == apply.GKECreated {
			// Plan again soon: that plan connects to the new cluster, and
			// joins it.
			next = now
			r.Recorder.Eventf(topo, nil, corev1.EventTypeNormal, "Provisioned", "Apply", "GKE cluster %s created", o.Name)
		}
		applied += o.Applied
		pruned += o.Pruned
		if o.Failed() {
			failed = append(failed, o.Name)
			c.Message = firstNonEmpty(errString(o.Err), o.Skipped)
			if c.Failed == 0 {
				c.Failed = max(c.Drifted, 1)
			}
		} else {
			c.InSync, c.Drifted = c.InSync+c.Drifted, 0
			r.Metrics.OutOfSync.WithLabelValues(topo.Namespace, topo.Name, o.Name).Set(0)
		}
	}
	r.joinProvisioned(ctx, topo, t, fsys, res, creds, clusters)
	st.Clusters = sortedClusters(clusters)
	if applied > 0 || pruned > 0 {
		r.Recorder.Eventf(topo, nil, corev1.EventTypeNormal, "Applied", "Apply", "%s; applied %d objects, pruned %d", planLine(p), applied, pruned)
	}
	degraded()
	if len(failed) > 0 {
		msg := fmt.Sprintf("apply failed on %s", strings.Join(failed, ", "))
		setCond(v1alpha1.ConditionSynced, metav1.ConditionFalse, "ApplyFailed", msg)
		setCond(v1alpha1.ConditionReady, metav1.ConditionFalse, "ApplyFailed", msg)
		r.Recorder.Eventf(topo, nil, corev1.EventTypeWarning, "ApplyFailed", "Apply", "%s", truncate(msg+": "+ar.Summary()))
		return outcome{result: "degraded", next: next}
	}
	if len(waiting) > 0 {
		setCond(v1alpha1.ConditionSynced, metav1.ConditionFalse, "WaitingForFailover", waitingMsg)
		setCond(v1alpha1.ConditionReady, metav1.ConditionFalse, "WaitingForFailover", waitingMsg)
		return outcome{result: "waiting", next: next}
	}
	setCond(v1alpha1.ConditionSynced, metav1.ConditionTrue, "Applied", "every reachable member holds what the topology renders for it")
	setCond(v1alpha1.ConditionReady, metav1.ConditionTrue, "Ready", "applied; every workload is ready")
	if excluded > 0 {
		return outcome{result: "degraded", next: next}
	}
	return outcome{result: "synced", next: next}
}

// joinProvisioned joins the GKE clusters of the topology that answer and
// have no member Secret yet, as kubectl geofed join --hub would: a
// ServiceAccount with least-privilege RBAC for the kinds the topology
// renders there, and its kubeconfig in the hub. So a cluster the controller
// created is a member like any joined one: watched, shown, unjoined the
// same way. The engine itself keeps reaching GKE clusters through GKE's
// endpoint with the controller's Google identity, which provisioning needs
// anyway. A failure is the cluster's message and an Event, and is tried
// again at the next reconcile.
func (r *Reconciler) joinProvisioned(ctx context.Context, topo *v1alpha1.Topology, t *topology.Topology, fsys filesys.FileSystem, res *plan.Result, creds *credentials, clusters map[string]*v1alpha1.ClusterStatus) {
	if r.Hub == nil {
		return
	}
	for _, ref := range t.Clusters() {
		name := ref.Cluster.Name
		conn := res.Observation.Conn(name)
		if !ref.Cluster.Managed() || creds.configs[name] != nil || conn == nil || conn.Err != nil || conn.Config == nil {
			continue
		}
		err := func() error {
			kinds, err := membership.TopologyKinds(t, fsys, name)
			if err != nil {
				return err
			}
			resources, err := membership.Resources(conn.Mapper, kinds)
			if err != nil {
				return err
			}
			mc, err := kubernetes.NewForConfig(conn.Config)
			if err != nil {
				return err
			}
			_, err = membership.Join(ctx, membership.JoinOptions{
				Cluster: name, Member: mc,
				Hub: r.Hub, HubName: "", HubNamespace: r.Namespace, HubNamespaceExists: true,
				Access:   membership.Access{Rules: membership.ComputeRules(resources)},
				Endpoint: membership.Endpoint{Server: conn.Config.Host, CAData: conn.Config.CAData, TLSServerName: conn.Config.ServerName},
			})
			return err
		}()
		if err != nil {
			clusters[name].Message = firstNonEmpty(clusters[name].Message, "joining the GKE cluster to the control plane: "+err.Error())
			r.Recorder.Eventf(topo, nil, corev1.EventTypeWarning, "JoinFailed", "Join", "GKE cluster %s: %s", name, truncate(err.Error()))
			continue
		}
		r.Recorder.Eventf(topo, nil, corev1.EventTypeNormal, "Joined", "Join",
			"GKE cluster %s joined: ServiceAccount kube-system/%s, its kubeconfig in Secret %s", name, membership.Name, MemberSecretName(name))
		log.FromContext(ctx).Info("GKE cluster joined", "cluster", name)
	}
}

// memberWatches says what to watch on each member the plan reached and
// failover does not keep out: the kinds planned there (live or to apply),
// and nodes and pods when some workload divides by capacity.
func memberWatches(t *topology.Topology, res *plan.Result, creds *credentials, clusters map[string]*v1alpha1.ClusterStatus) []MemberWatch {
	capacity := desired.DividesByCapacity(t)
	var out []MemberWatch
	for _, reg := range res.Plan.Regions {
		for _, pc := range reg.Clusters {
			cfg := creds.configs[pc.Name]
			conn := res.Observation.Conn(pc.Name)
			if cfg == nil || conn == nil || conn.Err != nil || clusters[pc.Name].Excluded {
				continue
			}
			var rs []schema.GroupVersionResource
			for _, o := range pc.Objects {
				m, err := conn.Mapper.RESTMapping(schema.GroupKind{Group: o.Group, Kind: o.Kind}, o.Version)
				if err != nil {
					continue // a kind the member does not serve yet: the next plan maps it
				}
				rs = append(rs, m.Resource)
			}
			out = append(out, MemberWatch{Cluster: pc.Name, Config: cfg, Key: creds.keys[pc.Name], Resources: sortResources(rs), Capacity: capacity})
		}
	}
	return out
}

// load reads the pushed sources and loads the Topology's spec from them
// with the CLI's own loader: same validation, same defaults, same errors.
// The sources and the topology document are laid out in memory under
// dir/bundle.
func (r *Reconciler) load(ctx context.Context, topo *v1alpha1.Topology, dir string) (*topology.Topology, filesys.FileSystem, error) {
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
	root := filepath.ToSlash(filepath.Join(dir, "bundle"))
	fsys, err := b.FS(root)
	if err != nil {
		return nil, nil, err
	}
	path := b.TopologyPath(root)
	// The document sits in the bundle's filesystem, where plan reads it
	// for the plan's source digest.
	if err := fsys.WriteFile(path, doc); err != nil {
		return nil, nil, err
	}
	t, err := topology.Options{IsDir: fsys.IsDir}.Parse(path, doc)
	if err != nil {
		return nil, nil, err
	}
	return t, fsys, nil
}

// forget drops the series of a deleted Topology.
func (r *Reconciler) forget(namespace, name string) {
	labels := map[string]string{"namespace": namespace, "topology": name}
	r.Metrics.OutOfSync.DeletePartialMatch(labels)
	r.Metrics.Unreachable.DeletePartialMatch(labels)
	r.Metrics.Excluded.DeletePartialMatch(labels)
	r.Metrics.Triggers.DeletePartialMatch(labels)
}

// countObjects sorts one cluster's planned objects into in sync, drifted
// (to create, change or delete) and failed.
func countObjects(pc plan.Cluster) (inSync, drifted, failed int) {
	for _, o := range pc.Objects {
		switch o.Action {
		case object.ActionNoop, object.ActionKeep:
			inSync++
		case object.ActionCreate, object.ActionUpdate, object.ActionConflict, object.ActionDelete, object.ActionReplace:
			drifted++
		default: // error, attention, foreign, being deleted
			failed++
		}
	}
	if pc.Error != "" && failed == 0 {
		failed = 1
	}
	return inSync, drifted, failed
}

func placements(p *plan.Plan) []v1alpha1.WorkloadPlacement {
	var out []v1alpha1.WorkloadPlacement
	for _, pr := range p.Placements {
		wp := v1alpha1.WorkloadPlacement{Workload: pr.Workload}
		for _, s := range pr.Shares {
			if s.Replicas != nil {
				if wp.Replicas == nil {
					wp.Replicas = map[string]int32{}
				}
				wp.Replicas[s.Cluster] = *s.Replicas
			}
		}
		out = append(out, wp)
	}
	return out
}

func sortedClusters(m map[string]*v1alpha1.ClusterStatus) []v1alpha1.ClusterStatus {
	out := make([]v1alpha1.ClusterStatus, 0, len(m))
	for _, c := range m {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b v1alpha1.ClusterStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// planLine is the plan's summary as the CLI prints its objects part.
func planLine(p *plan.Plan) string {
	s := p.Summary
	return fmt.Sprintf("plan: %d objects to create, %d to change, %d to delete", s.ObjectsToCreate, s.ObjectsToChange, s.ObjectsToDelete)
}

// memberError prefers the controller's own reason (no Secret) to the
// engine's (no such kubeconfig file), which would point at a file the
// controller made.
func memberError(err error, missing string) string {
	if missing != "" {
		return missing
	}
	if err == nil {
		return "excluded"
	}
	return err.Error()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// truncate keeps a message within what an Event or a condition holds well.
func truncate(s string) string {
	const limit = 1000
	if len(s) <= limit {
		return s
	}
	return s[:limit-3] + "..."
}
