package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

// PruneLimit is how many deletions the prune guard lets through: a plan
// that deletes more than Count objects AND more than Percent % of what
// geofed owns (on a cluster, or across the fleet) is held. Written as
// "50%,10" (both), "50%" (a share alone) or "10" (a count alone).
type PruneLimit struct {
	// Percent of what geofed owns, 0-100; 0 means any share.
	Percent int
	// Count of objects; 0 means any number.
	Count int
}

// DefaultMaxPrune is --max-prune's default: more than half of what geofed
// owns on a cluster, and more than 10 objects.
var DefaultMaxPrune = PruneLimit{Percent: 50, Count: 10}

// DefaultMaxPruneFleet is --max-prune-fleet's default: the fleet as a
// whole is held to the rule one cluster is. It catches what no single
// cluster shows: many small clusters (10 objects or fewer each, under any
// cluster's count) emptied at once.
var DefaultMaxPruneFleet = PruneLimit{Percent: 50, Count: 10}

// ParsePruneLimit reads "50%,10", "50%" or "10".
func ParsePruneLimit(s string) (PruneLimit, error) {
	var l PruneLimit
	bad := func(why string) (PruneLimit, error) {
		return PruneLimit{}, fmt.Errorf("%q: %s (write a share of what geofed owns, a count, or both: 50%%, 10, 50%%,10)", s, why)
	}
	parts := strings.Split(strings.TrimSpace(s), ",")
	if len(parts) > 2 {
		return bad("more than a share and a count")
	}
	var sawPercent, sawCount bool
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if pct, ok := strings.CutSuffix(p, "%"); ok {
			n, err := strconv.Atoi(pct)
			if err != nil || n < 0 || n > 100 {
				return bad(fmt.Sprintf("%q is not a share from 0%% to 100%%", p))
			}
			if sawPercent {
				return bad("two shares")
			}
			sawPercent, l.Percent = true, n
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return bad(fmt.Sprintf("%q is neither a share nor a count of objects", p))
		}
		if sawCount {
			return bad("two counts")
		}
		sawCount, l.Count = true, n
	}
	return l, nil
}

// String writes the limit as ParsePruneLimit reads it.
func (l PruneLimit) String() string {
	switch {
	case l.Percent > 0 && l.Count > 0:
		return fmt.Sprintf("%d%%,%d", l.Percent, l.Count)
	case l.Percent > 0:
		return fmt.Sprintf("%d%%", l.Percent)
	}
	return strconv.Itoa(l.Count)
}

// exceeded reports whether deleting of owned passes the limit.
func (l PruneLimit) exceeded(deleting, owned int) bool {
	return deleting > l.Count && deleting*100 > l.Percent*owned
}

// AllowAll in GuardOptions.Allow lets every cluster's deletions through.
const AllowAll = "all"

// GuardOptions are the prune guard's limits and what a person allowed.
type GuardOptions struct {
	// MaxPrune is the per-cluster limit (--max-prune); DefaultMaxPrune
	// when nil.
	MaxPrune *PruneLimit
	// MaxPruneFleet is the limit across every cluster
	// (--max-prune-fleet); DefaultMaxPruneFleet when nil.
	MaxPruneFleet *PruneLimit
	// Allow names the clusters whose guarded deletions apply makes
	// anyway (--allow-prune), or AllowAll.
	Allow []string
}

func (o GuardOptions) limits() (cluster, fleet PruneLimit) {
	cluster, fleet = DefaultMaxPrune, DefaultMaxPruneFleet
	if o.MaxPrune != nil {
		cluster = *o.MaxPrune
	}
	if o.MaxPruneFleet != nil {
		fleet = *o.MaxPruneFleet
	}
	return cluster, fleet
}

func (o GuardOptions) allows(cluster string) bool {
	return slices.Contains(o.Allow, AllowAll) || slices.Contains(o.Allow, cluster)
}

