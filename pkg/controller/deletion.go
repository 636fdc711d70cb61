package controller

import (
	"context"
	"errors"
	"fmt"

	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/geofed-io/kubectl-geofed/pkg/apply"
	"github.com/geofed-io/kubectl-geofed/pkg/engine"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// deletionPolicy keeps the destroy finalizer in step with
// spec.deletionPolicy and, once the Topology is being deleted, carries the
// policy out. done says the reconcile ends here, with res and err: a
// Topology being deleted is never planned or applied again, whatever its
// policy, or a deleted topology would put back what it had.
//
// The finalizer is put on every Topology whose policy is Delete and taken
// off one whose policy is not, also while it is being deleted: setting
// deletionPolicy: Orphan is how a person lets a Topology go that destroy
// cannot finish.
func (r *Reconciler) deletionPolicy(ctx context.Context, topo *v1alpha1.Topology) (done bool, res ctrl.Result, err error) {
	deleting := !topo.DeletionTimestamp.IsZero()
	holds := controllerutil.ContainsFinalizer(topo, v1alpha1.DestroyFinalizer)
	wants := topo.Spec.EffectiveDeletionPolicy() == v1alpha1.DeletionDelete
	if deleting && r.Watches != nil {
		// What destroy deletes on the members must not trigger reconciles.
		r.Watches.Forget(client.ObjectKeyFromObject(topo))
	}
	switch {
	case holds && !wants:
		if err := r.setFinalizer(ctx, topo, false); err != nil {
			return true, ctrl.Result{}, err
		}
		if deleting {
			log.FromContext(ctx).Info("deletion policy Orphan: what the topology applied stays on the members")
			r.Recorder.Eventf(topo, nil, corev1.EventTypeNormal, "Orphaned", "Delete",
				"deletionPolicy is %s: what the topology applied stays on the members, labelled and recorded", topo.Spec.EffectiveDeletionPolicy())
		}
		return deleting, ctrl.Result{}, nil
	case !holds && wants && !deleting:
		if err := r.setFinalizer(ctx, topo, true); err != nil {
			return true, ctrl.Result{}, err
		}
		return false, ctrl.Result{}, nil
	case deleting && holds:
		res, err := r.destroy(ctx, topo)
		return true, res, err
	case deleting:
		// Orphan, and held only by someone else's finalizer: nothing to do.
		return true, ctrl.Result{}, nil
	}
	return false, ctrl.Result{}, nil
}

// setFinalizer adds or removes the destroy finalizer with a patch that
// fails on a stale read, so a finalizer someone else added meanwhile is
// never dropped.
func (r *Reconciler) setFinalizer(ctx context.Context, topo *v1alpha1.Topology, on bool) error {
	orig := topo.DeepCopy()
	if on {
		controllerutil.AddFinalizer(topo, v1alpha1.DestroyFinalizer)
	} else {
		controllerutil.RemoveFinalizer(topo, v1alpha1.DestroyFinalizer)
	}
	verb := "adding"
	if !on {
		verb = "removing"
	}
	if err := r.Client.Patch(ctx, topo, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("%s finalizer %s on Topology %s/%s: %w", verb, v1alpha1.DestroyFinalizer, topo.Namespace, topo.Name, err)
	}
	return nil
}

// destroy removes what the Topology applied from every member, as
// `kubectl geofed destroy` does and with the same code: a destroy plan
// (every object the members' inventories record, with prune's safety),
// executed under each member's Lease. Only when every member is clean is
// the finalizer released; otherwise the condition Destroyed and an Event
// say what holds it, and it is tried again at the resync period (or at
// once on a change of the Topology).
func (r *Reconciler) destroy(ctx context.Context, topo *v1alpha1.Topology) (ctrl.Result, error) {
	if topo.Spec.Paused {
		r.destroyBlocked(ctx, topo, "Paused", "spec.paused is set: nothing is destroyed until it is unset (or deletionPolicy is set to Orphan, which leaves everything on the members)")
		return ctrl.Result{}, r.writeStatus(ctx, topo)
	}
	left, summary, err := r.runDestroy(ctx, topo)
	if err != nil {
		r.destroyBlocked(ctx, topo, "DestroyFailed", err.Error())
		if werr := r.writeStatus(ctx, topo); werr != nil {
			return ctrl.Result{}, werr
		}
		return ctrl.Result{RequeueAfter: r.resync()}, nil
	}
	if len(left) > 0 {
		r.destroyBlocked(ctx, topo, "DestroyIncomplete", "what the topology applied is not gone from every member: "+strings.Join(left, "; "))
		if werr := r.writeStatus(ctx, topo); werr != nil {
			return ctrl.Result{}, werr
		}
		return ctrl.Result{RequeueAfter: r.resync()}, nil
	}
	r.Recorder.Eventf(topo, nil, corev1.EventTypeNormal, "Destroyed", "Delete", "%s", truncate(strings.TrimSpace(summary)))
	log.FromContext(ctx).Info("destroyed: the finalizer is released", "summary", strings.TrimSpace(summary))
	if err := r.setFinalizer(ctx, topo, false); err != nil {
		return ctrl.Result{}, err
	}
	r.forget(topo.Namespace, topo.Name)
	return ctrl.Result{}, nil
}

// destroyBlocked says, in the status and an Event, why the Topology is
// still held.
func (r *Reconciler) destroyBlocked(ctx context.Context, topo *v1alpha1.Topology, reason, msg string) {
	msg = truncate(msg)
	gen := topo.Generation
	for _, typ := range []string{v1alpha1.ConditionDestroyed, v1alpha1.ConditionReady} {
		meta.SetStatusCondition(&topo.Status.Conditions, metav1.Condition{Type: typ, Status: metav1.ConditionFalse, Reason: reason, Message: msg, ObservedGeneration: gen})
	}
	r.Recorder.Eventf(topo, nil, corev1.EventTypeWarning, reason, "Delete", "the finalizer %s stays: %s", v1alpha1.DestroyFinalizer, msg)
	log.FromContext(ctx).Info("destroy incomplete: the finalizer stays", "reason", reason, "message", msg)
}

func (r *Reconciler) writeStatus(ctx context.Context, topo *v1alpha1.Topology) error {
	topo.Status.ObservedGeneration = topo.Generation
	if err := r.Client.Status().Update(ctx, topo); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("writing the status of Topology %s/%s: %w", topo.Namespace, topo.Name, err)
	}
	return nil
}

