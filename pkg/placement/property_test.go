package placement

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"

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
//     full;
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
	modes := []topology.DivideBy{"", topology.DivideByWeight, topology.DivideByCapacity, topology.DivideByLocality}
	p := topology.Replicas{DivideBy: modes[rng.IntN(len(modes))]}
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

func describe(clusters []Cluster, p topology.Replicas) string {
	var b strings.Builder
	fmt.Fprintf(&b, "policy: total=%d divideBy=%q resource=%q near=%s weights=%v", p.Total, p.DivideBy, p.Resource, p.Near, p.Weights)
	if p.Min != nil {
		fmt.Fprintf(&b, " min=%d", *p.Min)
	}
	if p.Max != nil {
		fmt.Fprintf(&b, " max=%d", *p.Max)
	}
	for _, c := range clusters {
		fmt.Fprintf(&b, "\n  %s %s spare=%v unreachable=%q", c.Name, c.Region, c.Capacity, c.Unreachable)
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
	case p.DivideBy == topology.DivideByCapacity && len(unknown) > 0:
		sort.Strings(unknown)
		if !errors.As(err, &capErr) || !reflect.DeepEqual(capErr.Clusters, unknown) {
			t.Errorf("capacity unknown for %v: got error %v\n%s", unknown, err, desc)
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
	if sum != total {
		t.Errorf("replicas sum to %d, want %d\n%s\n%s", sum, placeable, desc, strings.Join(res.Explanation, "\n"))
	}

	if p.DivideBy == topology.DivideByLocality {
		checkLocality(t, desc, reachable, p, got, lo, hi, hasMax)
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
