package placement

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/geofed-io/kubectl-geofed/pkg/capacity"
	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// TestDivideProperties divides many random inputs and checks what must hold
// for every one of them, against a reference computed another way:
//   - an error exactly when the input cannot be divided (bounds, capacity);
//   - the replicas sum to the total, each within [min, max], unreachable
//     clusters excluded and every other one given a count;
//   - weight and capacity: each count is its exact share rounded down or
//     up, the share found by bisection on the common scale factor rather
//     than by iterative clamping, and no cluster rounded down had a clearly
//     larger remainder than one rounded up;
//   - locality: a cluster only gets more than min once every nearer one is
//     full (to max, or with spill fit to what fits);
//   - cost: a cluster only gets more than min once every cheaper one (ties
//     by distance, then name) holds what fits, and more than fits once
//     every cluster does; maxCostPerHour is never exceeded beyond what
//     min alone costs;
//   - the same input in any order gives the same Result.
func TestDivideProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(20240611, 7))
	n := 5000
	if testing.Short() {
		n = 500
	}
	for i := range n {
		if !checkRandomDivision(t, rng) {
			t.Fatalf("case %d failed", i)
		}
	}
}

// FuzzDivide explores the same properties from fuzzer-chosen seeds, for
// longer runs: go test -fuzz FuzzDivide ./pkg/placement/
func FuzzDivide(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(20240611), uint64(7))
	f.Fuzz(func(t *testing.T, seed1, seed2 uint64) {
		checkRandomDivision(t, rand.New(rand.NewPCG(seed1, seed2)))
	})
}

// checkRandomDivision divides one random input, checks it, and checks that
// shuffling the clusters or dividing again changes nothing.
func checkRandomDivision(t *testing.T, rng *rand.Rand) bool {
	t.Helper()
	clusters, policy := randomInput(rng)
	res, err := Divide(clusters, policy)
	desc := describe(clusters, policy)
	checkDivision(t, desc, clusters, policy, res, err)
	if t.Failed() {
		return false
	}
	shuffled := append([]Cluster(nil), clusters...)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	res2, err2 := Divide(shuffled, policy)
	if fmt.Sprint(err) != fmt.Sprint(err2) || !reflect.DeepEqual(res, res2) {
		t.Errorf("order of clusters changed the result\n%s\nfirst:    %s %v\nshuffled: %s %v", desc, summary(res), err, summary(res2), err2)
		return false
	}
	res3, err3 := Divide(clusters, policy)
	if fmt.Sprint(err) != fmt.Sprint(err3) || !reflect.DeepEqual(res, res3) {
		t.Errorf("same input, different result\n%s", desc)
		return false
	}
	return true
}

var propertyRegions = []string{"us-west1", "us-central1", "us-east4", "europe-west1", "asia-east1"}

