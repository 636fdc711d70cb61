package topology

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validator collects every problem of one decoded topology, placing each on
// the line its field was written on.
type validator struct {
	file  string
	lines positions
	isDir func(string) bool
	errs  *problems
	// For the selector checks: every cluster's labels, implicit ones
	// included, made once; what each selector (as printed) was found to
	// select; how many matches were tried.
	clusterLabels  []labels.Set
	selects        map[string]bool
	selectorChecks int
}

// validate checks a decoded, not yet defaulted, topology: errors then point
// at what the user wrote, and the rules for omitted fields are spelled out
// here once rather than inferred from defaults.
//
// It returns the selector-by-cluster matches it tried.
func (o Options) validate(t *Topology, lines positions, errs *problems) (selectorChecks int) {
	v := &validator{file: t.Path, lines: lines, isDir: o.IsDir, errs: errs, selects: map[string]bool{}}
	if v.isDir == nil {
		v.isDir = func(path string) bool {
			fi, err := os.Stat(path)
			return err == nil && fi.IsDir()
		}
	}
	v.dnsLabel(field.NewPath("metadata", "name"), t.Metadata.Name)
	spec := field.NewPath("spec")
	if g := t.Spec.GKE; g != nil && g.ReleaseChannel != "" {
		v.releaseChannel(spec.Child("gke", "releaseChannel"), g.ReleaseChannel)
	}
	v.regions(t, spec.Child("regions"))
	v.sameClusters(t)
	v.workloads(t, spec.Child("workloads"))
	return v.selectorChecks
}

func (v *validator) errorf(path *field.Path, format string, args ...any) {
	p := pathString(path)
	v.errs.add(&FieldError{File: v.file, Line: v.lines.line(p), Path: p, Msg: fmt.Sprintf(format, args...)})
}

// line is where path was written, for "first at line N" messages.
func (v *validator) line(path *field.Path) int { return v.lines.line(pathString(path)) }

// dnsLabel requires name to be a DNS-1123 label, as Kubernetes object
// names and label values built from it must be.
func (v *validator) dnsLabel(path *field.Path, name string) {
	if name == "" {
		v.errorf(path, "required")
		return
	}
	for _, msg := range validation.IsDNS1123Label(name) {
		v.errorf(path, "invalid name %q: %s", name, msg)
	}
}