// validate refuses an allow list naming a cluster the topology lacks: a
// typo there would leave the guard on where the person meant it off, or
// worse, read as allowing a cluster nobody reviewed.
func (o GuardOptions) validate(clusters []string) error {
	var errs []error
	for _, name := range o.Allow {
		if name != AllowAll && !slices.Contains(clusters, name) {
			errs = append(errs, fmt.Errorf("--allow-prune: the topology has no cluster %q (clusters: %s)", name, strings.Join(clusters, ", ")))
		}
	}
	return errors.Join(errs...)
}

// PruneGuard is the blast-radius guard as the plan was computed: its
// limits, what was allowed, and the fleet's totals. A saved plan carries
// it, and applying the saved plan honours exactly it.
type PruneGuard struct {
	// MaxPrune is the per-cluster limit, as --max-prune reads it.
	MaxPrune string `json:"maxPrune"`
	// MaxPruneFleet is the limit across the fleet, as --max-prune-fleet
	// reads it.
	MaxPruneFleet string `json:"maxPruneFleet"`
	// AllowPrune names the clusters whose guarded deletions apply makes
	// anyway (--allow-prune), or "all".
	AllowPrune []string `json:"allowPrune,omitempty"`
	// Deleting is the fleet's total of planned deletions, on the clusters
	// planned in full.
	Deleting int `json:"deleting"`
	// Owned is the fleet's total of objects geofed's inventories record
	// live, on the same clusters.
	Owned int `json:"owned"`
	// Fleet says the fleet's deletions pass MaxPruneFleet: every cluster
	// with deletions is guarded.
	Fleet bool `json:"fleet,omitempty"`
}

// Options returns the guard options that compute this guard again: what
// applying a saved plan uses.
func (g *PruneGuard) Options() (GuardOptions, error) {
	if g == nil {
		return GuardOptions{}, nil
	}
	cluster, err := ParsePruneLimit(g.MaxPrune)
	if err != nil {
		return GuardOptions{}, fmt.Errorf("maxPrune %w", err)
	}
	fleet, err := ParsePruneLimit(g.MaxPruneFleet)
	if err != nil {
		return GuardOptions{}, fmt.Errorf("maxPruneFleet %w", err)
	}
	return GuardOptions{MaxPrune: &cluster, MaxPruneFleet: &fleet, Allow: g.AllowPrune}, nil
}

// ClusterGuard says why the guard holds a cluster's deletions.
type ClusterGuard struct {
	// Deleting is how many objects the plan deletes on the cluster.
	Deleting int `json:"deleting"`
	// Owned is how many objects geofed's inventory records live there.
	Owned int `json:"owned"`
	// Reasons say why, one per rule that holds: a workload still in the
	// topology taken off the cluster entirely (naming it, and why), the
	// cluster's limit, the fleet's.
	Reasons []string `json:"reasons"`
	// Allowed says --allow-prune named the cluster (or all): apply
	// deletes as planned. Otherwise apply makes every other change there,
	// deletes nothing, and exits 1.
	Allowed bool `json:"allowed,omitempty"`
}

// Held reports whether apply withholds the cluster's deletions.
func (g *ClusterGuard) Held() bool { return g != nil && !g.Allowed }

// PruneCount is what the guard weighs on one cluster.
type PruneCount struct {
	Cluster string
	// Owned counts the objects geofed's inventory records live there.
	Owned int
	// Deleting counts the planned deletions by the workload they carry
	// ("" for none).
	Deleting map[string]int
	// Keeping counts, by workload, the objects the cluster holds once the
	// plan is applied.
	Keeping map[string]int
	// Workloads are the topology's workloads, each with why none of it
	// lands on the cluster now ("no longer selects it: …"): consulted when
	// the plan deletes every object of one there.
	Workloads map[string]string
}

