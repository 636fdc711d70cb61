package topology

import (
	"slices"
	"strings"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// gkeCluster checks a managed cluster's desired state.
func (v *validator) gkeCluster(t *Topology, g *GKECluster, region string, regionKnown bool, path *field.Path) {
	if g.Project == "" && (t.Spec.GKE == nil || t.Spec.GKE.Project == "") {
		v.errorf(path.Child("project"), "required: set it here or in spec.gke.project")
	}
	// Where the pools' nodes go, for the accelerator rules: the zone, or the
	// region of a regional cluster; "" when that is itself an error.
	nodeLocation := ""
	switch {
	case !regionKnown:
	case g.Location == "":
		nodeLocation = region
	case v.location(path.Child("location"), g.Location, region):
		nodeLocation = g.Location
	}
	if g.ReleaseChannel != "" {
		v.releaseChannel(path.Child("releaseChannel"), g.ReleaseChannel)
	}
	if len(g.NodePools) == 0 {
		v.errorf(path.Child("nodePools"), "required: a managed cluster needs at least one node pool")
	}
	first := map[string]*field.Path{}
	for i := range g.NodePools {
		np := &g.NodePools[i]
		pp := path.Child("nodePools").Index(i)
		v.dnsLabel(pp.Child("name"), np.Name)
		v.gkeName(pp.Child("name"), np.Name)
		if f, dup := first[np.Name]; dup && np.Name != "" {
			v.errorf(pp.Child("name"), "duplicate node pool %q (first at line %d)", np.Name, v.line(f))
		} else {
			first[np.Name] = pp.Child("name")
		}
		v.nodePool(np, nodeLocation, pp)
	}
}

// location accepts the region itself (a regional cluster) or one of its
// zones (a zonal one), and reports whether it did.
func (v *validator) location(path *field.Path, loc, region string) bool {
	r, _ := catalog.LookupRegion(region)
	if loc == region || slices.Contains(r.Zones, loc) {
		return true
	}
	choices := append([]string{region}, r.Zones...)
	want := "want the region or one of its zones: " + strings.Join(choices, ", ")
	if other, ok := catalog.RegionOfZone(loc); ok {
		v.errorf(path, "zone %q is in region %q, not %q; %s", loc, other, region, want)
		return false
	}
	if _, ok := catalog.LookupRegion(loc); ok {
		v.errorf(path, "%q is another region; %s", loc, want)
		return false
	}
	v.errorf(path, "unknown location %q%s; %s", loc, v.errs.didYouMean(loc, choices), want)
	return false
}

// nodePool checks one node pool whose nodes go to location (a zone, a
// region, or "" when unknown). The accelerator entries are checked for form
// here and against GCP's rules by the catalogue, which the GKE emulator uses
// too; an entry already wrong in form is not reported again.
func (v *validator) nodePool(np *NodePool, location string, path *field.Path) {
	_, machineKnown := catalog.LookupMachine(np.MachineType)
	switch {
	case np.MachineType == "":
		v.errorf(path.Child("machineType"), "required")
	case !machineKnown:
		v.errorf(path.Child("machineType"), "unknown machine type %q%s",
			np.MachineType, v.errs.didYouMean(np.MachineType, catalog.MachineNames()))
	}
	if np.NodeCount != nil && *np.NodeCount < 0 {
		v.errorf(path.Child("nodeCount"), "must be >= 0, got %d", *np.NodeCount)
	}
	if a := np.Autoscaling; a != nil {
		ap := path.Child("autoscaling")
		if a.MinNodes < 0 {
			v.errorf(ap.Child("minNodes"), "must be >= 0, got %d", a.MinNodes)
		}
		if a.MaxNodes <= 0 {
			v.errorf(ap.Child("maxNodes"), "must be > 0, got %d", a.MaxNodes)
		} else if a.MinNodes > a.MaxNodes {
			v.errorf(ap.Child("minNodes"), "must be <= maxNodes (%d), got %d", a.MaxNodes, a.MinNodes)
		}
	}
	first := map[string]*field.Path{}
	configs := make([]catalog.AcceleratorConfig, len(np.Accelerators))
	badType := make([]bool, len(np.Accelerators))  // reported here already
	badCount := make([]bool, len(np.Accelerators)) // likewise
	for i, acc := range np.Accelerators {
		configs[i] = catalog.AcceleratorConfig{Type: acc.Type, Count: acc.Count}
		ap := path.Child("accelerators").Index(i)
		tp := ap.Child("type")
		_, known := catalog.LookupAccelerator(acc.Type)
		badType[i] = true
		switch {
		case acc.Type == "":
			v.errorf(tp, "required")
		case !known:
			v.errorf(tp, "unknown accelerator type %q%s",
				acc.Type, v.errs.didYouMean(acc.Type, catalog.AcceleratorNames()))
		case first[acc.Type] != nil:
			v.errorf(tp, "duplicate accelerator type %q (first at line %d)", acc.Type, v.line(first[acc.Type]))
		default:
			first[acc.Type] = tp
			badType[i] = false
		}
		if acc.Count <= 0 {
			v.errorf(ap.Child("count"), "must be > 0, got %d", acc.Count)
			badCount[i] = true
		}
	}
	for _, e := range catalog.AsAcceleratorErrors(catalog.CheckAccelerators(np.MachineType, location, configs)) {
		// GKE's sentences end in a period; these messages do not.
		msg := strings.TrimSuffix(e.Error(), ".")
		switch {
		case e.Index < 0:
			v.errorf(path.Child(e.Field), "%s", msg)
		case badType[e.Index] || (e.Field == "count" && badCount[e.Index]):
		default:
			v.errorf(path.Child("accelerators").Index(e.Index).Child(e.Field), "%s", msg)
		}
	}
}
