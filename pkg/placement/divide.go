package placement

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// Divide divides policy.Total replicas among the selected clusters as the
// policy says (DESIGN §2), and explains how. Unreachable clusters are
// excluded and the total is divided among the others, with a warning.
// The Result does not depend on the order of clusters; its Workload is left
// for the caller (Place) to fill in.
//
// weight and capacity give each cluster a share proportional to its weight
// (its own entry in weights, else its region's, else 1) or to the replicas
// of the workload that fit on it (now, or after its autoscaling node pools
// have grown: policy.Capacity). Shares are computed exactly, as fractions, so
// ties are real ties and the result is the same on every machine. A share
// outside [min, max] is clamped and the cluster removed; the rest of the
// total is divided again among the others, until nothing is clamped. Each
// round clamps the violators of one side only — the side whose total
// violation is larger (both when equal): clamping to max frees replicas for
// the others, which can only raise their shares, so a cluster that is over
// max now stays over it; symmetrically for min. Clamping both sides at once
// could pin a cluster to a bound that the final division no longer
// pushes it to. The exact shares are then rounded by largest remainder, ties
// going to the cluster whose name sorts first; rounding keeps every share
// within [min, max] because the bounds are integers.
//
// Clusters weighing 0 get nothing while the others can take the total; when
// every cluster still being divided among weighs 0 (every weight is 0, or
// the others are all clamped to max), what is left is divided equally among
// them. Dividing equally, rather than refusing, keeps a fleet with no room
// anywhere placeable; the explanation and a warning say so.
//
// Whatever the policy, a cluster given more replicas than fit on it even
// after scale-up (when its capacity is known) gets a warning saying how
// many would stay Pending, and the explanation shows, per cluster, the
// nodes counted and the replicas that fit.
//
// locality gives every cluster min, then fills the clusters nearest to near
// first, each up to max (no max: the nearest takes everything), ties by
// name. Distances are great-circle kilometres between the regions'
// locations, rounded to whole kilometres: clusters in the same region tie,
// and the order shown is the order used.
//
// With spill fit, locality fills each cluster, nearest first, only up to
// what fits on it after scale-up (and to max), then the next; replicas that
// fit nowhere go out nearest first up to max, warned about as overfill.
//
// cost fills the clusters where one replica costs least per hour first,
// each up to what fits after scale-up and to max, in the same way; ties by
// distance to near (when given), then name. What a replica costs on a
// cluster is its cheapest node pool where one fits: the node's price (spot
// or on demand, as the pool is) over the replicas that fit on one node. A
// cluster with no priced pool, or a pool a replica fits on without a
// price, is an error naming it. maxCostPerHour stops the filling at the
// first replica that would bring the placement over it; the rest is not
// placed, with a warning.
//
// A total that cannot be divided within the bounds (min × clusters above
// it, max × clusters below it) is an error, never a division with another
// sum — except when unreachable clusters are what leave too little room:
// then the reachable ones are filled to max and a warning says how many
// replicas cannot be placed until the others are back. A cluster that gets 0 keeps its objects at 0 replicas (warm standby).
//
// Divide knows regions only: a near that names data (gs://) needs the
// data's location, which Place is given.
func Divide(clusters []Cluster, policy topology.Replicas) (Result, error) {
	if topology.IsDataURL(policy.Near) {
		return Result{}, fmt.Errorf("replicas.near: %s: the bucket's location was not read", policy.Near)
	}
	return divide(clusters, policy, nearPoint{label: policy.Near, regions: []string{policy.Near}})
}