// GuardPrunes decides, for every cluster, whether the prune guard holds its
// deletions: when they pass the cluster's limit, when they take every
// object of a workload still in the topology off the cluster (a label typo
// that drops it from a selector, an overlay that renders nothing), or when
// the fleet's deletions pass the fleet's limit. It returns the guard of
// each held cluster, by name, and the fleet's totals.
func GuardPrunes(counts []PruneCount, o GuardOptions) (map[string]*ClusterGuard, *PruneGuard) {
	clusterLimit, fleetLimit := o.limits()
	fleet := &PruneGuard{MaxPrune: clusterLimit.String(), MaxPruneFleet: fleetLimit.String(), AllowPrune: o.Allow}
	deleting := map[string]int{}
	for _, c := range counts {
		for _, n := range c.Deleting {
			deleting[c.Cluster] += n
		}
		fleet.Deleting += deleting[c.Cluster]
		fleet.Owned += c.Owned
	}
	fleet.Fleet = fleetLimit.exceeded(fleet.Deleting, fleet.Owned)

	out := map[string]*ClusterGuard{}
	for _, c := range counts {
		n := deleting[c.Cluster]
		if n == 0 {
			continue
		}
		var reasons []string
		for _, w := range sortedKeys(c.Deleting) {
			why, inTopology := c.Workloads[w]
			if w != "" && inTopology && c.Keeping[w] == 0 {
				reasons = append(reasons, "workload "+w+" "+why)
			}
		}
		if clusterLimit.exceeded(n, c.Owned) {
			reasons = append(reasons, "past --max-prune="+clusterLimit.String())
		}
		if fleet.Fleet {
			reasons = append(reasons, fmt.Sprintf("the fleet would lose %d of %d objects geofed applied, past --max-prune-fleet=%s",
				fleet.Deleting, fleet.Owned, fleetLimit.String()))
		}
		if len(reasons) == 0 {
			continue
		}
		out[c.Cluster] = &ClusterGuard{Deleting: n, Owned: c.Owned, Reasons: reasons, Allowed: o.allows(c.Cluster)}
	}
	return out, fleet
}

// GuardLine is how plans show a guarded cluster: "serving-us would lose
// 412 of 430 objects geofed applied (workload model-server no longer
// selects it: …)", and what apply does about it.
func GuardLine(cluster string, g *ClusterGuard) string {
	line := fmt.Sprintf("prune guard: %s would lose %d of %d objects geofed applied (%s)",
		cluster, g.Deleting, g.Owned, strings.Join(g.Reasons, "; "))
	if g.Allowed {
		return line + ": allowed by --allow-prune, apply deletes them"
	}
	return line + ": apply deletes nothing there without --allow-prune=" + cluster
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// HeldID names what the prune guard holds in this plan: a digest of every
// held deletion (cluster, object, UID), "" when nothing is held. An
// approval records it, so it never carries over to another plan: a
// deletion more or less, or an object re-created since, is another ID.
func HeldID(p *Plan) string {
	var lines []string
	for _, r := range p.Regions {
		for _, c := range r.Clusters {
			if !c.PruneGuard.Held() {
				continue
			}
			for _, o := range c.Objects {
				if o.Action == object.ActionDelete {
					lines = append(lines, c.Name+" "+o.Key()+" "+o.UID)
				}
			}
		}
	}
	if len(lines) == 0 {
		return ""
	}
	slices.Sort(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return "prune-" + hex.EncodeToString(sum[:6])
}

// AllowPrune lets the guarded deletions of the named clusters (or all,
// AllowAll) through, as --allow-prune would have: what an approval of the
// plan's HeldID does.
func (p *Plan) AllowPrune(clusters []string) {
	o := GuardOptions{Allow: clusters}
	for ri := range p.Regions {
		for ci := range p.Regions[ri].Clusters {
			if g := p.Regions[ri].Clusters[ci].PruneGuard; g != nil && o.allows(p.Regions[ri].Clusters[ci].Name) {
				g.Allowed = true
			}
		}
	}
	if p.PruneGuard != nil {
		p.PruneGuard.AllowPrune = append(p.PruneGuard.AllowPrune, clusters...)
	}
	p.Summary = summarize(p)
}
