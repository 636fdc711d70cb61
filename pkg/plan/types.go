// Package plan computes what `kubectl geofed apply` would change — GKE
// clusters to create or update and, per member cluster, the Kubernetes
// objects to create, change or prune — as plain, versioned data. The same
// Plan value is printed (package plan/view), saved with --out, reloaded and
// checked for staleness before apply executes it.
package plan

import (
	"fmt"
	"strings"
	"time"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/cost"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
)

// FormatVersion is the version of the JSON schema below. It changes only
// when a field changes meaning or disappears; new fields may be added.
const FormatVersion = "geofed.io/plan/v1"

// Mode is what a plan was computed for, and the only way it may be
// executed: terraform keeps the mode in the plan for the same reason — a
// destroy plan applied as an apply would delete with apply's meaning.
type Mode string

const (
	// ModeApply makes the members hold what the topology renders. It is
	// the zero value: a plan file without a mode, as every plan saved
	// before the mode was recorded, is an apply plan.
	ModeApply Mode = ""
	// ModeDestroy removes everything geofed owns (destroy).
	ModeDestroy Mode = "destroy"
)

// String names the mode as commands say it.
func (m Mode) String() string {
	if m == ModeApply {
		return "apply"
	}
	return string(m)
}

// Plan is everything `plan` found: per region, per cluster.
type Plan struct {
	FormatVersion string `json:"formatVersion"`
	// Mode is apply (absent) or destroy.
	Mode         Mode      `json:"mode,omitempty"`
	Topology     string    `json:"topology"`
	TopologyFile string    `json:"topologyFile"`
	CreatedAt    time.Time `json:"createdAt"`
	// SourceDigest hashes the topology file and every rendered manifest, so
	// apply can tell when the files changed since the plan was made.
	SourceDigest string             `json:"sourceDigest"`
	Regions      []Region           `json:"regions"`
	Placements   []placement.Result `json:"placements"`
	// Prices are the price lists the plan's costs come from, the built-in
	// one first, then a --price-catalog file over it.
	Prices []catalog.Origin `json:"prices,omitempty"`
	// Orphans are managed GKE clusters of this topology that are no longer
	// in the file: shown, never deleted by apply.
	Orphans  []gke.ClusterChange `json:"orphans,omitempty"`
	Warnings []string            `json:"warnings,omitempty"`
	// PruneGuard is the blast-radius guard the plan was computed with
	// (absent for destroy, which deletes everything by design).
	PruneGuard *PruneGuard `json:"pruneGuard,omitempty"`
	Summary    Summary     `json:"summary"`
}

// Region groups the clusters of one region.
type Region struct {
	Name     string    `json:"name"`
	Clusters []Cluster `json:"clusters"`
}

// Cluster is the plan for one member cluster.
type Cluster struct {
	Name   string `json:"name"`
	Region string `json:"region"`
	// Mode is "managed" (a GKE cluster geofed provisions) or "joined".
	Mode string `json:"mode"`
	// GKE is the cluster-level change for managed clusters.
	GKE *gke.ClusterChange `json:"gke,omitempty"`
	// Cost is what the managed cluster's node pools cost per hour, at the
	// size the topology asks for and at their autoscaling maximum.
	Cost *cost.Cluster `json:"cost,omitempty"`
	// Unreachable is why the cluster could not be planned; its objects are
	// unknown and it is excluded from replica division.
	Unreachable string `json:"unreachable,omitempty"`
	// Error is why planning a reachable cluster failed part-way (reading
	// the inventory, listing objects); its object list is incomplete.
	Error         string `json:"error,omitempty"`
	ServerVersion string `json:"serverVersion,omitempty"`
	// InventoryVersion is the resourceVersion of the inventory parent read
	// ("" when it did not exist): part of the staleness check.
	InventoryVersion string `json:"inventoryVersion,omitempty"`
	// Owned counts the objects geofed's inventory records that are live on
	// the cluster and still carry its ApplySet label: what the prune guard
	// weighs the cluster's deletions against.
	Owned   int      `json:"owned,omitempty"`
	Objects []Object `json:"objects,omitempty"`
	// PruneGuard is set when the guard holds the cluster's deletions:
	// apply deletes nothing there unless it is allowed.
	PruneGuard *ClusterGuard `json:"pruneGuard,omitempty"`
	// Requests is how many API requests planning this cluster cost, from
	// the version check and discovery to the last dry-run.
	Requests int64 `json:"requests,omitempty"`
}