// divide is Divide with near resolved: a region, or where data is.
func divide(clusters []Cluster, policy topology.Replicas, near nearPoint) (Result, error) {
	mode := policy.DivideBy
	if mode == "" {
		mode = topology.DivideByWeight
	}
	if err := checkPolicy(policy, mode); err != nil {
		return Result{}, err
	}
	selected, err := sortedClusters(clusters)
	if err != nil {
		return Result{}, err
	}

	d := &division{total: int64(policy.Total)}
	if policy.Min != nil {
		d.min = int64(*policy.Min)
	}
	if policy.Max != nil {
		d.max, d.hasMax = int64(*policy.Max), true
	}
	res := Result{Mode: string(mode), Total: ptr(policy.Total), Min: copyPtr(policy.Min), Max: copyPtr(policy.Max)}

	excluded := 0
	for _, c := range selected {
		if c.Unreachable != "" {
			excluded++
			d.explain = append(d.explain, fmt.Sprintf("%s excluded: unreachable (%s)", c.Name, c.Unreachable))
			d.warnings = append(d.warnings, fmt.Sprintf("cluster %s unreachable (%s): excluded, its share redistributed", c.Name, c.Unreachable))
			continue
		}
		d.parts = append(d.parts, &part{Cluster: c})
	}
	if err := d.feasible(excluded); err != nil {
		return Result{}, err
	}

	var header string
	switch mode {
	case topology.DivideByWeight:
		d.weigh(policy.Weights, selected)
		d.divideProportionally("every weight is 0", "weight 0")
		header = d.header("weight", d.parts, weightInput)
	case topology.DivideByCapacity:
		res.Resource = policy.Resource
		if res.Resource == "" {
			res.Resource = DefaultResource
		}
		scaleUp := policy.Capacity != topology.CapacityCurrent
		res.Capacity = string(topology.CapacityScaleUp)
		figure := "replicas that fit after scale-up"
		if !scaleUp {
			res.Capacity, figure = string(topology.CapacityCurrent), "replicas that fit now"
		}
		if err := d.measureFit(res.Resource, scaleUp); err != nil {
			return Result{}, err
		}
		d.divideProportionally("no replica fits on any cluster", "no replica fits")
		header = d.header(figure, d.parts, weightInput)
	case topology.DivideByLocality:
		res.Near = policy.Near
		if err := d.measureDistance(near); err != nil {
			return Result{}, err
		}
		res.Spill = string(topology.SpillMax)
		if policy.Spill == topology.SpillFit {
			res.Spill = string(topology.SpillFit)
			if err := d.needFit(); err != nil {
				return Result{}, err
			}
			d.fillInOrder(d.byDistance(), "nearest", nil)
		} else {
			d.fillNearestFirst()
		}
		by := "locality near " + near.label
		if res.Spill == string(topology.SpillFit) {
			by += ", each up to what fits"
		}
		// Listed nearest first: the order the replicas were handed out.
		header = d.header(by, d.byDistance(), distanceInput)
	case topology.DivideByCost:
		res.Near = policy.Near
		res.MaxCostPerHour = copyPtr(policy.MaxCostPerHour)
		if policy.Near != "" {
			if err := d.measureDistance(near); err != nil {
				return Result{}, err
			}
		}
		if err := d.measurePrices(); err != nil {
			return Result{}, err
		}
		order := d.byPrice()
		d.explain = append(d.explain, d.priceLines(order)...)
		d.fillInOrder(order, "cheapest", policy.MaxCostPerHour)
		by := "cost per replica"
		if policy.Near != "" {
			by += ", ties by distance to " + near.label
		}
		header = d.header(by, order, costInput(policy.Near != ""))
	}
	if err := d.check(); err != nil {
		return Result{}, err
	}

	res.Explanation = append([]string{header}, d.explain...)
	if standby := d.standby(); standby != "" {
		res.Explanation = append(res.Explanation, standby)
	}
	res.Explanation = append(res.Explanation, d.fits()...)
	if total := d.costShares(); total != nil {
		res.USDPerHour = total
		res.Explanation = append(res.Explanation, "cost: "+d.costLine(*total))
	}
	resource := policy.Resource
	if resource == "" {
		resource = DefaultResource
	}
	res.Warnings = append(d.warnings, d.overfilled(resource)...)
	res.Shares = d.shares(selected, mode, policy.Near != "")
	return res, nil
}

// checkPolicy rejects policies no division can honour. Topology validation
// reports these with file and line first; this keeps Divide safe on its own.
func checkPolicy(p topology.Replicas, mode topology.DivideBy) error {
	switch mode {
	case topology.DivideByWeight, topology.DivideByCapacity, topology.DivideByLocality, topology.DivideByCost:
	default:
		return fmt.Errorf("replicas.divideBy: unknown %q (want weight, capacity, locality or cost)", mode)
	}
	if p.MaxCostPerHour != nil && !(*p.MaxCostPerHour > 0) {
		return fmt.Errorf("replicas.maxCostPerHour must be > 0, got %v", *p.MaxCostPerHour)
	}
	if p.Total < 0 {
		return fmt.Errorf("replicas.total is negative (%d)", p.Total)
	}
	if p.Min != nil && *p.Min < 0 {
		return fmt.Errorf("replicas.min is negative (%d)", *p.Min)
	}
	if p.Max != nil && *p.Max < 0 {
		return fmt.Errorf("replicas.max is negative (%d)", *p.Max)
	}
	if p.Min != nil && p.Max != nil && *p.Min > *p.Max {
		return fmt.Errorf("replicas.min %d exceeds replicas.max %d", *p.Min, *p.Max)
	}
	if mode == topology.DivideByWeight {
		for _, k := range slices.Sorted(maps.Keys(p.Weights)) {
			if p.Weights[k] < 0 {
				return fmt.Errorf("replicas.weights[%s] is negative (%d)", k, p.Weights[k])
			}
		}
	}
	if mode == topology.DivideByLocality && p.Near == "" {
		return errors.New("replicas.near: divideBy locality needs the region to fill from")
	}
	// A gs:// near's location was read, not named: Place checked it.
	if p.Near != "" && !topology.IsDataURL(p.Near) && (mode == topology.DivideByLocality || mode == topology.DivideByCost) {
		if _, ok := catalog.LookupRegion(p.Near); !ok {
			msg := fmt.Sprintf("replicas.near: unknown region %q", p.Near)
			if s := catalog.Suggest(p.Near, catalog.RegionNames()); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return errors.New(msg)
		}
	}
	return nil
}

