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
	Name   string        `json:"name"`
	Action object.Action `json:"action"`
	Fields []FieldChange `json:"fields,omitempty"`
}

// Symbol is the mark of the change's action.
func (c NodePoolChange) Symbol() string { return c.Action.Symbol() }

// FieldChange is one field's value before and after, rendered as text
// ("e2-standard-8", "nvidia-tesla-a100 x1", "min 0, max 8"). Before is empty
// for a create, After for a delete.
type FieldChange struct {
	Path   string `json:"path"`
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	// Replace marks a field whose change forces the pool to be replaced.
	Replace bool `json:"replace,omitempty"`
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
