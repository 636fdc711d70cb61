// Package status shows what the control plane reports of its Topologies
// (`kubectl geofed status --hub`): Build turns Topology objects read from a
// hub into a Status, plain data; Text, JSON and YAML print it.
//
// The machine forms are this package's own versioned document (APIVersion),
// not the Topology objects nor their raw status: the objects carry the
// whole topology spec and the bundle's chunk names, which a status reader
// does not want; their status is the CRD's, whose version moves with the
// API (v1alpha1 today); and what a reader needs most is not in it as such —
// whether the status is stale, when a member in its failover grace loses
// its share or an excluded one gets it back, the members grouped by region
// in the topology's order, and one verdict with its reasons. Those are
// computed here, once, and both the text and the exit code use them. The
// raw objects stay a `kubectl get topologies -o yaml` away.
package status

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
)

// APIVersion is the version of the JSON schema below. It changes only when
// a field changes meaning or disappears; new fields may be added.
const APIVersion = "geofed.io/hubstatus/v1"

// Status is what a hub's control plane reports of the Topologies in one
// namespace.
type Status struct {
	APIVersion string `json:"apiVersion"`
	// Hub is the hub's kubeconfig context.
	Hub       string `json:"hub"`
	Namespace string `json:"namespace"`
	// ObservedAt is when the Topologies were read; ages are relative to it.
	ObservedAt time.Time  `json:"observedAt"`
	Topologies []Topology `json:"topologies"`
}

// Topology is one Topology's status as the controller last wrote it.
type Topology struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Mode is Apply or Plan (spec.mode, defaulted).
	Mode   string `json:"mode"`
	Paused bool   `json:"paused"`
	// Generation is the spec's; ObservedGeneration the one the status
	// describes, 0 when the controller has written no status.
	Generation         int64 `json:"generation"`
	ObservedGeneration int64 `json:"observedGeneration"`
	// Reconciled is false while the controller has written no status.
	Reconciled bool `json:"reconciled"`
	// Stale is set when the status describes an older generation than the
	// spec: the controller has not reconciled the last change yet.
	Stale bool `json:"stale"`
	// Failover is spec.failover, defaulted, as Go durations ("2m0s").
	Failover Failover `json:"failover"`
	// Conditions are Ready, Synced and Degraded in that order (those the
	// controller reported), then any others by type.
	Conditions    []Condition  `json:"conditions"`
	LastPlanTime  *time.Time   `json:"lastPlanTime,omitempty"`
	LastPlan      *PlanSummary `json:"lastPlan,omitempty"`
	LastApplyTime *time.Time   `json:"lastApplyTime,omitempty"`
	// Regions hold the members in the topology's order; members the
	// status names and the spec no longer does come last.
	Regions    []Region    `json:"regions"`
	Placements []Placement `json:"placements,omitempty"`
	Summary    Summary     `json:"summary"`
	// OK is set when the Topology is reconciled at its generation, Ready,
	// Synced and not Degraded; Problems say why not, in order.
	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
}

// Failover timings.
type Failover struct {
	After        string `json:"after"`
	RestoreAfter string `json:"restoreAfter"`
}

// Condition is one of the Topology's conditions.
type Condition struct {
	Type               string    `json:"type"`
	Status             string    `json:"status"`
	Reason             string    `json:"reason"`
	Message            string    `json:"message,omitempty"`
	LastTransitionTime time.Time `json:"lastTransitionTime"`
	ObservedGeneration int64     `json:"observedGeneration"`
	// Stale is set when the condition was last set for an older
	// generation than the spec's (a paused Topology's Synced, say).
	Stale bool `json:"stale"`
}

// PlanSummary counts the last plan's changes.
type PlanSummary struct {
	ObjectsToCreate int      `json:"objectsToCreate"`
	ObjectsToChange int      `json:"objectsToChange"`
	ObjectsToDelete int      `json:"objectsToDelete"`
	Errors          int      `json:"errors"`
	Unreachable     int      `json:"unreachable"`
	Warnings        []string `json:"warnings,omitempty"`
}

// Region groups the members of one region.
type Region struct {
	Name     string    `json:"name"`
	Clusters []Cluster `json:"clusters"`
}

// Cluster is one member as the last reconcile found it.
type Cluster struct {
	Name   string `json:"name"`
	Region string `json:"region"`
	// Reported is false for a member of the spec the status does not name
	// yet (never reconciled, or added since); nothing below is known then.
	Reported         bool       `json:"reported"`
	Reachable        bool       `json:"reachable"`
	UnreachableSince *time.Time `json:"unreachableSince,omitempty"`
	// Excluded: failover keeps it out of placement.
	Excluded bool `json:"excluded"`
	// ReachableSince is when an excluded member was seen reachable again.
	ReachableSince *time.Time `json:"reachableSince,omitempty"`
	// FailoverAt is when a member unreachable, not yet excluded, loses its
	// share (unreachableSince + failover.after).
	FailoverAt *time.Time `json:"failoverAt,omitempty"`
	// RestoreAt is when an excluded member reachable again gets its share
	// back (reachableSince + failover.restoreAfter).
	RestoreAt *time.Time `json:"restoreAt,omitempty"`
	// InSync, Drifted and Failed count the last plan's objects.
	InSync  int `json:"inSync"`
	Drifted int `json:"drifted"`
	Failed  int `json:"failed"`
	// Apply is what the last reconcile's apply did there; nil when it
	// applied nothing to this member (Plan mode, excluded, waiting for
	// failover, not applied yet).
	Apply *Apply `json:"apply,omitempty"`
	// Message says why it is unreachable, excluded or failed.
	Message string `json:"message,omitempty"`
}

