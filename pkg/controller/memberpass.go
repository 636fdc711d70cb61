package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/geofed-io/kubectl-geofed/pkg/engine"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
)

// A hand edit on one member is corrected by a pass over that member alone,
// against the placement the last pass over the whole fleet computed: no
// other member is read or waited on (a hung one would hold every
// correction until its probe declared it dark), and the cost of a
// correction does not grow with the fleet. Placement is computed again —
// a pass over the fleet — whenever one of its inputs may have changed:
// the Topology (spec, labels, annotations), a member's capacity or health,
// a failover clock, the resync period.

// fleetPass is what a member pass needs of the last pass over the fleet.
type fleetPass struct {
	generation int64
	// meta digests the Topology's labels and annotations (an approval, a
	// refresh request): a change to them is a change of input.
	meta       string
	placements []placement.Result
	// at is when it planned; next is when its failover clocks run out
	// (zero for none): a pass after either is over the fleet again.
	at, next time.Time
}

// fleetPasses are the last fleet passes, by Topology: the leader's memory
// only, so a new leader starts with a pass over the fleet.
type fleetPasses struct {
	mu sync.Mutex
	m  map[types.NamespacedName]fleetPass
}

func (f *fleetPasses) get(key types.NamespacedName) (fleetPass, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fp, ok := f.m[key]
	return fp, ok
}

func (f *fleetPasses) set(key types.NamespacedName, fp *fleetPass) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[types.NamespacedName]fleetPass{}
	}
	if fp == nil {
		delete(f.m, key)
		return
	}
	f.m[key] = *fp
}

func metaDigest(topo *v1alpha1.Topology) string {
	h := sha256.New()
	for _, m := range []map[string]string{topo.Labels, topo.Annotations} {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			fmt.Fprintf(h, "%s=%s\x00", k, m[k])
		}
		h.Write([]byte{1})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// alone says which members this reconcile may correct alone, and against
// which fleet pass; none when it must be a pass over the fleet.
func (p *pass) alone(dirty Dirty) ([]string, fleetPass) {
	r, topo := p.r, p.topo
	if dirty.Fleet || len(dirty.Members) == 0 || topo.Spec.EffectiveMode() != v1alpha1.ModeApply {
		return nil, fleetPass{}
	}
	fp, ok := r.fleet.get(client.ObjectKeyFromObject(topo))
	now := r.now()
	if !ok || fp.generation != topo.Generation || fp.meta != metaDigest(topo) ||
		!now.Before(fp.at.Add(r.resync())) || (!fp.next.IsZero() && !now.Before(fp.next)) {
		return nil, fleetPass{}
	}
	var members []string
	for _, name := range slices.Sorted(maps.Keys(dirty.Members)) {
		c := p.clusters[name]
		if c == nil || c.Excluded || c.UnreachableSince != nil || p.creds.missing[name] != "" {
			// Failover has it: the fleet pass decides.
			return nil, fleetPass{}
		}
		if p.r.Health != nil {
			if v := p.r.Health.Verdict(name); v.Known && !v.Healthy {
				return nil, fleetPass{}
			}
		}
		members = append(members, name)
	}
	return members, fp
}

// remember keeps what a member pass needs of this pass over the fleet, or
// forgets it when this pass placed nothing to trust.
func (p *pass) remember(o outcome) {
	key := client.ObjectKeyFromObject(p.topo)
	if p.res == nil || o.result == "error" || o.result == "waiting" {
		p.r.fleet.set(key, nil)
		return
	}
	p.r.fleet.set(key, &fleetPass{
		generation: p.topo.Generation,
		meta:       metaDigest(p.topo),
		placements: p.res.Plan.Placements,
		at:         p.res.Plan.CreatedAt,
		next:       o.next,
	})
}

// correct plans and applies members alone against fp's placement. Its
// conditions are the fleet's, so it only ever says what went wrong; a pass
// over the fleet soon after says all is well again.
func (p *pass) correct(ctx context.Context, members []string, fp fleetPass) outcome {
	r, topo := p.r, p.topo
	// The fleet pass's own clocks still run: this pass ends by them.
	p.soonest(fp.next)
	p.soonest(fp.at.Add(r.resync()))
	started := time.Now()
	res, err := r.session().Plan(ctx, engine.PlanOptions{
		Fleet: engine.Fleet{Topology: p.t, FS: p.fsys, Members: p.creds.targets(p.t, p.dark)},
		Only:  members, Placements: fp.placements,
	})
	r.Metrics.PlanDuration.WithLabelValues(topo.Namespace, topo.Name).Observe(time.Since(started).Seconds())
	if err != nil {
		p.fail("PlanFailed", fmt.Errorf("planning %s alone: %w", strings.Join(members, ", "), err))
		r.Recorder.Eventf(topo, nil, corev1.EventTypeWarning, "PlanFailed", "Plan", "%s", truncate(err.Error()))
		r.fleet.set(client.ObjectKeyFromObject(topo), nil)
		return outcome{result: "error", next: r.now()}
	}
	p.res = res
	for _, reg := range res.Plan.Regions {
		for _, pc := range reg.Clusters {
			c := p.clusters[pc.Name]
			c.InSync, c.Drifted, c.Failed = countObjects(pc)
			r.Metrics.OutOfSync.WithLabelValues(topo.Namespace, topo.Name, pc.Name).Set(float64(c.Drifted))
		}
	}
	started = time.Now()
	ar, err := r.session().Apply(ctx, res, engine.ApplyOptions{
		GKETimeout:     r.GKETimeout,
		Lock:           inventory.LockOptions{TTL: r.LockTTL, Holder: r.Holder},
		ForceConflicts: !r.KeepConflicts, Prune: true, Wait: true, Timeout: r.ApplyTimeout,
	})
	r.Metrics.ApplyDuration.WithLabelValues(topo.Namespace, topo.Name).Observe(time.Since(started).Seconds())
	topo.Status.LastApplyTime = &metav1.Time{Time: r.now()}
	if err != nil {
		p.fail("ApplyFailed", err)
		r.Recorder.Eventf(topo, nil, corev1.EventTypeWarning, "ApplyFailed", "Apply", "%s", truncate(err.Error()))
		topo.Status.Clusters = sortedClusters(p.clusters)
		p.degraded()
		return outcome{result: "error", next: p.next}
	}
	done := p.recordApply(ar, nil)
	topo.Status.Clusters = sortedClusters(p.clusters)
	if done.applied > 0 || done.pruned > 0 {
		r.Recorder.Eventf(topo, nil, corev1.EventTypeNormal, "Applied", "Apply", "%s (corrected alone); applied %d objects, pruned %d", planLine(res.Plan), done.applied, done.pruned)
	}
	if len(done.held) > 0 || len(done.failed) > 0 {
		// Said by a pass over the fleet, which holds every member's part
		// of the conditions: at once.
		r.fleet.set(client.ObjectKeyFromObject(topo), nil)
		return outcome{result: "degraded", next: r.now()}
	}
	if cond := findCond(topo, v1alpha1.ConditionSynced); cond != nil && cond.Status != metav1.ConditionTrue {
		// Something a fleet pass said may be mended now: it says so.
		p.soonest(r.now())
	}
	return outcome{result: "corrected", next: p.next}
}

func findCond(topo *v1alpha1.Topology, typ string) *metav1.Condition {
	for i := range topo.Status.Conditions {
		if topo.Status.Conditions[i].Type == typ {
			return &topo.Status.Conditions[i]
		}
	}
	return nil
}
