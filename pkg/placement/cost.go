package placement

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
)

// PoolPrice is what one node of a cluster's node pool costs per hour.
type PoolPrice struct {
	USDPerNodeHour float64
	// Spot says the pool's nodes are spot VMs, priced as such.
	Spot bool
	// NoPrice is why the node's price is unknown (the price list lacks
	// its machine type or GPU in the region); USDPerNodeHour is then 0.
	NoPrice string
}

// slot is one node pool of a cluster as a price per replica: what one
// replica occupies of a node (1/PerNode of it, by the node-by-node fit
// capacity counts) times the node's price, and how many replicas the pool
// holds once it has scaled up.
type slot struct {
	pool       string
	perReplica float64
	perNode    int64
	nodePrice  float64
	spot       bool
	replicas   int64
}

// slots are the priced pools of a cluster where at least one replica fits
// on a node, cheapest per replica first (ties by pool name). A pool where a
// replica fits but whose price is unknown is an error when strict: the
// cheapest place could be that one. Without strict, it is left out and
// complete is false.
func slots(c Cluster, strict bool) (out []slot, complete bool, err error) {
	if c.Capacity == nil {
		return nil, false, nil
	}
	complete = len(c.Capacity.Pools) > 0
	for _, p := range c.Capacity.Pools {
		if p.PerNode <= 0 {
			continue
		}
		price, ok := c.Prices[p.Name]
		switch {
		case !ok:
			if strict {
				return nil, false, fmt.Errorf("cluster %s: node pool %s has no price", c.Name, p.Name)
			}
			complete = false
			continue
		case price.NoPrice != "":
			if strict {
				return nil, false, fmt.Errorf("cluster %s: node pool %s: %s", c.Name, p.Name, price.NoPrice)
			}
			complete = false
			continue
		}
		out = append(out, slot{
			pool: p.Name, perReplica: price.USDPerNodeHour / float64(p.PerNode), perNode: p.PerNode,
			nodePrice: price.USDPerNodeHour, spot: price.Spot, replicas: p.PerNode * int64(max(p.Nodes, p.MaxNodes)),
		})
	}
	slices.SortFunc(out, func(a, b slot) int {
		return cmp.Or(cmp.Compare(a.perReplica, b.perReplica), cmp.Compare(a.pool, b.pool))
	})
	if strict && len(out) == 0 {
		if len(c.Capacity.Pools) == 0 {
			return nil, false, fmt.Errorf("cluster %s: no node pools in the topology, so what a replica costs there is unknown (divideBy: cost prices GKE node pools)", c.Name)
		}
		return nil, false, fmt.Errorf("cluster %s: no replica fits on a node of any of its node pools, so what one costs there is unknown", c.Name)
	}
	return out, complete, nil
}

// costOf is what n replicas cost per hour on a cluster whose pools are
// slots: they fill the cheapest pool per replica first, each up to what it
// holds after scale-up; replicas beyond every pool (on nodes of no pool)
// cost what one does on the dearest.
func costOf(ss []slot, n int64) float64 {
	total := 0.0
	for _, s := range ss {
		if n <= 0 {
			break
		}
		k := min(n, s.replicas)
		total += float64(k) * s.perReplica
		n -= k
	}
	if n > 0 && len(ss) > 0 {
		total += float64(n) * ss[len(ss)-1].perReplica
	}
	return total
}

// marginal is what the replica after n costs.
func marginal(ss []slot, n int64) float64 {
	return costOf(ss, n+1) - costOf(ss, n)
}

// measurePrices prices one replica on every cluster, for divideBy cost.
// Unknown capacity is reported first, as capacity mode does; then every
// cluster that cannot be priced, all at once.
func (d *division) measurePrices() error {
	if err := d.needFit(); err != nil {
		return err
	}
	var errs []error
	for _, p := range d.parts {
		ss, _, err := slots(p.Cluster, true)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.slots = ss
		p.perReplica = ss[0].perReplica
	}
	return errors.Join(errs...)
}