// Apply is one member's part of the last apply.
type Apply struct {
	Applied int `json:"applied"`
	Pruned  int `json:"pruned"`
	// Ready: every object the apply waited for was ready.
	Ready bool `json:"ready"`
}

// Placement is one workload's replicas per cluster.
type Placement struct {
	Workload string `json:"workload"`
	// Replicas by cluster; absent for a workload without a replicas policy.
	Replicas map[string]int32 `json:"replicas,omitempty"`
}

// Summary counts the members' figures.
type Summary struct {
	Clusters    int `json:"clusters"`
	Reachable   int `json:"reachable"`
	Unreachable int `json:"unreachable"`
	Excluded    int `json:"excluded"`
	InSync      int `json:"inSync"`
	Drifted     int `json:"drifted"`
	Failed      int `json:"failed"`
}

// OK reports whether every Topology is OK.
func (s *Status) OK() bool {
	for _, t := range s.Topologies {
		if !t.OK {
			return false
		}
	}
	return true
}

// Build reads the Topologies at now, for the hub context and namespace
// they were read from. They are listed by name.
func Build(hub, namespace string, now time.Time, topologies []v1alpha1.Topology) *Status {
	s := &Status{APIVersion: APIVersion, Hub: hub, Namespace: namespace, ObservedAt: now.UTC(), Topologies: []Topology{}}
	for i := range topologies {
		s.Topologies = append(s.Topologies, topologyOf(&topologies[i]))
	}
	slices.SortFunc(s.Topologies, func(a, b Topology) int { return cmp.Compare(a.Name, b.Name) })
	return s
}

func topologyOf(in *v1alpha1.Topology) Topology {
	st := &in.Status
	t := Topology{
		Name:               in.Name,
		Namespace:          in.Namespace,
		Mode:               string(in.Spec.EffectiveMode()),
		Paused:             in.Spec.Paused,
		Generation:         in.Generation,
		ObservedGeneration: st.ObservedGeneration,
		// The controller sets observedGeneration on every status it
		// writes, whatever the reconcile found.
		Reconciled: st.ObservedGeneration > 0,
		Failover: Failover{
			After:        in.Spec.FailoverAfter().String(),
			RestoreAfter: in.Spec.FailoverRestoreAfter().String(),
		},
		Conditions:    conditions(st.Conditions, in.Generation),
		LastPlanTime:  timeOf(st.LastPlanTime),
		LastApplyTime: timeOf(st.LastApplyTime),
	}
	t.Stale = t.Reconciled && st.ObservedGeneration < in.Generation
	if p := st.LastPlan; p != nil {
		t.LastPlan = &PlanSummary{
			ObjectsToCreate: p.ObjectsToCreate, ObjectsToChange: p.ObjectsToChange, ObjectsToDelete: p.ObjectsToDelete,
			Errors: p.Errors, Unreachable: p.Unreachable, Warnings: slices.Clone(p.Warnings),
		}
	}
	for _, p := range st.Placements {
		t.Placements = append(t.Placements, Placement{Workload: p.Workload, Replicas: maps.Clone(p.Replicas)})
	}
	t.Regions = regions(in, applied(in))
	t.Summary = summarize(t.Regions)
	t.Problems = problems(&t)
	t.OK = len(t.Problems) == 0
	return t
}

// order is the order conditions are listed in; others follow by type.
var order = []string{v1alpha1.ConditionReady, v1alpha1.ConditionSynced, v1alpha1.ConditionDegraded}

