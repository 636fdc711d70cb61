// Package cost prices a topology's GKE node pools by a dated price list
// (package catalog): what one node of each pool costs per hour, spot or on
// demand as the pool is, and what each pool and cluster costs at the size
// the topology asks for and at its autoscaling maximum. Placement divides by
// the node prices (divideBy: cost) and the plan shows the rest. It is pure.
package cost

import (
	"fmt"
	"strings"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// Pool is one node pool's price. It is part of the plan's JSON schema.
type Pool struct {
	// Name is the pool's name in the topology.
	Name string `json:"name"`
	// MachineType is the pool's Compute Engine machine type.
	MachineType string `json:"machineType"`
	// Spot says the pool's nodes are spot VMs, priced as such.
	Spot bool `json:"spot,omitempty"`
	// Nodes is what the pool is asked to have over all its zones: its
	// node count, or its autoscaling minimum.
	Nodes int `json:"nodes"`
	// MaxNodes is the pool's autoscaling maximum over all its zones (0
	// when it does not autoscale).
	MaxNodes int `json:"maxNodes,omitempty"`
	// USDPerNodeHour is what one node costs per hour, in US dollars;
	// absent when the price list lacks it.
	USDPerNodeHour *float64 `json:"usdPerNodeHour,omitempty"`
	// NoPrice says why the node's price is unknown.
	NoPrice string `json:"noPrice,omitempty"`
	// USDPerHour is what the pool costs per hour at Nodes.
	USDPerHour *float64 `json:"usdPerHour,omitempty"`
	// USDPerHourMax is what the pool costs per hour at MaxNodes
	// (autoscaling pools only).
	USDPerHourMax *float64 `json:"usdPerHourMax,omitempty"`
}

// Cluster is a managed cluster's node pools priced. It is part of the
// plan's JSON schema.
type Cluster struct {
	// Pools are the cluster's node pools, in topology order.
	Pools []Pool `json:"pools"`
	// USDPerHour sums the pools at their size; absent when some pool has
	// no price.
	USDPerHour *float64 `json:"usdPerHour,omitempty"`
	// USDPerHourMax sums the pools at their autoscaling maximum (fixed
	// pools at their size); absent when some pool has no price.
	USDPerHourMax *float64 `json:"usdPerHourMax,omitempty"`
}

// NodePrice is what one node of pool costs per hour in region.
func NodePrice(prices *catalog.Prices, pool topology.NodePool, region string) (float64, error) {
	accs := make([]catalog.AcceleratorConfig, len(pool.Accelerators))
	for i, a := range pool.Accelerators {
		accs[i] = catalog.AcceleratorConfig{Type: a.Type, Count: a.Count}
	}
	return prices.Node(pool.MachineType, accs, region, pool.Spot)
}

// NodePrices are the node prices of a cluster's pools as placement takes
// them, by pool name; nil for a joined cluster.
func NodePrices(prices *catalog.Prices, ref topology.ClusterRef) map[string]placement.PoolPrice {
	if prices == nil || !ref.Cluster.Managed() {
		return nil
	}
	out := map[string]placement.PoolPrice{}
	for _, np := range ref.Cluster.GKE.NodePools {
		usd, err := NodePrice(prices, np, ref.Region)
		pp := placement.PoolPrice{USDPerNodeHour: usd, Spot: np.Spot}
		if err != nil {
			pp = placement.PoolPrice{Spot: np.Spot, NoPrice: err.Error()}
		}
		out[np.Name] = pp
	}
	return out
}

// OfCluster prices a managed cluster's pools; zones says over how many
// zones a pool (by name) spreads its per-zone node counts, as GKE does.
// Nil for a joined cluster.
func OfCluster(prices *catalog.Prices, ref topology.ClusterRef, zones func(pool string) int) *Cluster {
	if prices == nil || !ref.Cluster.Managed() {
		return nil
	}
	c := &Cluster{Pools: []Pool{}}
	now, most, complete := 0.0, 0.0, true
	for _, np := range ref.Cluster.GKE.NodePools {
		z := max(zones(np.Name), 1)
		p := Pool{Name: np.Name, MachineType: np.MachineType, Spot: np.Spot}
		switch {
		case np.Autoscaling != nil:
			p.Nodes, p.MaxNodes = int(np.Autoscaling.MinNodes)*z, int(np.Autoscaling.MaxNodes)*z
		case np.NodeCount != nil:
			p.Nodes = int(*np.NodeCount) * z
		default:
			p.Nodes = z
		}
		usd, err := NodePrice(prices, np, ref.Region)
		if err != nil {
			p.NoPrice = err.Error()
			complete = false
			c.Pools = append(c.Pools, p)
			continue
		}
		at, top := usd*float64(p.Nodes), usd*float64(max(p.Nodes, p.MaxNodes))
		p.USDPerNodeHour, p.USDPerHour = &usd, &at
		if p.MaxNodes > 0 {
			p.USDPerHourMax = &top
		}
		now += at
		most += top
		c.Pools = append(c.Pools, p)
	}
	if complete && len(c.Pools) > 0 {
		c.USDPerHour, c.USDPerHourMax = &now, &most
	}
	return c
}

// Line describes the pool's price in one line for the plan, e.g.
// "node pool a100: a2-highgpu-1g spot, 0–6 nodes × $1.49/hour = $0.00–$8.92/hour".
func (p Pool) Line() string {
	s := "node pool " + p.Name + ": " + p.MachineType
	if p.Spot {
		s += " spot"
	}
	nodes := fmt.Sprintf("%d nodes", p.Nodes)
	if p.MaxNodes > 0 {
		nodes = fmt.Sprintf("%d–%d nodes", p.Nodes, p.MaxNodes)
	} else if p.Nodes == 1 {
		nodes = "1 node"
	}
	if p.USDPerNodeHour == nil {
		return s + ", " + nodes + ": " + p.NoPrice
	}
	s += ", " + nodes + " × " + catalog.FormatUSD(*p.USDPerNodeHour) + "/hour = " + catalog.FormatUSD(*p.USDPerHour)
	if p.USDPerHourMax != nil {
		s += "–" + catalog.FormatUSD(*p.USDPerHourMax)
	}
	return s + "/hour"
}

// Line is the cluster's total in one line, e.g. "cost: $0.89/hour, up to
// $9.81/hour with every pool at its maximum"; it says when a pool has no
// price instead.
func (c *Cluster) Line() string {
	if c.USDPerHour == nil {
		return "cost: unknown, a node pool has no price"
	}
	s := "cost: " + catalog.FormatUSD(*c.USDPerHour) + "/hour"
	if *c.USDPerHourMax != *c.USDPerHour {
		s += ", up to " + catalog.FormatUSD(*c.USDPerHourMax) + "/hour with every pool at its maximum"
	}
	return s
}

// Short is the cluster's cost in a few words for a table cell, e.g.
// "$0.54/hour, up to $1.90".
func (c *Cluster) Short() string {
	if c.USDPerHour == nil {
		return "no price"
	}
	s := catalog.FormatUSD(*c.USDPerHour) + "/hour"
	if *c.USDPerHourMax != *c.USDPerHour {
		s += ", up to " + catalog.FormatUSD(*c.USDPerHourMax)
	}
	return s
}

// Origins describes where prices come from, e.g. "built-in list of
// 2026-12-07 (SkyPilot …); rates.txt of 2027-01-15 over it".
func Origins(origins []catalog.Origin) string {
	parts := make([]string, len(origins))
	for i, o := range origins {
		s := o.File + " list of " + o.Date
		if o.File != "built-in" {
			s = o.File + " of " + o.Date
		}
		if o.Source != "" {
			s += " (" + o.Source + ")"
		}
		if i > 0 {
			s += " over it"
		}
		parts[i] = s
	}
	return strings.Join(parts, "; ")
}
