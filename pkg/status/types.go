// Package status reports how a topology's fleet is doing, per region and
// cluster: whether each cluster can be reached (and why not), its version,
// endpoint and GKE state, its nodes and extended resources (GPUs), the
// objects changed outside geofed since it applied them (drift), and every
// workload's readiness and replicas. It reads what plan reads — the same
// observation (GKE, connections, capacity) and the same desired state —
// with LISTs only: drift is counted from geofed's inventory without a
// dry-run, unless FullRefresh dry-runs every object through plan.
//
// A Status is plain, versioned data; package status/view prints it.
package status

import (
	"time"
)

// APIVersion is the version of the JSON schema below. It changes only when
// a field changes meaning or disappears; new fields may be added.
const APIVersion = "geofed.io/status/v1"

// Refresh modes: how drift was counted.
const (
	// RefreshInventory compares live objects with geofed's inventory: no
	// dry-run.
	RefreshInventory = "inventory"
	// RefreshFull dry-runs every object, as plan --refresh=full does.
	RefreshFull = "full"
)

// Status is the state of every cluster of a topology.
type Status struct {
	APIVersion   string    `json:"apiVersion"`
	Topology     string    `json:"topology"`
	TopologyFile string    `json:"topologyFile"`
	ObservedAt   time.Time `json:"observedAt"`
	// Refresh is RefreshInventory or RefreshFull.
	Refresh string   `json:"refresh"`
	Regions []Region `json:"regions"`
	// Warnings say what could not be judged at all (workloads whose
	// placement is unknown, say).
	Warnings []string `json:"warnings,omitempty"`
	Summary  Summary  `json:"summary"`
}

// Region groups the clusters of one region.
type Region struct {
	Name     string    `json:"name"`
	Clusters []Cluster `json:"clusters"`
}

// Cluster is the state of one member cluster. When it is not Reachable,
// only what GKE and the topology tell is known: nothing from Nodes on.
type Cluster struct {
	Name   string `json:"name"`
	Region string `json:"region"`
	// Mode is "managed" (a GKE cluster geofed provisions) or "joined".
	Mode      string `json:"mode"`
	Reachable bool   `json:"reachable"`
	// Unreachable says why the cluster could not be read: the connection's
	// error, GKE's state, or that the managed cluster does not exist yet.
	Unreachable string `json:"unreachable,omitempty"`
	// Excluded says why placement leaves this reachable cluster out (GKE
	// reconciling it for too long, its capacity unreadable): it is given
	// no replicas until that passes.
	Excluded string `json:"excluded,omitempty"`
	// Endpoint is the API server's address geofed connects to, when known.
	Endpoint      string `json:"endpoint,omitempty"`
	ServerVersion string `json:"serverVersion,omitempty"`
	// GKE is set for managed clusters, from the GKE API.
	GKE   *GKE   `json:"gke,omitempty"`
	Nodes *Nodes `json:"nodes,omitempty"`
	// Resources are the extended resources (nvidia.com/gpu, ...) the nodes
	// offer or the pods request, sorted by name.
	Resources []Resource `json:"resources,omitempty"`
	// Drift is nil when it could not be counted (the inventory or the
	// objects could not be read).
	Drift *Drift `json:"drift,omitempty"`
	// Workloads are the topology's workloads placed on the cluster, by
	// name: empty when none is, null when they could not be judged (the
	// cluster unreachable, its objects unreadable, placement unknown).
	Workloads []Workload `json:"workloads"`
	// Errors say what could not be read of a reachable cluster; what
	// depends on it is left out.
	Errors []string `json:"errors,omitempty"`
	// Requests is how many API requests reading this cluster cost, from
	// the version check and discovery to the last LIST.
	Requests int64 `json:"requests"`
}

// GKE is what the GKE API says of a managed cluster.
type GKE struct {
	Project  string `json:"project"`
	Location string `json:"location"`
	// Status is GKE's (RUNNING, PROVISIONING, RECONCILING, ...); "" when
	// the cluster does not exist or GKE could not be asked.
	Status string `json:"status,omitempty"`
}

