// Package v1alpha1 is the geofed.io/v1alpha1 Topology custom resource the
// control plane reconciles: the topology file's spec, plus how the
// controller runs it (mode, pause, failover) and where its kustomize sources
// were pushed to; the status says what the last reconcile found and did.
//
// +kubebuilder:object:generate=true
// +groupName=geofed.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"

	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// GroupVersion is the API group and version of the Topology resource, the
// same apiVersion the topology file has.
var GroupVersion = schema.GroupVersion{Group: "geofed.io", Version: "v1alpha1"}

// DefaultNamespace is the hub namespace manifests/controller installs the
// control plane in: its Topologies, their sources, the member Secrets and
// the leader Lease. Every command that reaches a hub defaults to it.
const DefaultNamespace = "geofed-system"

var (
	// SchemeBuilder registers the types with a scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func init() {
	SchemeBuilder.Register(&Topology{}, &TopologyList{})
}

// Mode is what the controller does with a plan.
// +kubebuilder:validation:Enum=Apply;Plan
type Mode string

const (
	// ModeApply applies every plan, as `kubectl geofed apply --yes` does.
	ModeApply Mode = "Apply"
	// ModePlan only plans: drift is reported in the status, nothing is
	// changed on any member.
	ModePlan Mode = "Plan"
)

// DeletionPolicy says what deleting a Topology does to what it applied on
// the members.
// +kubebuilder:validation:Enum=Orphan;Delete
type DeletionPolicy string

const (
	// DeletionOrphan leaves everything the Topology applied on the members,
	// still labelled and recorded in their inventories, for a later
	// `kubectl geofed destroy` or for another topology to adopt.
	DeletionOrphan DeletionPolicy = "Orphan"
	// DeletionDelete removes it first, as `kubectl geofed destroy` does:
	// the finalizer DestroyFinalizer holds the Topology until every member
	// is clean.
	DeletionDelete DeletionPolicy = "Delete"
)

// DestroyFinalizer holds a Topology whose deletionPolicy is Delete until
// the controller has removed what it applied from every member.
const DestroyFinalizer = "geofed.io/destroy"

// Defaults of the failover timings.
const (
	DefaultFailoverAfter        = 2 * 60 // seconds
	DefaultFailoverRestoreAfter = 2 * 60 // seconds
)

// Topology is a topology file held in a hub cluster, reconciled continuously.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=topo,categories=geofed
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.mode`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Degraded",type=string,JSONPath=`.status.conditions[?(@.type=="Degraded")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Topology struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   TopologySpec   `json:"spec"`
	Status TopologyStatus `json:"status,omitempty"`
}

// +kubebuilder:object:generate=false

// TopologySpec is the topology file's spec (regions, clusters, workloads,
// GKE defaults) with the controller's own fields beside it.
type TopologySpec struct {
	// The topology file's spec, validated by the same loader as the CLI's.
	topology.Spec `json:",inline"`

	// Mode is Apply (the default) or Plan (report drift, change nothing).
	// +kubebuilder:default=Apply
	// +optional
	Mode Mode `json:"mode,omitempty"`
	// Paused stops reconciling: nothing is planned or applied until it is
	// unset.
	// +optional
	Paused bool `json:"paused,omitempty"`
	// DeletionPolicy is what deleting this Topology does to what it applied
	// on the members: Orphan (the default) leaves it there, labelled and
	// recorded; Delete removes it first, with destroy's safety (an object
	// someone re-created, a Namespace or CRD still holding what geofed did
	// not apply, are kept, and the Topology waits for them). GKE clusters
	// are never deleted.
	// +kubebuilder:default=Orphan
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
	// Failover says when an unreachable member's share moves to the others.
	// +optional
	Failover *Failover `json:"failover,omitempty"`
	// Sources is where `kubectl geofed push` put the workloads' kustomize
	// sources.
	// +optional
	Sources *Sources `json:"sources,omitempty"`
}

// Failover timings.
type Failover struct {
	// After is how long a member stays unreachable before it is excluded
	// and its share redistributed; default 2m.
	// +optional
	After *metav1.Duration `json:"after,omitempty"`
	// RestoreAfter is how long an excluded member must stay reachable
	// before its share returns; default 2m.
	// +optional
	RestoreAfter *metav1.Duration `json:"restoreAfter,omitempty"`
}

// Sources names the pushed bundle of the workloads' kustomize sources: a
// gzipped tar of the files, cut into ConfigMaps (the files without secrets)
// and Secrets (Secret manifests and the files secret generators read), in
// the Topology's namespace.
type Sources struct {
	// Path is the topology file's path inside the bundle; workload sources
	// are relative to its directory.
	Path string `json:"path"`
	// ConfigMaps hold the public part, in order: their binaryData chunks
	// concatenated are one gzipped tar.
	// +optional
	ConfigMaps []string `json:"configMaps,omitempty"`
	// Secrets hold the sensitive part, the same way.
	// +optional
	Secrets []string `json:"secrets,omitempty"`
	// Digest is the sha256 of both tars, so the controller can tell a
	// bundle still being replaced from the one pushed.
	Digest string `json:"digest"`
}