// byPrice orders parts cheapest per replica first, ties by distance to
// near (0 for all without one), then name.
func (d *division) byPrice() []*part {
	out := slices.Clone(d.parts)
	slices.SortStableFunc(out, func(a, b *part) int {
		return cmp.Or(cmp.Compare(a.perReplica, b.perReplica), cmp.Compare(a.km, b.km), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// fillInOrder gives every cluster min, then the rest to the clusters in
// order, each up to what fits on it after scale-up and to max; what is
// still left goes in the same order up to max, where it will not fit
// (overfilled, warned about like any division). capUSD, when set, stops
// the filling at the first replica that would bring the placement's cost
// per hour over it. what names the order ("nearest", "cheapest").
func (d *division) fillInOrder(order []*part, what string, capUSD *float64) {
	left := d.total - int64(len(d.parts))*d.min
	switch {
	case d.min > 0 && left > 0:
		d.explain = append(d.explain, fmt.Sprintf("each cluster first gets min %d; the remaining %d go to the %s first, each up to what fits", d.min, left, what))
	case d.min > 0 && len(d.parts) > 0:
		d.explain = append(d.explain, fmt.Sprintf("each cluster gets min %d, which places all %d", d.min, d.total))
	}
	spent := 0.0
	for _, p := range d.parts {
		p.replicas = d.min
		spent += costOf(p.slots, d.min)
	}
	if capUSD != nil && spent > *capUSD {
		msg := fmt.Sprintf("min %d on every cluster alone costs %s/hour, over maxCostPerHour %s: placed anyway, as min says", d.min, money(spent), money(*capUSD))
		d.explain = append(d.explain, msg)
		d.warnings = append(d.warnings, msg)
	}
	room := func(p *part, toFit bool) int64 {
		limit := left + p.replicas
		if d.hasMax {
			limit = min(limit, d.max)
		}
		if toFit {
			limit = min(limit, max(p.Capacity.Most(), d.min))
		}
		return max(0, limit-p.replicas)
	}
	stopped := ""
	for _, toFit := range []bool{true, false} {
		for _, p := range order {
			give := room(p, toFit)
			if capUSD != nil && stopped == "" {
				for k := int64(0); k < give; k++ {
					next := marginal(p.slots, p.replicas+k)
					if spent+next > *capUSD+1e-9 {
						stopped = fmt.Sprintf("the next replica, on %s, would cost %s/hour and bring the total to %s", p.Name, money(next), money(spent+next))
						give = k
						break
					}
					spent += next
				}
			} else if stopped != "" {
				give = 0
			}
			if give == 0 {
				continue
			}
			p.replicas += give
			left -= give
			switch {
			case d.hasMax && p.replicas == d.max && left > 0:
				p.clamped = "max"
				d.explain = append(d.explain, fmt.Sprintf("%s: filled to max %d", p.Name, d.max))
			case toFit && p.replicas == p.Capacity.Most() && left > 0:
				d.explain = append(d.explain, fmt.Sprintf("%s: filled to what fits, %d", p.Name, p.replicas))
			case !toFit:
				d.explain = append(d.explain, fmt.Sprintf("%s: %d more than fit, as nothing fits anywhere else", p.Name, give))
			}
		}
	}
	if stopped != "" && left > 0 {
		msg := fmt.Sprintf("%d of %d replicas cannot be placed under maxCostPerHour %s: %s", left, d.total, money(*capUSD), stopped)
		d.explain = append(d.explain, msg)
		d.warnings = append(d.warnings, msg)
		d.total -= left
	}
}

// priceLines explain, per cluster in the order used, what one replica
// costs there and why.
func (d *division) priceLines(order []*part) []string {
	var out []string
	for _, p := range order {
		s := p.slots[0]
		kind := "on-demand"
		if s.spot {
			kind = "spot"
		}
		out = append(out, fmt.Sprintf("%s: %s per replica-hour on pool %s (%s on one %s node at %s/hour)",
			p.Name, money(s.perReplica), s.pool, replicasCount(s.perNode), kind, money(s.nodePrice)))
	}
	return out
}

func replicasCount(n int64) string {
	if n == 1 {
		return "1 replica"
	}
	return fmt.Sprintf("%d replicas", n)
}

// costShares sets, where every pool a replica can use is priced, what each
// cluster's share costs per hour, and returns the placement's total when
// every share could be priced.
func (d *division) costShares() *float64 {
	total := 0.0
	all := len(d.parts) > 0
	for _, p := range d.parts {
		ss, complete, err := slots(p.Cluster, false)
		if err != nil || !complete || len(ss) == 0 {
			all = all && p.replicas == 0 && err == nil && p.Capacity != nil
			continue
		}
		v := costOf(ss, p.replicas)
		p.usd, p.perReplicaUSD = &v, &ss[0].perReplica
		total += v
	}
	if !all {
		return nil
	}
	return &total
}

func money(v float64) string { return catalog.FormatUSD(v) }
