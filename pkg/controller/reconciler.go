// Package controller is the control plane: it reconciles Topology objects
// (package controller/api/v1alpha1) in a hub cluster with the same engine
// `kubectl geofed plan` and `apply` use — plan.Compute, then in Apply mode
// apply.Run under the same per-cluster Lease — at every change of the
// Topology and at a resync period, keeps failover state in the status,
// and reports conditions, per-cluster results, Events and metrics.
package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crcontroller "sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/geofed-io/kubectl-geofed/pkg/datasource"
	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/engine"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/membership"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
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
	// Reader reads the pushed sources uncached, so the controller needs
	// get on them, not list and watch.
	Reader client.Reader
	// Secrets reads the member Secrets: the manager's cache, which holds
	// only those (MemberSecretSelector).
	Secrets client.Reader
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
	// Health, when set, probes every reconciled Topology's members; its
	// verdicts run the failover clocks and leave dark members out.
	Health *Health
	// GKE reaches the GKE API for topologies with managed clusters: the
	// emulator when its EmulatorHost is set, else Google's API with the
	// pod's Application Default Credentials (Workload Identity).
	GKE gke.ClientOptions
	// GKETimeout bounds one cluster's GKE work, as apply --gke-timeout.
	GKETimeout time.Duration
	// Data reaches Cloud Storage for the location of the buckets a
	// Topology's workloads name (placement near gs://bucket): the
	// emulator when its EmulatorHost is set, else Cloud Storage with the
	// pod's Application Default Credentials. Only Topologies naming a
	// bucket reach it, once per plan.
	Data datasource.Options
	// Hub writes, through package membership, the member Secrets of the
	// GKE clusters the controller provisions; nil joins none.
	Hub kubernetes.Interface

	// fleet remembers each Topology's last pass over the fleet, which
	// corrections of one member are planned against.
	fleet fleetPasses

	sessionOnce sync.Once
	sess        *engine.Session
}

// session is the process's engine session, as the CLI's commands have
// theirs: the GKE client and credentials (made at the first topology with
// managed clusters, and kept), how members are reached, the limits, the
// clock. Every plan and apply of every Topology runs through it.
func (r *Reconciler) session() *engine.Session {
	r.sessionOnce.Do(func() {
		r.sess = engine.New(engine.Options{GKE: r.GKE, Data: r.Data, Member: r.Member, Parallel: r.Parallel, Now: r.Now})
	})
	return r.sess
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
	if r.Health != nil {
		if err := mgr.Add(r.Health); err != nil {
			return err
		}
	}
	return b.Complete(r)
}

// Reconcile plans the Topology and, in Apply mode, applies it.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var topo v1alpha1.Topology
	if err := r.Client.Get(ctx, req.NamespacedName, &topo); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.Namespace, req.Name)
			r.stopWatching(req.NamespacedName)
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

// joinProvisioned joins the GKE clusters of the topology that answer and
// have no member Secret yet, as kubectl geofed join --hub would: a
// ServiceAccount with least-privilege RBAC for the kinds the topology
// renders there, and its kubeconfig in the hub. So a cluster the controller
// created is a member like any joined one: watched, shown, unjoined the
// same way. The engine itself keeps reaching GKE clusters through GKE's
// endpoint with the controller's Google identity, which provisioning needs
// anyway. A failure is the cluster's message and an Event, and is tried
// again at the next reconcile.
func (r *Reconciler) joinProvisioned(ctx context.Context, topo *v1alpha1.Topology, t *topology.Topology, res *plan.Result, creds *credentials, clusters map[string]*v1alpha1.ClusterStatus) {
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
			kinds, ok := membership.PlannedKinds(res.Desired, name)
			if !ok {
				return fmt.Errorf("cluster %s is not in the plan", name)
			}
			access, _, err := membership.Grant(ctx, membership.GrantOptions{Kinds: &kinds, Topology: t.Metadata.Name, Conn: conn})
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
				Access:   access,
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

// stopWatching stops the member watches and probes of a Topology that is
// deleted or paused.
func (r *Reconciler) stopWatching(topo types.NamespacedName) {
	if r.Watches != nil {
		r.Watches.Forget(topo)
	}
	if r.Health != nil {
		r.Health.Forget(topo)
	}
}

// forget drops the series of a deleted Topology.
func (r *Reconciler) forget(namespace, name string) {
	r.fleet.set(types.NamespacedName{Namespace: namespace, Name: name}, nil)
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
		switch {
		case o.Action.InSync():
			inSync++
		case o.Action.IsWrite():
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
