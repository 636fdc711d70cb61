package gke

import (
	"sort"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

// ClusterChange is what would happen to one GKE cluster. It is plain data:
// the plan package prints it and saves it as JSON.
type ClusterChange struct {
	// Region is the GCP region the cluster's location belongs to; changes
	// are ordered and grouped by it.
	Region   string        `json:"region"`
	Project  string        `json:"project"`
	Location string        `json:"location"`
	Cluster  string        `json:"cluster"`
	Action   object.Action `json:"action"`
	// Fields are cluster-level fields: every field of a create, the fields
	// that differ for an update.
	Fields    []FieldChange    `json:"fields,omitempty"`
	NodePools []NodePoolChange `json:"nodePools,omitempty"`
	// Reasons explain an attention, or anything in progress the plan should
	// mention (an operation GKE is still running on the cluster).
	Reasons []string `json:"reasons,omitempty"`
}

// Symbol is the mark of the change's action.
func (c ClusterChange) Symbol() string { return c.Action.Symbol() }

// NodePoolChange is what would happen to one node pool of a cluster.
type NodePoolChange struct {
	// Name is the pool's name in the topology; for a pool to delete, which
	// the topology no longer has, its name in GKE.
	Name   string        `json:"name"`
	Action object.Action `json:"action"`
	Fields []FieldChange `json:"fields,omitempty"`
	// Pool is the pool's name in GKE when it is not Name: the pool that
	// replaced one (see Replacement) is named apart from it and carries
	// Name in its LabelPoolName resource label.
	Pool string `json:"pool,omitempty"`
	// Replacement says how a pool GKE cannot change in place is replaced
	// (ActionReplace only).
	Replacement *Replacement `json:"replacement,omitempty"`
}

// Symbol is the mark of the change's action.
func (c NodePoolChange) Symbol() string { return c.Action.Symbol() }

// GKEName is the pool's name in GKE.
func (c NodePoolChange) GKEName() string {
	if c.Pool != "" {
		return c.Pool
	}
	return c.Name
}

// Replacement is how a node pool is replaced, as GKE's documentation
// migrates workloads between pools and terraform's create_before_destroy
// does: the new pool is created beside the old, its nodes are waited for
// until Ready, the old pools' nodes are cordoned and drained (evictions
// that respect PodDisruptionBudgets), and the old pools are deleted. An
// old pool is never deleted before the new one's nodes are Ready.
type Replacement struct {
	// Pool is the new pool's name in GKE: the topology's when no live pool
	// has it, else the topology's with a hash of the new configuration
	// (ReplacementName). Either way it carries the topology's name in its
	// LabelPoolName resource label, so the next plan knows it as the
	// topology's pool and has nothing left to do.
	Pool string `json:"pool"`
	// Exists says the new pool is there already: an apply was interrupted
	// after creating it, and the next one carries on from there.
	Exists bool `json:"exists,omitempty"`
	// Old are the pools it replaces, by their names in GKE.
	Old []string `json:"old"`
}

// FieldChange is one field's value before and after, rendered as text
// ("e2-standard-8", "nvidia-tesla-a100 x1", "min 0, max 8"). Before is empty
// for a create, After for a delete.
type FieldChange struct {
	Path   string `json:"path"`
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	// Replace marks a field whose change forces the pool to be replaced.
	Replace bool `json:"replace,omitempty"`
	// RecreatesNodes marks a field GKE changes in place by recreating the
	// pool's nodes, with the pool's surge or blue-green upgrade settings
	// (machine type, accelerators): pods move, the pool stays.
	RecreatesNodes bool `json:"recreatesNodes,omitempty"`
}

// SortChanges orders changes by region, location, cluster name and project,
// the order the plan lists them in.
func SortChanges(cs []ClusterChange) {
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.Region != b.Region {
			return a.Region < b.Region
		}
		if a.Location != b.Location {
			return a.Location < b.Location
		}
		if a.Cluster != b.Cluster {
			return a.Cluster < b.Cluster
		}
		return a.Project < b.Project
	})
}