func randomInput(rng *rand.Rand) ([]Cluster, topology.Replicas) {
	names := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}
	rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	modes := []topology.DivideBy{"", topology.DivideByWeight, topology.DivideByCapacity, topology.DivideByLocality, topology.DivideByCost}
	p := topology.Replicas{DivideBy: modes[rng.IntN(len(modes))]}
	if p.DivideBy == topology.DivideByLocality && rng.IntN(2) == 0 {
		p.Spill = topology.SpillFit
	}
	if p.DivideBy == topology.DivideByCost && rng.IntN(3) == 0 {
		p.MaxCostPerHour = new(float64(1 + rng.IntN(30)))
	}
	if rng.IntN(2) == 0 {
		p.Min = i32(int32(rng.IntN(4)))
	}
	if rng.IntN(2) == 0 {
		lo := int32(0)
		if p.Min != nil {
			lo = *p.Min
		}
		p.Max = i32(lo + int32(rng.IntN(12)))
	}
	if rng.IntN(4) == 0 {
		p.Resource = "cpu"
	}
	resource := p.Resource
	if resource == "" {
		resource = DefaultResource
	}
	p.Near = propertyRegions[rng.IntN(len(propertyRegions))]

	clusters := make([]Cluster, 1+rng.IntN(len(names)))
	reachable := int32(0)
	for i := range clusters {
		c := Cluster{Name: names[i], Region: propertyRegions[rng.IntN(len(propertyRegions))]}
		if rng.IntN(6) == 0 {
			c.Unreachable = "timeout"
		} else {
			reachable++
		}
		switch rng.IntN(40) {
		case 0: // unknown capacity
		default:
			spare := int64(rng.IntN(20))
			if rng.IntN(4) == 0 {
				spare = 0
			}
			c.Capacity = fits(spare)
			c.Capacity.Pools, c.Prices = randomPools(rng, spare)
		}
		clusters[i] = c
	}

	// Mostly totals the bounds allow, so that most cases divide; some
	// anywhere, so that infeasible ones are checked too.
	lo, span := int32(0), int32(40)
	if p.Min != nil {
		lo = reachable * *p.Min
	}
	if p.Max != nil {
		span = reachable**p.Max - lo
	}
	switch rng.IntN(10) {
	case 0:
		p.Total = int32(rng.IntN(60))
	case 1:
		p.Total = lo
	case 2:
		p.Total = lo + span
	default:
		p.Total = lo + int32(rng.IntN(int(span)+1))
	}
	if rng.IntN(4) != 0 {
		p.Weights = map[string]int32{}
		for range rng.IntN(5) {
			key := propertyRegions[rng.IntN(len(propertyRegions))]
			if rng.IntN(2) == 0 {
				key = clusters[rng.IntN(len(clusters))].Name
			}
			p.Weights[key] = int32(rng.IntN(6))
		}
	}
	return clusters, p
}

// propertyPrices are node prices in a few steps, so that ties happen.
var propertyPrices = []float64{0.5, 1, 1, 2, 3.5}

// randomPools splits spare replicas over one or two node pools, priced (a
// pool rarely has no price, or no replica fits on its nodes), or none: a
// joined cluster.
func randomPools(rng *rand.Rand, spare int64) ([]capacity.PoolEstimate, map[string]PoolPrice) {
	if rng.IntN(12) == 0 {
		return nil, nil
	}
	var pools []capacity.PoolEstimate
	prices := map[string]PoolPrice{}
	for i, name := range []string{"cpu", "gpu"}[:1+rng.IntN(2)] {
		per := int64(1 + rng.IntN(4))
		if rng.IntN(15) == 0 {
			per = 0
		}
		nodes := int(spare) / max(int(per), 1)
		if i == 1 {
			nodes = rng.IntN(3)
		}
		pools = append(pools, capacity.PoolEstimate{Name: name, Nodes: nodes, MaxNodes: rng.IntN(2) * (nodes + 2), PerNode: per})
		switch rng.IntN(20) {
		case 0: // no price entry
		case 1:
			prices[name] = PoolPrice{NoPrice: "no spot price for accelerator nvidia-l4 in asia-east1"}
		default:
			prices[name] = PoolPrice{USDPerNodeHour: propertyPrices[rng.IntN(len(propertyPrices))], Spot: rng.IntN(2) == 0}
		}
	}
	return pools, prices
}

func describe(clusters []Cluster, p topology.Replicas) string {
	var b strings.Builder
	fmt.Fprintf(&b, "policy: total=%d divideBy=%q resource=%q near=%s spill=%q weights=%v", p.Total, p.DivideBy, p.Resource, p.Near, p.Spill, p.Weights)
	if p.MaxCostPerHour != nil {
		fmt.Fprintf(&b, " maxCostPerHour=%v", *p.MaxCostPerHour)
	}
	if p.Min != nil {
		fmt.Fprintf(&b, " min=%d", *p.Min)
	}
	if p.Max != nil {
		fmt.Fprintf(&b, " max=%d", *p.Max)
	}
	for _, c := range clusters {
		fmt.Fprintf(&b, "\n  %s %s unreachable=%q", c.Name, c.Region, c.Unreachable)
		if c.Capacity != nil {
			fmt.Fprintf(&b, " fit=%d pools=%+v prices=%+v", c.Capacity.Now.Replicas, c.Capacity.Pools, c.Prices)
		}
	}
	return b.String()
}