// gkeNameRE is GKE's rule for cluster and node pool names.
var gkeNameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$`)

// gkeName holds managed cluster and node pool names to GKE's rule, which is
// stricter than DNS-1123, so the mistake shows in plan, not mid-apply.
func (v *validator) gkeName(path *field.Path, name string) {
	if name != "" && !gkeNameRE.MatchString(name) && len(validation.IsDNS1123Label(name)) == 0 {
		v.errorf(path, "invalid GKE name %q: must start with a letter and be at most 40 characters", name)
	}
}

func (v *validator) releaseChannel(path *field.Path, channel string) {
	channels := []string{"RAPID", "REGULAR", "STABLE", "UNSPECIFIED"}
	if !slices.Contains(channels, channel) {
		v.errorf(path, "unknown release channel %q%s: want RAPID, REGULAR, STABLE or UNSPECIFIED",
			channel, v.errs.didYouMean(channel, channels))
	}
}

// regionName checks a GCP region name and reports whether it is known.
func (v *validator) regionName(path *field.Path, name string) bool {
	if name == "" {
		v.errorf(path, "required")
		return false
	}
	if _, ok := catalog.LookupRegion(name); !ok {
		v.errorf(path, "unknown region %q%s", name, v.errs.didYouMean(name, catalog.RegionNames()))
		return false
	}
	return true
}

func (v *validator) regions(t *Topology, path *field.Path) {
	firstRegion := map[string]*field.Path{}
	type seen struct {
		region string
		path   *field.Path
	}
	firstCluster := map[string]seen{}
	for i := range t.Spec.Regions {
		r := &t.Spec.Regions[i]
		rp := path.Index(i)
		known := v.regionName(rp.Child("name"), r.Name)
		if first, dup := firstRegion[r.Name]; dup && r.Name != "" {
			v.errorf(rp.Child("name"), "duplicate region %q (first at line %d)", r.Name, v.line(first))
		} else {
			firstRegion[r.Name] = rp.Child("name")
		}
		for j := range r.Clusters {
			c := &r.Clusters[j]
			cp := rp.Child("clusters").Index(j)
			if first, dup := firstCluster[c.Name]; dup && c.Name != "" {
				if first.region == r.Name {
					v.errorf(cp.Child("name"), "duplicate cluster %q (first at line %d)", c.Name, v.line(first.path))
				} else {
					v.errorf(cp.Child("name"), "cluster %q is also in region %q (line %d)", c.Name, first.region, v.line(first.path))
				}
			} else {
				firstCluster[c.Name] = seen{region: r.Name, path: cp.Child("name")}
			}
			v.cluster(t, c, r.Name, known, cp)
		}
	}
}

// sameClusters rejects two joined clusters that name the same context of
// the same kubeconfig file: that is one cluster twice, and each entry would
// apply its own share there and prune the other's. The error is on the
// second, naming the first. Managed clusters need no such check here: their
// GKE name is the cluster's name, which is unique in the file, and the
// location is the region or one of its zones, so the same project, location
// and name is already a duplicate cluster name.
func (v *validator) sameClusters(t *Topology) {
	type kubeContext struct{ file, name string }
	type seen struct {
		cluster string
		line    int
	}
	first := map[kubeContext]seen{}
	for i := range t.Spec.Regions {
		for j := range t.Spec.Regions[i].Clusters {
			c := &t.Spec.Regions[i].Clusters[j]
			k := c.Kubeconfig
			if k == nil || c.GKE != nil || k.Context == "" {
				continue // managed, or already an error
			}
			cp := clusterPath(i, j)
			id := kubeContext{file: t.kubeconfigFile(k), name: k.Context}
			if f, dup := first[id]; dup {
				v.errorf(cp.Child("kubeconfig", "context"), "context %q is already used by cluster %s (%s): the same cluster twice in one topology",
					k.Context, f.cluster, place(v.file, f.line))
				continue
			}
			// A nameless cluster is already an error and could not be
			// named in this one.
			if c.Name != "" {
				first[id] = seen{cluster: c.Name, line: v.line(cp.Child("name"))}
			}
		}
	}
}

// cluster checks one member cluster; regionKnown says whether its region
// is in the catalogue, without which its zones cannot be checked.
func (v *validator) cluster(t *Topology, c *Cluster, region string, regionKnown bool, path *field.Path) {
	v.dnsLabel(path.Child("name"), c.Name)
	v.labels(path.Child("labels"), c.Labels)
	switch {
	case c.GKE != nil && c.Kubeconfig != nil:
		v.errorf(path, "set one of gke (a managed cluster) or kubeconfig (a joined cluster), not both")
	case c.GKE == nil && c.Kubeconfig == nil:
		v.errorf(path, "set one of gke (a managed cluster) or kubeconfig (a joined cluster)")
	case c.Kubeconfig != nil:
		if c.Kubeconfig.Context == "" {
			v.errorf(path.Child("kubeconfig", "context"), "required")
		}
	default:
		v.gkeName(path.Child("name"), c.Name)
		v.gkeCluster(t, c.GKE, region, regionKnown, path.Child("gke"))
	}
}

// labels checks user labels as Kubernetes would, and keeps the implicit
// labels implicit: a user value would be silently overridden.
func (v *validator) labels(path *field.Path, labels map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		kp := path.Key(k)
		switch k {
		case LabelRegion:
			v.errorf(kp, "reserved: geofed sets it to the cluster's region")
			continue
		case LabelCluster:
			v.errorf(kp, "reserved: geofed sets it to the cluster's name")
			continue
		}
		for _, msg := range validation.IsQualifiedName(k) {
			v.errorf(kp, "invalid label key %q: %s", k, msg)
		}
		for _, msg := range validation.IsValidLabelValue(labels[k]) {
			v.errorf(kp, "invalid label value %q: %s", labels[k], msg)
		}
	}
}