// division is one Divide in progress.
type division struct {
	total, min, max int64
	hasMax          bool
	// parts are the reachable selected clusters, by region then name.
	parts    []*part
	explain  []string // lines after the header, in the order things happened
	warnings []string
}

// part is one reachable cluster being divided to.
type part struct {
	Cluster
	weight   *big.Int // weight, or the replicas that fit
	km       float64  // distance to near, whole km
	share    *big.Rat // exact share, before rounding
	replicas int64
	clamped  string
	// slots are the cluster's priced pools, cheapest per replica first,
	// and perReplica the first one's price (cost mode).
	slots      []slot
	perReplica float64
	// usd and perReplicaUSD are what the share costs per hour and one
	// replica on it, when known.
	usd, perReplicaUSD *float64
}

func (d *division) feasible(excluded int) error {
	n := int64(len(d.parts))
	unreachable := ""
	if excluded > 0 {
		unreachable = fmt.Sprintf(" (%d more selected but unreachable)", excluded)
	}
	all := n + int64(excluded)
	switch {
	case n*d.min > d.total:
		return fmt.Errorf("cannot divide %d replicas among %d clusters%s: min %d each needs %d",
			d.total, n, unreachable, d.min, n*d.min)
	case d.hasMax && all*d.max < d.total:
		return fmt.Errorf("cannot divide %d replicas among %d clusters: max %d each holds only %d",
			d.total, all, d.max, all*d.max)
	}
	// The policy holds with every selected cluster; only the exclusions
	// leave too little room. Place what fits and say what does not, rather
	// than fail the whole plan because one region is down.
	placeable := d.total
	if n == 0 {
		placeable = 0
	} else if d.hasMax && n*d.max < d.total {
		placeable = n * d.max
	}
	if placeable < d.total {
		short := d.total - placeable
		msg := fmt.Sprintf("%d of %d replicas cannot be placed while %d selected clusters are unreachable", short, d.total, excluded)
		if n > 0 {
			msg += fmt.Sprintf(" (max %d each on the %d reachable)", d.max, n)
		}
		d.explain = append(d.explain, msg)
		d.warnings = append(d.warnings, msg)
		d.total = placeable
	}
	return nil
}

// weigh gives each cluster its own weights entry, else its region's, else 1,
// and warns about entries that name nothing selected (a typo would
// otherwise silently weigh 1).
func (d *division) weigh(weights map[string]int32, selected []Cluster) {
	for _, p := range d.parts {
		w, ok := weights[p.Name]
		if !ok {
			w, ok = weights[p.Region]
		}
		if !ok {
			w = 1
		}
		p.weight = big.NewInt(int64(w))
	}
	known := make(map[string]bool, 2*len(selected))
	for _, c := range selected {
		known[c.Name], known[c.Region] = true, true
	}
	for _, k := range slices.Sorted(maps.Keys(weights)) {
		if !known[k] {
			d.warnings = append(d.warnings, fmt.Sprintf("weights entry %q names no selected cluster or region: ignored", k))
		}
	}
}

// measureFit weighs each cluster by the replicas that fit on it, after
// scale-up or now.
func (d *division) measureFit(resource string, scaleUp bool) error {
	var unknown []string
	for _, p := range d.parts {
		if p.Capacity == nil {
			unknown = append(unknown, p.Name)
			continue
		}
		p.weight = big.NewInt(max(p.Capacity.Replicas(scaleUp), 0))
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return &CapacityUnknownError{Resource: resource, Clusters: unknown}
	}
	return nil
}

// fits explains, per cluster whose capacity is known, the nodes counted and
// the replicas that fit.
func (d *division) fits() []string {
	var out []string
	for _, p := range d.parts {
		if e := p.Capacity; e != nil {
			out = append(out, fmt.Sprintf("%s: %s · %s", p.Name, e.Now.Counted(), e.Figures()))
		}
	}
	return out
}