func checkDivision(t *testing.T, desc string, clusters []Cluster, p topology.Replicas, res Result, err error) {
	t.Helper()
	total := int64(p.Total)
	lo, hi, hasMax := int64(0), int64(math.MaxInt64), p.Max != nil
	if p.Min != nil {
		lo = int64(*p.Min)
	}
	if hasMax {
		hi = int64(*p.Max)
	}
	resource := p.Resource
	if resource == "" {
		resource = DefaultResource
	}
	var reachable []Cluster
	var unknown []string
	for _, c := range clusters {
		if c.Unreachable != "" {
			continue
		}
		reachable = append(reachable, c)
		if c.Capacity == nil {
			unknown = append(unknown, c.Name)
		}
	}
	n := int64(len(reachable))
	all := int64(len(clusters))
	infeasible := n*lo > total || (hasMax && all*hi < total)
	// Feasible with every cluster, but the unreachable ones leave too
	// little room: the reachable are filled and the rest is not placed.
	placeable := total
	if !infeasible && n == 0 {
		placeable = 0
	} else if !infeasible && hasMax && n*hi < total {
		placeable = n * hi
	}

	var capErr *CapacityUnknownError
	switch {
	case infeasible:
		if err == nil || !strings.HasPrefix(err.Error(), "cannot ") {
			t.Errorf("infeasible input: got error %v, want a 'cannot divide/place' error\n%s", err, desc)
		}
		return
	case (p.DivideBy == topology.DivideByCapacity || p.DivideBy == topology.DivideByCost || p.Spill == topology.SpillFit) && len(unknown) > 0:
		sort.Strings(unknown)
		if !errors.As(err, &capErr) || !reflect.DeepEqual(capErr.Clusters, unknown) {
			t.Errorf("capacity unknown for %v: got error %v\n%s", unknown, err, desc)
		}
		return
	case p.DivideBy == topology.DivideByCost && unpriced(reachable) != "":
		if err == nil || !strings.Contains(err.Error(), "cluster "+unpriced(reachable)+":") {
			t.Errorf("cluster %s cannot be priced: got error %v\n%s", unpriced(reachable), err, desc)
		}
		return
	case err != nil:
		t.Errorf("feasible input: unexpected error %v\n%s", err, desc)
		return
	}

	if len(res.Shares) != len(clusters) {
		t.Errorf("%d shares for %d clusters\n%s", len(res.Shares), len(clusters), desc)
		return
	}
	for i := 1; i < len(res.Shares); i++ {
		a, b := res.Shares[i-1], res.Shares[i]
		if a.Region > b.Region || (a.Region == b.Region && a.Cluster >= b.Cluster) {
			t.Errorf("shares not in region, name order: %s/%s before %s/%s", a.Region, a.Cluster, b.Region, b.Cluster)
		}
	}
	byName := map[string]Cluster{}
	for _, c := range clusters {
		byName[c.Name] = c
	}
	got := map[string]int64{}
	sum := int64(0)
	for _, s := range res.Shares {
		c := byName[s.Cluster]
		if c.Unreachable != "" {
			if s.Excluded == "" || s.Replicas != nil {
				t.Errorf("unreachable %s: excluded %q, replicas %v\n%s", s.Cluster, s.Excluded, s.Replicas, desc)
			}
			continue
		}
		if s.Replicas == nil || s.Excluded != "" {
			t.Errorf("reachable %s: excluded %q, replicas %v\n%s", s.Cluster, s.Excluded, s.Replicas, desc)
			continue
		}
		r := int64(*s.Replicas)
		if r < lo || r > hi {
			t.Errorf("%s got %d, outside [%d, %d]\n%s\n%s", s.Cluster, r, lo, hi, desc, strings.Join(res.Explanation, "\n"))
		}
		got[s.Cluster] = r
		sum += r
	}
	if placeable < total && !strings.Contains(strings.Join(res.Warnings, "\n"), "cannot be placed") {
		t.Errorf("%d of %d replicas placed, and no warning says so: %v\n%s", placeable, total, res.Warnings, desc)
	}
	total = placeable
	capped := strings.Contains(strings.Join(res.Warnings, "\n"), "cannot be placed under maxCostPerHour")
	if capped && p.MaxCostPerHour == nil {
		t.Errorf("capped without a cap\n%s", desc)
	}
	if sum != total && !(capped && sum < total) {
		t.Errorf("replicas sum to %d, want %d\n%s\n%s", sum, placeable, desc, strings.Join(res.Explanation, "\n"))
	}

	switch {
	case p.DivideBy == topology.DivideByLocality && p.Spill == topology.SpillFit:
		checkFillOrder(t, desc, reachable, byKm(reachable, p.Near, nil), got, lo, hi, hasMax, capped)
		return
	case p.DivideBy == topology.DivideByLocality:
		checkLocality(t, desc, reachable, p, got, lo, hi, hasMax)
		return
	case p.DivideBy == topology.DivideByCost:
		checkFillOrder(t, desc, reachable, byKm(reachable, p.Near, replicaPrice), got, lo, hi, hasMax, capped)
		checkCap(t, desc, reachable, p, res, got, lo)
		return
	}
	weights := make([]float64, len(reachable))
	for i, c := range reachable {
		if p.DivideBy == topology.DivideByCapacity {
			weights[i] = float64(max(c.Capacity.Now.Replicas, 0))
			continue
		}
		w, ok := p.Weights[c.Name]
		if !ok {
			w, ok = p.Weights[c.Region]
		}
		if !ok {
			w = 1
		}
		weights[i] = float64(w)
	}
	shares := referenceShares(float64(total), weights, float64(lo), float64(hi), hasMax)
	const eps = 1e-6
	for i, c := range reachable {
		s, r := shares[i], float64(got[c.Name])
		ok := r == math.Floor(s) || r == math.Ceil(s)
		if isWhole(s) {
			ok = r == math.Round(s)
		}
		if !ok {
			t.Errorf("%s got %d, its exact share is %.4f\n%s\n%s", c.Name, got[c.Name], shares[i], desc, strings.Join(res.Explanation, "\n"))
		}
	}
	for i, up := range reachable {
		for j, down := range reachable {
			upFrac, downFrac := shares[i]-math.Floor(shares[i]), shares[j]-math.Floor(shares[j])
			roundedUp := float64(got[up.Name]) > shares[i]+eps
			roundedDown := float64(got[down.Name]) < shares[j]-eps
			if roundedUp && roundedDown && downFrac > upFrac+eps {
				t.Errorf("%s (remainder %.4f) rounded up before %s (remainder %.4f)\n%s", up.Name, upFrac, down.Name, downFrac, desc)
			}
		}
	}
}