// Object is one Kubernetes object's change. The manifest itself is not
// stored, so a saved plan never holds a Secret's value: apply sends the
// objects plan.Compute rendered (Result.Desired), and a saved plan is
// planned again and compared with Stale, DesiredHash included.
type Object struct {
	Action    object.Action `json:"action"`
	Group     string        `json:"group,omitempty"`
	Version   string        `json:"version"`
	Kind      string        `json:"kind"`
	Namespace string        `json:"namespace,omitempty"`
	Name      string        `json:"name"`
	Workload  string        `json:"workload,omitempty"`
	// DesiredHash is the geofed.io/applied-hash of the manifest to apply.
	DesiredHash string `json:"desiredHash,omitempty"`
	// LiveResourceVersion is the live object's resourceVersion when planned
	// ("" when it does not exist).
	LiveResourceVersion string `json:"liveResourceVersion,omitempty"`
	// UID is the live object's UID when planned: apply deletes with it as
	// a precondition and records it in the inventory.
	UID string `json:"uid,omitempty"`
	// Reason says why an object is listed, e.g. "changed outside geofed".
	Reason string `json:"reason,omitempty"`
	// Changes are the field-level differences between live and desired
	// (after server-side dry-run); Secret values appear as "(sensitive)".
	Changes []FieldChange `json:"changes,omitempty"`
	// Diff is a unified diff of the live and dry-run YAML (for --diff).
	Diff string `json:"diff,omitempty"`
	// DryRun says whether this object's desired state came from a
	// server-side dry-run, or was known unchanged from the inventory.
	DryRun bool `json:"dryRun,omitempty"`
}

// FieldChange is one changed field: a JSON-path-like path and its values
// rendered compactly.
type FieldChange struct {
	Path   string `json:"path"`
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

// Summary counts the plan's changes.
type Summary struct {
	ClustersToCreate int `json:"clustersToCreate"`
	ClustersToChange int `json:"clustersToChange"`
	// ClustersToDelete counts the GKE clusters destroy --clusters deletes.
	ClustersToDelete int `json:"clustersToDelete,omitempty"`
	ObjectsToCreate  int `json:"objectsToCreate"`
	ObjectsToChange  int `json:"objectsToChange"`
	ObjectsToDelete  int `json:"objectsToDelete"`
	// Conflicts counts the changes (included in ObjectsToChange) that take
	// fields from another manager: apply needs --force-conflicts.
	Conflicts int `json:"conflicts,omitempty"`
	// Errors counts objects the server rejected and clusters that failed
	// part-way; a plan with errors exits 1.
	Errors      int `json:"errors,omitempty"`
	Unreachable int `json:"unreachable,omitempty"`
	Attention   int `json:"attention,omitempty"`
	// Guarded counts the clusters whose deletions the prune guard holds
	// and --allow-prune did not allow: apply deletes nothing there and
	// exits 1.
	Guarded int `json:"guarded,omitempty"`
}

// HasChanges reports whether applying would change anything.
func (s Summary) HasChanges() bool {
	return s.ClustersToCreate+s.ClustersToChange+s.ClustersToDelete+s.ObjectsToCreate+s.ObjectsToChange+s.ObjectsToDelete > 0
}

// Failures says why a plan is incomplete, "2 cluster(s) unreachable, 1
// error(s)"; "" for a complete one.
func (s Summary) Failures() string {
	var parts []string
	if s.Unreachable > 0 {
		parts = append(parts, fmt.Sprintf("%d cluster(s) unreachable", s.Unreachable))
	}
	if s.Errors > 0 {
		parts = append(parts, fmt.Sprintf("%d error(s)", s.Errors))
	}
	return strings.Join(parts, ", ")
}

// Key is the object's identity (object.Key).
func (o Object) Key() string { return object.Key(o.Group, o.Kind, o.Namespace, o.Name) }

// String names the object as plans print it: [group/]Kind [ns/]name.
func (o Object) String() string { return object.Name(o.Group, o.Kind, o.Namespace, o.Name) }