// overfilled warns, whatever the policy, for every cluster given more
// replicas than fit on it even after scale-up: those would stay Pending.
func (d *division) overfilled(resource string) []string {
	var out []string
	for _, p := range d.parts {
		if p.Capacity == nil {
			continue
		}
		if w := p.Capacity.Overfill(p.replicas, corev1.ResourceName(resource)); w != "" {
			out = append(out, p.Name+": "+w)
		}
	}
	return out
}

// needFit is measureFit's check alone: spill fit fills up to what fits, so
// every cluster's must be known.
func (d *division) needFit() error {
	var unknown []string
	for _, p := range d.parts {
		if p.Capacity == nil {
			unknown = append(unknown, p.Name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return &CapacityUnknownError{Clusters: unknown}
	}
	return nil
}

func (d *division) measureDistance(near nearPoint) error {
	for _, p := range d.parts {
		km, _, ok := near.distanceKm(p.Region)
		if !ok {
			return fmt.Errorf("cluster %s: unknown region %q, so its distance to %s is unknown", p.Name, p.Region, near.label)
		}
		p.km = math.Round(km)
	}
	return nil
}

// divideProportionally sets every part's exact share, then rounds. allZero
// says why every weight is 0, zeroNote why some are.
func (d *division) divideProportionally(allZero, zeroNote string) {
	if d.total > 0 && len(d.parts) > 0 && sumWeights(d.parts).Sign() == 0 {
		d.explain = append(d.explain, allZero+": divided equally")
		d.warnings = append(d.warnings, allZero+": replicas divided equally")
	}
	minR := new(big.Rat).SetInt64(d.min)
	maxR := new(big.Rat).SetInt64(d.max)
	free := append([]*part(nil), d.parts...)
	remaining := big.NewInt(d.total)
	for round := 0; len(free) > 0; round++ {
		shares, equal := shareOut(remaining, free)
		if equal && round > 0 && remaining.Sign() > 0 {
			d.explain = append(d.explain, fmt.Sprintf("%s left after clamping, divided equally among %s (%s)",
				remaining, joinNames(names(free)), zeroNote))
		}
		over, under := new(big.Rat), new(big.Rat)
		for _, s := range shares {
			if d.hasMax && s.Cmp(maxR) > 0 {
				over.Add(over, new(big.Rat).Sub(s, maxR))
			}
			if s.Cmp(minR) < 0 {
				under.Add(under, new(big.Rat).Sub(minR, s))
			}
		}
		if over.Sign() == 0 && under.Sign() == 0 {
			for i, p := range free {
				p.share = shares[i]
			}
			break
		}
		clampMax, clampMin := over.Cmp(under) >= 0, under.Cmp(over) >= 0
		var next []*part
		for i, p := range free {
			s := shares[i]
			switch {
			case clampMax && d.hasMax && s.Cmp(maxR) > 0:
				p.share, p.clamped = maxR, "max"
				remaining.Sub(remaining, big.NewInt(d.max))
				d.explain = append(d.explain, fmt.Sprintf("%s: share %s clamped to max %d", p.Name, formatRat(s), d.max))
			case clampMin && s.Cmp(minR) < 0:
				p.share, p.clamped = minR, "min"
				remaining.Sub(remaining, big.NewInt(d.min))
				d.explain = append(d.explain, fmt.Sprintf("%s: share %s clamped to min %d", p.Name, formatRat(s), d.min))
			default:
				next = append(next, p)
			}
		}
		free = next
	}
	d.roundLargestRemainder()
}

// shareOut divides remaining among free in proportion to their weights, or
// equally (equal=true) when they all weigh 0.
func shareOut(remaining *big.Int, free []*part) (shares []*big.Rat, equal bool) {
	w := sumWeights(free)
	shares = make([]*big.Rat, len(free))
	if w.Sign() == 0 {
		for i := range free {
			shares[i] = new(big.Rat).SetFrac(remaining, big.NewInt(int64(len(free))))
		}
		return shares, true
	}
	for i, p := range free {
		shares[i] = new(big.Rat).SetFrac(new(big.Int).Mul(remaining, p.weight), w)
	}
	return shares, false
}

func sumWeights(parts []*part) *big.Int {
	sum := new(big.Int)
	for _, p := range parts {
		sum.Add(sum, p.weight)
	}
	return sum
}

// roundLargestRemainder turns exact shares into replicas: every cluster gets
// its share rounded down, and the replicas this leaves over go one each to
// the largest fractional remainders, ties to the name that sorts first.
func (d *division) roundLargestRemainder() {
	type candidate struct {
		p   *part
		rem *big.Rat
	}
	var cands []candidate
	placed := int64(0)
	for _, p := range d.parts {
		floor := new(big.Int).Quo(p.share.Num(), p.share.Denom())
		p.replicas = floor.Int64()
		placed += p.replicas
		if rem := new(big.Rat).Sub(p.share, new(big.Rat).SetInt(floor)); rem.Sign() > 0 {
			cands = append(cands, candidate{p, rem})
		}
	}
	if len(cands) == 0 {
		return
	}
	sort.Slice(cands, func(i, j int) bool {
		if c := cands[i].rem.Cmp(cands[j].rem); c != 0 {
			return c > 0
		}
		return cands[i].p.Name < cands[j].p.Name
	})
	// The exact shares sum to the total and each remainder is below 1, so
	// fewer replicas are left over than there are candidates.
	left := int(d.total - placed)
	var up []string
	for _, c := range cands[:left] {
		c.p.replicas++
		up = append(up, c.p.Name)
	}
	exact := make([]string, len(d.parts))
	for i, p := range d.parts {
		exact[i] = fmt.Sprintf("%s %s", p.Name, formatRat(p.share))
	}
	line := fmt.Sprintf("before rounding: %s; largest remainders round up: %s", strings.Join(exact, ", "), joinNames(up))
	if last := cands[left-1].rem; cands[left].rem.Cmp(last) == 0 {
		var lost []string
		for _, c := range cands[left:] {
			if c.rem.Cmp(last) == 0 {
				lost = append(lost, c.p.Name)
			}
		}
		line += fmt.Sprintf(" (tied with %s: first by name)", joinNames(lost))
	}
	d.explain = append(d.explain, line)
}

// fillNearestFirst gives every cluster min, then the rest to the nearest
// clusters first, each up to max.
func (d *division) fillNearestFirst() {
	left := d.total - int64(len(d.parts))*d.min
	switch {
	case d.min > 0 && left > 0:
		d.explain = append(d.explain, fmt.Sprintf("each cluster first gets min %d; the remaining %d go to the nearest first", d.min, left))
	case d.min > 0 && len(d.parts) > 0:
		d.explain = append(d.explain, fmt.Sprintf("each cluster gets min %d, which places all %d", d.min, d.total))
	}
	for _, p := range d.byDistance() {
		give := left
		if d.hasMax {
			give = min(give, d.max-d.min)
		}
		p.replicas = d.min + give
		left -= give
		if d.hasMax && p.replicas == d.max && left > 0 {
			p.clamped = "max"
			d.explain = append(d.explain, fmt.Sprintf("%s: filled to max %d", p.Name, d.max))
		}
	}
}

// byDistance orders parts nearest first, ties by name.
func (d *division) byDistance() []*part {
	out := append([]*part(nil), d.parts...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].km != out[j].km {
			return out[i].km < out[j].km
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// check is the contract every division keeps, verified rather than assumed:
// replicas go out to the wrong clusters otherwise.
func (d *division) check() error {
	sum := int64(0)
	for _, p := range d.parts {
		if p.replicas < d.min || (d.hasMax && p.replicas > d.max) {
			return fmt.Errorf("internal error: %s got %d replicas, outside [%d, %d]", p.Name, p.replicas, d.min, d.max)
		}
		sum += p.replicas
	}
	if sum != d.total {
		return fmt.Errorf("internal error: divided %d replicas, not the total %d", sum, d.total)
	}
	return nil
}

// shares lays the division out for every selected cluster, in region then
// name order.
func (d *division) shares(selected []Cluster, mode topology.DivideBy, hasNear bool) []Share {
	byName := make(map[string]*part, len(d.parts))
	for _, p := range d.parts {
		byName[p.Name] = p
	}
	out := make([]Share, 0, len(selected))
	for _, c := range selected {
		s := Share{Cluster: c.Name, Region: c.Region}
		p, ok := byName[c.Name]
		if !ok {
			s.Excluded = excludedReason(c)
			out = append(out, s)
			continue
		}
		s.Replicas = ptr(int32(p.replicas))
		s.Clamped = p.clamped
		s.Fit = p.Capacity
		s.USDPerHour, s.USDPerReplicaHour = p.usd, p.perReplicaUSD
		switch {
		case mode == topology.DivideByLocality || (mode == topology.DivideByCost && hasNear):
			s.DistanceKm = ptr(p.km)
		case p.weight != nil:
			s.Weight = ptr(float64(p.weight.Int64()))
		}
		out = append(out, s)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	return ptr(*p)
}
