package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
)

// origins names price lists in a few words: "built-in 2026-12-07, rates.txt 2027-01-15".
func origins(list []catalog.Origin) string {
	if len(list) == 0 {
		return "no price list"
	}
	parts := make([]string, len(list))
	for i, o := range list {
		parts[i] = o.File + " " + o.Date
	}
	return strings.Join(parts, ", ")
}

// StaleError lists what changed between a saved plan and the same plan
// computed now.
type StaleError struct {
	Changes []string
}

func (e *StaleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the saved plan is stale, %d change(s) since it was made:", len(e.Changes))
	for _, c := range e.Changes {
		b.WriteString("\n  " + c)
	}
	b.WriteString("\nplan again, review, and apply the new plan")
	return b.String()
}

// Stale compares a saved plan with a fresh one computed from the same
// topology file, and returns a *StaleError naming every difference that
// makes the saved plan unsafe to apply: the sources (topology file,
// manifests) changed, a live object changed (its resourceVersion moved) or
// would now get another action, a cluster's inventory changed (another apply
// ran), a GKE cluster changed, a cluster became unreachable, or the plan
// was priced by other price lists than apply was given.
func Stale(saved, fresh *Plan) error {
	var changes []string
	add := func(format string, args ...any) { changes = append(changes, fmt.Sprintf(format, args...)) }

	if saved.Topology != fresh.Topology {
		add("topology: the plan is for %q, the file now names %q", saved.Topology, fresh.Topology)
	}
	// A plan priced by other lists may place otherwise (divideBy: cost):
	// apply must be given the --price-catalog plan was.
	if len(saved.Prices) > 0 && !slices.Equal(saved.Prices, fresh.Prices) {
		add("prices: the plan was priced by %s, apply by %s (give apply the same --price-catalog)", origins(saved.Prices), origins(fresh.Prices))
	}
	if saved.SourceDigest != fresh.SourceDigest {
		add("sources: the topology file or the workloads' manifests changed (digest %s → %s)", short(saved.SourceDigest), short(fresh.SourceDigest))
	}

	savedClusters, freshClusters := clustersByName(saved), clustersByName(fresh)
	for _, name := range unionKeys(savedClusters, freshClusters) {
		s, inSaved := savedClusters[name]
		f, inFresh := freshClusters[name]
		switch {
		case !inFresh:
			add("cluster %s: in the plan, no longer in the topology", name)
			continue
		case !inSaved:
			add("cluster %s: in the topology, not in the plan", name)
			continue
		}
		if f.Unreachable != "" && s.Unreachable == "" {
			add("cluster %s: unreachable now: %s", name, f.Unreachable)
			continue
		}
		if f.Error != "" && s.Error == "" {
			add("cluster %s: cannot be planned now: %s", name, f.Error)
			continue
		}
		if s.InventoryVersion != f.InventoryVersion {
			add("cluster %s: geofed's inventory changed (resourceVersion %s → %s): another apply ran since", name, orNone(s.InventoryVersion), orNone(f.InventoryVersion))
		}
		if sj, fj := canonical(s.GKE), canonical(f.GKE); sj != fj {
			add("cluster %s: the GKE cluster changed: planned %s, now %s", name, gkeAction(s), gkeAction(f))
		}
		changes = append(changes, staleObjects(name, s.Objects, f.Objects)...)
	}
	if len(changes) == 0 {
		return nil
	}
	return &StaleError{Changes: changes}
}

func staleObjects(cluster string, saved, fresh []Object) []string {
	key := Object.Key
	s, f := map[string]Object{}, map[string]Object{}
	for _, o := range saved {
		s[key(o)] = o
	}
	for _, o := range fresh {
		f[key(o)] = o
	}
	var out []string
	for _, k := range unionKeys(s, f) {
		so, inSaved := s[k]
		fo, inFresh := f[k]
		switch {
		case !inFresh:
			out = append(out, fmt.Sprintf("cluster %s: %s: in the plan (%s), not now", cluster, so.String(), so.Action))
		case !inSaved:
			out = append(out, fmt.Sprintf("cluster %s: %s: not in the plan, now %s", cluster, fo.String(), fo.Action))
		case so.LiveResourceVersion != fo.LiveResourceVersion:
			out = append(out, fmt.Sprintf("cluster %s: %s changed live since the plan was made (resourceVersion %s → %s)",
				cluster, fo.String(), orNone(so.LiveResourceVersion), orNone(fo.LiveResourceVersion)))
		case so.Action != fo.Action:
			out = append(out, fmt.Sprintf("cluster %s: %s: the plan would %s it, now %s", cluster, fo.String(), so.Action, fo.Action))
		case so.DesiredHash != fo.DesiredHash:
			out = append(out, fmt.Sprintf("cluster %s: %s renders differently now", cluster, fo.String()))
		}
	}
	return out
}

func clustersByName(p *Plan) map[string]Cluster {
	out := map[string]Cluster{}
	for _, r := range p.Regions {
		for _, c := range r.Clusters {
			out[c.Name] = c
		}
	}
	return out
}

// canonical is a GKE change as JSON, so a change read back from a saved plan
// compares equal to the same change computed now.
func canonical(v any) string {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return buf.String()
}

func gkeAction(c Cluster) string {
	if c.GKE == nil {
		return "no change"
	}
	a := string(c.GKE.Action)
	if len(c.GKE.Reasons) > 0 {
		a += " (" + strings.Join(c.GKE.Reasons, "; ") + ")"
	}
	return a
}

func short(digest string) string {
	d := strings.TrimPrefix(digest, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return orNone(d)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func unionKeys[V any](a, b map[string]V) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]V{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}
