package topology

import (
	"maps"
	"slices"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func (v *validator) workloads(t *Topology, path *field.Path) {
	first := map[string]*field.Path{}
	for i := range t.Spec.Workloads {
		w := &t.Spec.Workloads[i]
		wp := path.Index(i)
		v.dnsLabel(wp.Child("name"), w.Name)
		if f, dup := first[w.Name]; dup && w.Name != "" {
			v.errorf(wp.Child("name"), "duplicate workload %q (first at line %d)", w.Name, v.line(f))
		} else {
			first[w.Name] = wp.Child("name")
		}
		switch dir := t.SourceDir(w); {
		case w.Source == "":
			v.errorf(wp.Child("source"), "required: the workload's kustomize directory, relative to the topology file")
		case !v.isDir(dir):
			v.errorf(wp.Child("source"), "no directory %s (sources are relative to the topology file)", dir)
		}
		v.placement(t, &w.Placement, wp.Child("placement"))
	}
}

func (v *validator) placement(t *Topology, p *Placement, path *field.Path) {
	if p.ClusterSelector != nil && p.Clusters != nil {
		v.errorf(path, "set clusterSelector or clusters, not both")
	} else if p.ClusterSelector != nil {
		v.selector(t, p, path.Child("clusterSelector"))
	}
	if p.Clusters != nil {
		v.clusterList(t, p.Clusters, path.Child("clusters"))
	}
	if p.Replicas != nil {
		v.replicas(t, p.Replicas, path.Child("replicas"))
	}
	seen := map[string]bool{}
	for i, url := range p.Data {
		switch msg := checkDataURL(url); {
		case msg != "":
			v.errorf(path.Child("data").Index(i), "%s", msg)
		case seen[url]:
			v.errorf(path.Child("data").Index(i), "duplicate %q", url)
		}
		seen[url] = true
	}
}

// selector checks a label selector and that it selects something: a
// workload that goes nowhere is almost always a typo in a label.
func (v *validator) selector(t *Topology, p *Placement, path *field.Path) {
	if errs := metav1validation.ValidateLabelSelector(p.ClusterSelector, metav1validation.LabelSelectorValidationOptions{}, path); len(errs) > 0 {
		for _, e := range errs {
			v.errorf(field.NewPath(e.Field), "%s", e.ErrorBody())
		}
		return
	}
	sel, err := metav1.LabelSelectorAsSelector(p.ClusterSelector)
	if err != nil {
		v.errorf(path, "parsing clusterSelector: %v", err)
		return
	}
	selects, ok := v.selects[sel.String()]
	if !ok {
		if selects, ok = v.selectsSome(t, sel); !ok {
			v.errorf(path, "cannot check that it selects a cluster: this file's selectors and clusters take more than %d checks", maxSelectorChecks)
			return
		}
		v.selects[sel.String()] = selects
	}
	if !selects {
		v.errorf(path, "selects no cluster")
	}
}

// maxSelectorChecks bounds the selector-by-cluster matches one file may
// cost: each selector is tried against clusters until one matches, so
// selectors that match nothing, or only the last clusters, cost the
// product of the two. Selectors written the same way are checked once.
const maxSelectorChecks = 200_000

// selectsSome reports whether sel matches a cluster of t, and false for
// ok once the file has spent maxSelectorChecks.
func (v *validator) selectsSome(t *Topology, sel labels.Selector) (selects, ok bool) {
	if v.clusterLabels == nil {
		v.clusterLabels = []labels.Set{}
		for _, ref := range t.Clusters() {
			v.clusterLabels = append(v.clusterLabels, ref.Labels())
		}
	}
	for _, set := range v.clusterLabels {
		if v.selectorChecks == maxSelectorChecks {
			return false, false
		}
		v.selectorChecks++
		if sel.Matches(set) {
			return true, true
		}
	}
	return false, true
}

func (v *validator) clusterList(t *Topology, names []string, path *field.Path) {
	if len(names) == 0 {
		v.errorf(path, "names no cluster; leave it out to select every cluster")
	}
	all := clusterNames(t)
	known := make(map[string]bool, len(all))
	for _, name := range all {
		known[name] = true
	}
	seen := map[string]bool{}
	for i, name := range names {
		switch {
		case name == "":
			v.errorf(path.Index(i), "required")
		case seen[name]:
			v.errorf(path.Index(i), "duplicate cluster %q", name)
		case !known[name]:
			v.errorf(path.Index(i), "unknown cluster %q%s", name, v.errs.didYouMean(name, all))
		}
		seen[name] = true
	}
}

// replicas checks the division policy. Whether the total fits between the
// selected clusters' min and max is left to placement, which knows which
// clusters are reachable and explains what it does.
func (v *validator) replicas(t *Topology, r *Replicas, path *field.Path) {
	if r.Total < 0 {
		v.errorf(path.Child("total"), "must be >= 0, got %d", r.Total)
	}
	policies := []string{string(DivideByWeight), string(DivideByCapacity), string(DivideByLocality), string(DivideByCost)}
	if r.DivideBy != "" && !slices.Contains(policies, string(r.DivideBy)) {
		v.errorf(path.Child("divideBy"), "unknown policy %q%s: want weight, capacity, locality or cost",
			r.DivideBy, v.errs.didYouMean(string(r.DivideBy), policies))
	}
	switch {
	case IsDataURL(r.Near):
		if msg := checkDataURL(r.Near); msg != "" {
			v.errorf(path.Child("near"), "%s", msg)
		}
	case r.Near != "":
		if _, ok := catalog.LookupRegion(r.Near); !ok {
			v.errorf(path.Child("near"), "unknown region %q%s", r.Near, v.errs.didYouMean(r.Near, catalog.RegionNames()))
		}
	case r.DivideBy == DivideByLocality:
		v.errorf(path.Child("near"), "required for divideBy: locality")
	}
	figures := []string{string(CapacityCurrent), string(CapacityScaleUp)}
	switch {
	case r.Capacity != "" && !slices.Contains(figures, string(r.Capacity)):
		v.errorf(path.Child("capacity"), "unknown figure %q%s: want current or scaleUp",
			r.Capacity, v.errs.didYouMean(string(r.Capacity), figures))
	case r.Capacity != "" && r.DivideBy != DivideByCapacity:
		v.errorf(path.Child("capacity"), "only divideBy: capacity divides by a capacity figure (divideBy is %s)", orWeight(r.DivideBy))
	}
	spills := []string{string(SpillMax), string(SpillFit)}
	switch {
	case r.Spill != "" && !slices.Contains(spills, string(r.Spill)):
		v.errorf(path.Child("spill"), "unknown %q%s: want max or fit", r.Spill, v.errs.didYouMean(string(r.Spill), spills))
	case r.Spill != "" && r.DivideBy != DivideByLocality:
		v.errorf(path.Child("spill"), "only divideBy: locality spills to the next nearest cluster (divideBy is %s)", orWeight(r.DivideBy))
	}
	switch {
	case r.MaxCostPerHour != nil && !(*r.MaxCostPerHour > 0):
		v.errorf(path.Child("maxCostPerHour"), "must be > 0, got %v", *r.MaxCostPerHour)
	case r.MaxCostPerHour != nil && r.DivideBy != DivideByCost:
		v.errorf(path.Child("maxCostPerHour"), "only divideBy: cost places by price (divideBy is %s)", orWeight(r.DivideBy))
	}
	if r.Resource != "" {
		for _, msg := range validation.IsQualifiedName(r.Resource) {
			v.errorf(path.Child("resource"), "invalid resource name %q: %s", r.Resource, msg)
		}
	}
	v.weights(t, r.Weights, path.Child("weights"))
	if r.Min != nil && *r.Min < 0 {
		v.errorf(path.Child("min"), "must be >= 0, got %d", *r.Min)
	}
	if r.Max != nil && *r.Max < 0 {
		v.errorf(path.Child("max"), "must be >= 0, got %d", *r.Max)
	} else if r.Min != nil && r.Max != nil && *r.Min > *r.Max {
		v.errorf(path.Child("max"), "must be >= min (%d), got %d", *r.Min, *r.Max)
	}
}

func orWeight(d DivideBy) DivideBy {
	if d == "" {
		return DivideByWeight
	}
	return d
}

// weights keys name regions or clusters of this file; a key naming neither
// would silently weigh nothing.
func (v *validator) weights(t *Topology, weights map[string]int32, path *field.Path) {
	if len(weights) == 0 {
		return
	}
	var names []string
	for _, r := range t.Spec.Regions {
		names = append(names, r.Name)
	}
	names = append(names, clusterNames(t)...)
	known := make(map[string]bool, len(names))
	for _, name := range names {
		known[name] = true
	}
	for _, k := range slices.Sorted(maps.Keys(weights)) {
		if !known[k] {
			v.errorf(path.Key(k), "%q is neither a region nor a cluster of this topology%s", k, v.errs.didYouMean(k, names))
		}
		if weights[k] < 0 {
			v.errorf(path.Key(k), "must be >= 0, got %d", weights[k])
		}
	}
}

func clusterNames(t *Topology) []string {
	var out []string
	for _, ref := range t.Clusters() {
		out = append(out, ref.Cluster.Name)
	}
	return out
}