// Nodes counts the cluster's nodes and those whose Ready condition is
// True.
type Nodes struct {
	Ready int `json:"ready"`
	Total int `json:"total"`
}

// Resource is one extended resource, as Kubernetes quantities.
type Resource struct {
	Name string `json:"name"`
	// Allocatable is the sum over Ready nodes.
	Allocatable string `json:"allocatable"`
	// Requested is the sum over pods bound to a node and not terminated,
	// counted as the scheduler charges them.
	Requested string `json:"requested"`
}

// Drift lists the objects geofed applied that changed outside geofed.
type Drift struct {
	Count   int             `json:"count"`
	Objects []DriftedObject `json:"objects,omitempty"`
}

// DriftedObject is one object changed outside geofed, with how.
type DriftedObject struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Workload  string `json:"workload,omitempty"`
	Reason    string `json:"reason"`
}

// Workload is the state of one workload's objects on one cluster.
type Workload struct {
	Name string `json:"name"`
	// Ready is set when every object of the workload is, by the rules
	// apply's wait judges with (package readiness).
	Ready bool `json:"ready"`
	// Objects counts the workload's objects on the cluster.
	Objects int `json:"objects"`
	// Replicas is nil for a workload without Deployments, StatefulSets or
	// ReplicaSets.
	Replicas *Replicas `json:"replicas,omitempty"`
	// NotReady lists the objects that are not ready, in apply order.
	NotReady []NotReady `json:"notReady,omitempty"`
}

// Replicas sums a workload's Deployments, StatefulSets and ReplicaSets on
// one cluster. (A Job's pods are judged by its readiness alone: a Job
// that finished runs none.)
type Replicas struct {
	// Desired is what placement gives the cluster: spec.replicas as
	// geofed renders them.
	Desired int64 `json:"desired"`
	// Ready counts the available replicas, as apply's wait does.
	Ready int64 `json:"ready"`
}

// NotReady is one object that is not ready, with why.
type NotReady struct {
	// Object names it as plans print it: [group/]Kind [ns/]name.
	Object string `json:"object"`
	// Failed is set when it will never be ready without a change.
	Failed bool   `json:"failed,omitempty"`
	Reason string `json:"reason"`
}

// Summary counts, over every cluster, what the exit code depends on.
type Summary struct {
	Reachable   int `json:"reachable"`
	Unreachable int `json:"unreachable"`
	// Excluded counts reachable clusters that placement leaves out.
	Excluded int `json:"excluded,omitempty"`
	// WorkloadsReady and WorkloadsNotReady count workloads per cluster.
	WorkloadsReady    int `json:"workloadsReady"`
	WorkloadsNotReady int `json:"workloadsNotReady"`
	Drifted           int `json:"drifted"`
	// Errors counts what could not be read of reachable clusters, and
	// warnings.
	Errors int `json:"errors,omitempty"`
}

// OK reports whether everything is reachable, read and ready: a status
// that is not OK exits 1. Drift alone does not fail it: what was changed
// by hand may be meant, and plan shows what apply would do about it.
func (s *Status) OK() bool {
	m := s.Summary
	return m.Unreachable == 0 && m.Excluded == 0 && m.WorkloadsNotReady == 0 && m.Errors == 0
}

// summarize counts the clusters' figures.
func summarize(s *Status) Summary {
	var m Summary
	for _, r := range s.Regions {
		for _, c := range r.Clusters {
			if !c.Reachable {
				m.Unreachable++
				continue
			}
			m.Reachable++
			if c.Excluded != "" {
				m.Excluded++
			}
			m.Errors += len(c.Errors)
			if c.Drift != nil {
				m.Drifted += c.Drift.Count
			}
			for _, w := range c.Workloads {
				if w.Ready {
					m.WorkloadsReady++
				} else {
					m.WorkloadsNotReady++
				}
			}
		}
	}
	m.Errors += len(s.Warnings)
	return m
}