func conditions(in []metav1.Condition, generation int64) []Condition {
	out := []Condition{}
	for _, c := range in {
		out = append(out, Condition{
			Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message,
			LastTransitionTime: c.LastTransitionTime.UTC(), ObservedGeneration: c.ObservedGeneration,
			// 0 says nothing of the generation it was set for.
			Stale: c.ObservedGeneration > 0 && c.ObservedGeneration < generation,
		})
	}
	rank := func(typ string) int {
		if i := slices.Index(order, typ); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(out, func(a, b Condition) int {
		return cmp.Or(cmp.Compare(rank(a.Type), rank(b.Type)), cmp.Compare(a.Type, b.Type))
	})
	return out
}

// applied reports whether the last reconcile applied: the controller
// resets every member's apply figures when it plans, and writes
// lastApplyTime only after applying, so an apply time before the plan's
// is an earlier reconcile's (one in Apply mode before a switch to Plan,
// or one before a reconcile that waited for failover).
func applied(in *v1alpha1.Topology) bool {
	st := &in.Status
	return st.LastApplyTime != nil && st.LastPlanTime != nil && !st.LastApplyTime.Before(st.LastPlanTime)
}

// regions groups the members by region in the spec's order, then those
// only the status names (a member removed since), by region and name.
func regions(in *v1alpha1.Topology, applied bool) []Region {
	reported := map[string]v1alpha1.ClusterStatus{}
	for _, c := range in.Status.Clusters {
		reported[c.Name] = c
	}
	var out []Region
	index := map[string]int{}
	add := func(c Cluster) {
		i, ok := index[c.Region]
		if !ok {
			i = len(out)
			index[c.Region] = i
			out = append(out, Region{Name: c.Region})
		}
		out[i].Clusters = append(out[i].Clusters, c)
	}
	for _, r := range in.Spec.Regions {
		for _, c := range r.Clusters {
			cs, ok := reported[c.Name]
			if !ok {
				add(Cluster{Name: c.Name, Region: r.Name})
				continue
			}
			delete(reported, c.Name)
			add(cluster(cs, &in.Spec, applied))
		}
	}
	var rest []v1alpha1.ClusterStatus
	for _, c := range reported {
		rest = append(rest, c)
	}
	slices.SortFunc(rest, func(a, b v1alpha1.ClusterStatus) int {
		return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Name, b.Name))
	})
	for _, c := range rest {
		add(cluster(c, &in.Spec, applied))
	}
	if out == nil {
		out = []Region{}
	}
	return out
}

func cluster(in v1alpha1.ClusterStatus, spec *v1alpha1.TopologySpec, applied bool) Cluster {
	c := Cluster{
		Name: in.Name, Region: in.Region, Reported: true,
		Reachable: in.Reachable, Excluded: in.Excluded,
		UnreachableSince: timeOf(in.UnreachableSince), ReachableSince: timeOf(in.ReachableSince),
		InSync: in.InSync, Drifted: in.Drifted, Failed: in.Failed,
		Message: in.Message,
	}
	// The controller's failover clocks (controller.track): an outage
	// must last failover.after, a recovery failover.restoreAfter.
	switch {
	case !in.Reachable && !in.Excluded && in.UnreachableSince != nil:
		at := in.UnreachableSince.Add(spec.FailoverAfter()).UTC()
		c.FailoverAt = &at
	case in.Reachable && in.Excluded && in.ReachableSince != nil:
		at := in.ReachableSince.Add(spec.FailoverRestoreAfter()).UTC()
		c.RestoreAt = &at
	}
	if applied && in.Reachable && !in.Excluded {
		c.Apply = &Apply{Applied: in.Applied, Pruned: in.Pruned, Ready: in.Ready}
	}
	return c
}

func summarize(regions []Region) Summary {
	var m Summary
	for _, r := range regions {
		for _, c := range r.Clusters {
			m.Clusters++
			if !c.Reported {
				continue
			}
			if c.Reachable {
				m.Reachable++
			} else {
				m.Unreachable++
			}
			if c.Excluded {
				m.Excluded++
			}
			m.InSync += c.InSync
			m.Drifted += c.Drifted
			m.Failed += c.Failed
		}
	}
	return m
}

// problems is the one verdict on a Topology: why it is not reconciled at
// its generation, Ready, Synced and not Degraded. The exit code of status
// --hub is decided from it alone.
func problems(t *Topology) []string {
	if !t.Reconciled {
		return []string{"no status yet: the controller has not reconciled it"}
	}
	var out []string
	if t.Stale {
		out = append(out, fmt.Sprintf("the status is of generation %d, the spec is at %d: not reconciled since it changed", t.ObservedGeneration, t.Generation))
	}
	for _, typ := range order {
		c := find(t.Conditions, typ)
		switch {
		case c == nil && slices.Contains(required, typ):
			out = append(out, typ+" not reported")
		case c == nil:
		case !c.good():
			out = append(out, fmt.Sprintf("%s is %s (%s)", c.Type, c.Status, c.Reason))
		case c.Stale && !t.Stale:
			out = append(out, fmt.Sprintf("%s was %s at generation %d, not judged since", c.Type, c.Status, c.ObservedGeneration))
		}
	}
	return out
}

// required are the conditions every reconcile reports. Degraded is not:
// a reconcile that stops before planning (paused, invalid) leaves it out,
// and is not Ready anyway.
var required = []string{v1alpha1.ConditionReady, v1alpha1.ConditionSynced}

// good reports whether the condition is as a healthy Topology has it: True,
// but False for Degraded.
func (c Condition) good() bool {
	// Degraded and PruneBlocked say something is wrong when True.
	if c.Type == v1alpha1.ConditionDegraded || c.Type == v1alpha1.ConditionPruneBlocked {
		return c.Status == string(metav1.ConditionFalse)
	}
	return c.Status == string(metav1.ConditionTrue)
}

func find(cs []Condition, typ string) *Condition {
	for i := range cs {
		if cs[i].Type == typ {
			return &cs[i]
		}
	}
	return nil
}

func timeOf(t *metav1.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