// runDestroy plans and executes the destroy. left says what is still on
// the members and why, one line per member, empty when all is gone.
func (r *Reconciler) runDestroy(ctx context.Context, topo *v1alpha1.Topology) (left []string, summary string, err error) {
	// The clusters are all destroy needs: the workloads are not rendered,
	// so neither the pushed sources nor their directories are read.
	doc, err := topo.Document()
	if err != nil {
		return nil, "", err
	}
	// In memory, where plan reads it for the plan's source digest.
	file := path.Join("/topologies", topo.Namespace, topo.Name, "topology.yaml")
	fsys := filesys.MakeFsInMemory()
	if err := fsys.WriteFile(file, doc); err != nil {
		return nil, "", err
	}
	anyDir := func(string) bool { return true }
	t, err := topology.Options{IsDir: anyDir}.Parse(file, doc)
	if err != nil {
		return nil, "", fmt.Errorf("the topology cannot be loaded, so its members are unknown: %w", err)
	}
	if err := r.session().Prepare(ctx, t); err != nil {
		return nil, "", fmt.Errorf("the topology has GKE clusters: %w", err)
	}
	creds := readCredentials(ctx, r.Secrets, r.Namespace, t)
	res, err := r.session().Plan(ctx, engine.PlanOptions{
		Fleet: engine.Fleet{Topology: t, FS: fsys, Members: creds.targets(t, nil)},
		Mode:  plan.ModeDestroy,
	})
	if err != nil {
		return nil, "", fmt.Errorf("planning the destroy: %w", err)
	}
	ar, err := r.session().Destroy(ctx, res, engine.ApplyOptions{
		GKETimeout: r.GKETimeout,
		Lock:       inventory.LockOptions{TTL: r.LockTTL, Holder: r.Holder},
	})
	if err != nil {
		return nil, "", fmt.Errorf("destroying: %w", err)
	}
	return apply.Left(res.Plan, ar), ar.DestroySummary(), nil
}