// Condition types of a Topology.
const (
	// ConditionReady: the last reconcile planned every member and, in Apply
	// mode, applied it and every workload is ready.
	ConditionReady = "Ready"
	// ConditionSynced: every reachable member holds what the topology
	// renders for it (in Plan mode: the plan has no changes).
	ConditionSynced = "Synced"
	// ConditionDegraded: a member is unreachable or excluded by failover,
	// or applying to one failed.
	ConditionDegraded = "Degraded"
	// ConditionPruneBlocked: the prune guard held the deletions on some
	// members (many at once, or every object of a workload still in the
	// topology): everything else was applied, nothing deleted there. The
	// message names each member, the count and why.
	ConditionPruneBlocked = "PruneBlocked"
	// ConditionDestroyed: while a Topology with deletionPolicy Delete is
	// being deleted, whether its objects are gone from every member; False
	// says what holds it (a member unreachable, a Namespace still holding
	// what geofed did not apply).
	ConditionDestroyed = "Destroyed"
)

// AnnotationApprovePrune on a Topology approves the deletions the prune
// guard holds in one plan: "ID" for every held member, "ID:m1,m2" for
// some, ID being the plan's (plan.HeldID, named in condition
// PruneBlocked). kubectl geofed approve writes it. A plan that holds
// anything else has another ID, so an approval never carries over.
const AnnotationApprovePrune = "geofed.io/approve-prune"

// TopologyStatus is what the last reconcile found and did.
type TopologyStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// LastPlanTime is when the last plan was computed.
	// +optional
	LastPlanTime *metav1.Time `json:"lastPlanTime,omitempty"`
	// LastPlan summarises it.
	// +optional
	LastPlan *PlanSummary `json:"lastPlan,omitempty"`
	// LastApplyTime is when the last apply ended.
	// +optional
	LastApplyTime *metav1.Time `json:"lastApplyTime,omitempty"`
	// Placements are the replicas each workload got, per cluster.
	// +optional
	Placements []WorkloadPlacement `json:"placements,omitempty"`
	// Clusters are the members, by name.
	// +optional
	// +listType=map
	// +listMapKey=name
	Clusters []ClusterStatus `json:"clusters,omitempty"`
}

// PlanSummary counts a plan's changes, as the CLI's summary line does.
type PlanSummary struct {
	ObjectsToCreate int `json:"objectsToCreate"`
	ObjectsToChange int `json:"objectsToChange"`
	ObjectsToDelete int `json:"objectsToDelete"`
	// +optional
	Errors int `json:"errors,omitempty"`
	// +optional
	Unreachable int `json:"unreachable,omitempty"`
	// +optional
	Warnings []string `json:"warnings,omitempty"`
}

// WorkloadPlacement is one workload's division of replicas.
type WorkloadPlacement struct {
	Workload string `json:"workload"`
	// Replicas by cluster name; absent for a workload without a replicas
	// policy.
	// +optional
	Replicas map[string]int32 `json:"replicas,omitempty"`
}

// ClusterStatus is one member's state.
type ClusterStatus struct {
	Name   string `json:"name"`
	Region string `json:"region"`
	// Reachable is whether the last reconcile could connect to it.
	Reachable bool `json:"reachable"`
	// Message says why it is unreachable, excluded or failed.
	// +optional
	Message string `json:"message,omitempty"`
	// UnreachableSince is when it was first seen unreachable in the current
	// outage.
	// +optional
	UnreachableSince *metav1.Time `json:"unreachableSince,omitempty"`
	// Excluded is set while failover keeps it out of placement: from
	// failover.after of unreachability until it has been reachable for
	// failover.restoreAfter.
	// +optional
	Excluded bool `json:"excluded,omitempty"`
	// ReachableSince is when an excluded member was first seen reachable
	// again.
	// +optional
	ReachableSince *metav1.Time `json:"reachableSince,omitempty"`
	// InSync counts the objects the last plan found as the topology
	// renders them; Drifted those it would create, change or delete;
	// Failed those the server rejected or apply failed on.
	InSync  int `json:"inSync"`
	Drifted int `json:"drifted"`
	Failed  int `json:"failed"`
	// Applied and Pruned count what the last apply sent and deleted.
	// +optional
	Applied int `json:"applied,omitempty"`
	// +optional
	Pruned int `json:"pruned,omitempty"`
	// Ready is whether every object the last apply waited for was ready.
	// +optional
	Ready bool `json:"ready,omitempty"`
}

// TopologyList is a list of Topology objects.
//
// +kubebuilder:object:root=true
type TopologyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Topology `json:"items"`
}

var _ runtime.Object = &Topology{}