func isWhole(f float64) bool { return math.Abs(f-math.Round(f)) < 1e-6 }

// referenceShares finds the exact division a different way from Divide:
// share_i = clamp(λ·w_i, lo, hi) for the λ that makes them sum to total,
// found by bisection. Clusters weighing 0 sit at lo unless the others are
// all at hi, when they share what is left equally.
func referenceShares(total float64, w []float64, lo, hi float64, hasMax bool) []float64 {
	clamp := func(v float64) float64 {
		v = math.Max(v, lo)
		if hasMax {
			v = math.Min(v, hi)
		}
		return v
	}
	var positive, zero int
	for _, x := range w {
		if x > 0 {
			positive++
		} else {
			zero++
		}
	}
	out := make([]float64, len(w))
	saturated := float64(zero) * lo
	if hasMax {
		saturated += float64(positive) * hi
	}
	if positive == 0 || (hasMax && saturated < total) {
		// Positive weights all at max; zero weights share the rest.
		rest := total
		if positive > 0 {
			rest -= float64(positive) * hi
		}
		for i, x := range w {
			if x > 0 {
				out[i] = hi
			} else {
				out[i] = rest / float64(zero)
			}
		}
		return out
	}
	sumAt := func(lambda float64) float64 {
		s := 0.0
		for _, x := range w {
			s += clamp(lambda * x)
		}
		return s
	}
	lambdaHi := 1.0
	for sumAt(lambdaHi) < total {
		lambdaHi *= 2
	}
	lambdaLo := 0.0
	for range 200 {
		mid := (lambdaLo + lambdaHi) / 2
		if sumAt(mid) < total {
			lambdaLo = mid
		} else {
			lambdaHi = mid
		}
	}
	for i, x := range w {
		out[i] = clamp(lambdaHi * x)
	}
	return out
}

