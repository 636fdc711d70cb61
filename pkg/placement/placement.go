// Package placement decides where a workload goes: which member clusters its
// placement selects, and how many replicas each of them runs when the
// workload divides a total among them (by weight, by the replicas that fit or by
// locality). It is pure — everything it knows about a cluster, reachability
// and capacity included, is handed in — so the same inputs always give
// the same Result, and every Result carries an explanation a person can
// check by hand.
package placement

import (
	"errors"
	"fmt"

	"github.com/geofed-io/kubectl-geofed/pkg/capacity"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// Mode names how a Result came about; it is part of the plan's JSON schema.
const (
	// ModeDuplicate: the workload has no replicas policy, so every selected
	// cluster gets the manifests as rendered.
	ModeDuplicate = "duplicate"
	ModeWeight    = string(topology.DivideByWeight)
	ModeCapacity  = string(topology.DivideByCapacity)
	ModeLocality  = string(topology.DivideByLocality)
	ModeCost      = string(topology.DivideByCost)
)

// DefaultResource is what divideBy capacity measures when the policy names
// no resource.
const DefaultResource = "nvidia.com/gpu"

// Cluster is what placement knows about one member cluster.
type Cluster struct {
	Name   string
	Region string
	// Labels are matched by clusterSelector. The implicit geofed.io/region
	// and geofed.io/cluster labels are added from Region and Name when
	// missing, so a caller cannot forget them.
	Labels map[string]string
	// Unreachable is why the cluster cannot be reached; non-empty excludes it
	// from the division.
	Unreachable string
	// Capacity is how many replicas of the workload being placed fit on
	// the cluster, nil when unknown. divideBy capacity divides by it; every
	// division warns when it gives a cluster more than fit.
	Capacity *capacity.Estimate
	// Prices are what one node of each of the cluster's node pools costs
	// per hour, by pool name (the pools of Capacity); nil for a cluster
	// with no priced pools. divideBy cost divides by them, and every
	// division shows what its shares cost when they are known.
	Prices map[string]PoolPrice
}

// Result is the placement of one workload. It is part of the plan's stable
// JSON schema.
type Result struct {
	Workload string `json:"workload"`
	// Mode is ModeDuplicate, ModeWeight, ModeCapacity, ModeLocality or
	// ModeCost.
	Mode string `json:"mode"`
	// Total, Min and Max are the replicas policy's; Resource is set in
	// capacity mode and Near in locality mode.
	Total    *int32 `json:"total,omitempty"`
	Min      *int32 `json:"min,omitempty"`
	Max      *int32 `json:"max,omitempty"`
	Resource string `json:"resource,omitempty"`
	// Capacity is the figure divideBy capacity divided by: "current" or
	// "scaleUp".
	Capacity string `json:"capacity,omitempty"`
	Near     string `json:"near,omitempty"`
	// Spill is locality's: "max" or "fit".
	Spill string `json:"spill,omitempty"`
	// MaxCostPerHour is cost's cap, in US dollars per hour.
	MaxCostPerHour *float64 `json:"maxCostPerHour,omitempty"`
	// USDPerHour is what the placement costs per hour, the sum of its
	// shares' costs; absent unless every share's is known.
	USDPerHour *float64 `json:"usdPerHour,omitempty"`
	// Data is where the data the workload reads lives: the bucket
	// replicas.near names, then those placement.data names.
	Data []Data `json:"data,omitempty"`
	// Shares has one entry per selected cluster, sorted by region then name.
	Shares []Share `json:"shares"`
	// Explanation shows the inputs and the result per cluster, one human
	// line per step.
	Explanation []string `json:"explanation"`
	Warnings    []string `json:"warnings,omitempty"`
}

// Share is what one selected cluster gets.
type Share struct {
	Cluster string `json:"cluster"`
	Region  string `json:"region"`
	// Replicas is nil when the cluster gets the manifests as rendered
	// (duplicate mode) or is excluded; 0 keeps the objects at 0 replicas
	// (warm standby).
	Replicas *int32 `json:"replicas,omitempty"`
	// Weight is the division's input for this cluster: its weight, or the
	// replicas that fit in capacity mode.
	Weight *float64 `json:"weight,omitempty"`
	// Fit is how many replicas fit on the cluster, now and after
	// scale-up, with the nodes counted; absent when it was not read.
	Fit *capacity.Estimate `json:"fit,omitempty"`
	// DistanceKm is the distance from the cluster's region to Near, in whole
	// kilometres (locality mode).
	DistanceKm *float64 `json:"distanceKm,omitempty"`
	// USDPerReplicaHour is what one replica costs per hour on the
	// cluster's cheapest node pool where one fits: the node's price over
	// the replicas that fit on one node.
	USDPerReplicaHour *float64 `json:"usdPerReplicaHour,omitempty"`
	// USDPerHour is what the share's replicas cost per hour, filling the
	// cheapest pools per replica first.
	USDPerHour *float64 `json:"usdPerHour,omitempty"`
	// Clamped is "min" or "max" when that bound, not the cluster's
	// proportional share or its place in the locality order, decided its
	// replicas.
	Clamped string `json:"clamped,omitempty"`
	// Excluded is why the cluster gets nothing: it is unreachable.
	Excluded string `json:"excluded,omitempty"`
	// Egress is, per data location of the workload, what the cluster
	// reading it costs (absent for an excluded cluster).
	Egress []Egress `json:"egress,omitempty"`
}

// CapacityUnknownError is returned when a workload divides its replicas by
// capacity and how many replicas fit on some reachable selected cluster is
// unknown.
type CapacityUnknownError struct {
	// Workload is empty when the error comes from Divide directly.
	Workload string
	Resource string
	// Clusters are the clusters whose capacity is missing, sorted.
	Clusters []string
}

func (e *CapacityUnknownError) Error() string {
	noun := "cluster"
	if len(e.Clusters) != 1 {
		noun = "clusters"
	}
	what := "dividing replicas"
	if e.Workload != "" {
		what = fmt.Sprintf("workload %q divides its replicas", e.Workload)
	}
	return fmt.Sprintf("%s by the replicas that fit, which is unknown for %s %s", what, noun, joinNames(e.Clusters))
}

// Place selects the clusters of a workload and divides its replicas among
// them, then says what reading the workload's data costs each cluster.
// Errors name the workload.
func Place(w topology.Workload, clusters []Cluster, in Inputs) (Result, error) {
	selected, err := Select(w.Placement, clusters)
	if err != nil {
		return Result{}, fmt.Errorf("workload %q: %w", w.Name, err)
	}
	data, err := dataOf(w, in)
	if err != nil {
		return Result{}, fmt.Errorf("workload %q: %w", w.Name, err)
	}
	var res Result
	if w.Placement.Replicas == nil {
		res = duplicate(selected)
	} else {
		near, err := nearOf(w.Placement.Replicas.Near, in)
		if err != nil {
			return Result{}, fmt.Errorf("workload %q: %w", w.Name, err)
		}
		res, err = divide(selected, *w.Placement.Replicas, near)
		if err != nil {
			var capErr *CapacityUnknownError
			if errors.As(err, &capErr) {
				capErr.Workload = w.Name
				return Result{}, capErr
			}
			return Result{}, fmt.Errorf("workload %q: %w", w.Name, err)
		}
	}
	res.Workload = w.Name
	if err := addEgress(&res, data, in.prices()); err != nil {
		return Result{}, fmt.Errorf("workload %q: %w", w.Name, err)
	}
	return res, nil
}

// duplicate places the manifests as rendered on every selected cluster that
// can be reached.
func duplicate(selected []Cluster) Result {
	res := Result{Mode: ModeDuplicate, Shares: make([]Share, 0, len(selected))}
	var names []string
	var excluded []string
	for _, c := range selected {
		s := Share{Cluster: c.Name, Region: c.Region}
		if c.Unreachable != "" {
			s.Excluded = excludedReason(c)
			res.Warnings = append(res.Warnings, fmt.Sprintf("cluster %s unreachable (%s): excluded", c.Name, c.Unreachable))
			excluded = append(excluded, fmt.Sprintf("%s excluded: unreachable (%s)", c.Name, c.Unreachable))
		} else {
			names = append(names, c.Name)
		}
		res.Shares = append(res.Shares, s)
	}
	if len(names) == 0 {
		res.Explanation = append(res.Explanation, "no replicas policy, and no selected cluster is reachable")
	} else {
		res.Explanation = append(res.Explanation, "no replicas policy: manifests as rendered on "+joinNames(names))
	}
	res.Explanation = append(res.Explanation, excluded...)
	return res
}

func excludedReason(c Cluster) string {
	return "unreachable: " + c.Unreachable
}