func checkLocality(t *testing.T, desc string, reachable []Cluster, p topology.Replicas, got map[string]int64, lo, hi int64, hasMax bool) {
	t.Helper()
	type near struct {
		name string
		km   float64
	}
	order := make([]near, len(reachable))
	for i, c := range reachable {
		km, ok := catalog.DistanceKm(c.Region, p.Near)
		if !ok {
			t.Fatalf("catalog lacks %s or %s", c.Region, p.Near)
		}
		order[i] = near{c.Name, math.Round(km)}
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i].km != order[j].km {
			return order[i].km < order[j].km
		}
		return order[i].name < order[j].name
	})
	for j := range order {
		if got[order[j].name] <= lo {
			continue
		}
		for i := range j {
			if !hasMax || got[order[i].name] != hi {
				t.Errorf("%s got %d > min while nearer %s is not full (%d)\n%s", order[j].name, got[order[j].name], order[i].name, got[order[i].name], desc)
			}
		}
	}
}

// unpriced is the first reachable cluster (by name) where what a replica
// costs cannot be known: no pools, or a pool a replica fits on without a
// price, or no pool a replica fits on.
func unpriced(reachable []Cluster) string {
	var names []string
	for _, c := range reachable {
		if replicaPrice(c) < 0 {
			names = append(names, c.Name)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	// Divide reports the first in its own order (region, then name);
	// the property only needs it to name one of them.
	return names[0]
}

// replicaPrice is the reference price of one replica on c: the cheapest
// node price over replicas per node among its pools, or -1 when unknown.
func replicaPrice(c Cluster) float64 {
	if c.Capacity == nil || len(c.Capacity.Pools) == 0 {
		return -1
	}
	best := math.Inf(1)
	for _, pool := range c.Capacity.Pools {
		if pool.PerNode <= 0 {
			continue
		}
		pr, ok := c.Prices[pool.Name]
		if !ok || pr.NoPrice != "" {
			return -1
		}
		best = math.Min(best, pr.USDPerNodeHour/float64(pool.PerNode))
	}
	if math.IsInf(best, 1) {
		return -1
	}
	return best
}

type ranked struct {
	name      string
	price, km float64
	fit       int64
}

// byKm orders clusters by price (when given), then distance to near, then
// name: the order the fill divisions hand replicas out in.
func byKm(reachable []Cluster, near string, price func(Cluster) float64) []ranked {
	out := make([]ranked, len(reachable))
	for i, c := range reachable {
		km := 0.0
		if near != "" {
			d, _ := catalog.DistanceKm(c.Region, near)
			km = math.Round(d)
		}
		pr := 0.0
		if price != nil {
			pr = price(c)
		}
		out[i] = ranked{c.Name, pr, km, c.Capacity.Most()}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.price != b.price {
			return a.price < b.price
		}
		if a.km != b.km {
			return a.km < b.km
		}
		return a.name < b.name
	})
	return out
}

// checkFillOrder: a cluster gets more than min only once every cluster
// before it holds what fits (or max), and more than fits only once every
// cluster does and every one before it is at max. A cap may stop the
// filling anywhere, so then only the first rule is checked up to the
// first cluster left short.
func checkFillOrder(t *testing.T, desc string, reachable []Cluster, order []ranked, got map[string]int64, lo, hi int64, hasMax, capped bool) {
	t.Helper()
	full := func(r ranked) int64 {
		f := max(r.fit, lo)
		if hasMax {
			f = min(f, hi)
		}
		return f
	}
	for j, rj := range order {
		if got[rj.name] > lo {
			for _, ri := range order[:j] {
				if got[ri.name] < full(ri) && !capped {
					t.Errorf("%s got %d > min while %s before it holds %d of the %d that fit\n%s", rj.name, got[rj.name], ri.name, got[ri.name], full(ri), desc)
				}
			}
		}
		if got[rj.name] > full(rj) {
			for i, ri := range order {
				if got[ri.name] < full(ri) {
					t.Errorf("%s got %d, more than fit (%d), while %s holds %d of the %d that fit\n%s", rj.name, got[rj.name], full(rj), ri.name, got[ri.name], full(ri), desc)
				}
				if i < j && hasMax && got[ri.name] < hi {
					t.Errorf("%s overfilled while %s before it is below max\n%s", rj.name, ri.name, desc)
				}
			}
		}
	}
}

// checkCap: under maxCostPerHour, the placement's cost stays within the cap
// unless min alone exceeds it; the result's total is the sum of its shares.
func checkCap(t *testing.T, desc string, reachable []Cluster, p topology.Replicas, res Result, got map[string]int64, lo int64) {
	t.Helper()
	if len(reachable) == 0 {
		return
	}
	if res.USDPerHour == nil {
		t.Errorf("cost division without a total cost\n%s", desc)
		return
	}
	sum := 0.0
	for _, s := range res.Shares {
		if s.USDPerHour != nil {
			sum += *s.USDPerHour
		}
	}
	if math.Abs(sum-*res.USDPerHour) > 1e-6 {
		t.Errorf("total %v is not the sum of the shares' %v\n%s", *res.USDPerHour, sum, desc)
	}
	if p.MaxCostPerHour == nil {
		return
	}
	minOnly := len(reachable) > 0 && strings.Contains(strings.Join(res.Warnings, "\n"), "alone costs")
	if *res.USDPerHour > *p.MaxCostPerHour+1e-6 && !minOnly {
		t.Errorf("placement costs %v/hour, over maxCostPerHour %v\n%s\n%s", *res.USDPerHour, *p.MaxCostPerHour, desc, strings.Join(res.Explanation, "\n"))
	}
	if minOnly {
		for name, r := range got {
			if r != lo {
				t.Errorf("min alone is over the cap, yet %s got %d, not min %d\n%s", name, r, lo, desc)
			}
		}
	}
}

// TestCostMonotoneInPrice: raising the node prices of one cluster never
// gives it more replicas, in many random cost divisions.
func TestCostMonotoneInPrice(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 2027))
	checked := 0
	for range 3000 {
		clusters, p := randomInput(rng)
		p.DivideBy, p.Spill = topology.DivideByCost, ""
		res, err := Divide(clusters, p)
		if err != nil {
			continue
		}
		victim := rng.IntN(len(clusters))
		dearer := slices.Clone(clusters)
		dearer[victim].Prices = maps.Clone(dearer[victim].Prices)
		for k, v := range dearer[victim].Prices {
			v.USDPerNodeHour *= 1 + float64(1+rng.IntN(4))/2
			dearer[victim].Prices[k] = v
		}
		res2, err := Divide(dearer, p)
		if err != nil {
			t.Fatalf("raising a price made the division fail: %v\n%s", err, describe(dearer, p))
		}
		name := clusters[victim].Name
		before, after := replicasOf(res, name), replicasOf(res2, name)
		if after > before {
			t.Errorf("raising %s's prices took it from %d to %d replicas\n%s", name, before, after, describe(clusters, p))
		}
		checked++
	}
	if checked < 500 {
		t.Fatalf("only %d random cost divisions succeeded: the generator is off", checked)
	}
}

func replicasOf(r Result, cluster string) int64 {
	for _, s := range r.Shares {
		if s.Cluster == cluster && s.Replicas != nil {
			return int64(*s.Replicas)
		}
	}
	return 0
}
