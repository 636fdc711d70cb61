// Package desired computes what every member cluster should hold: the
// topology's workloads placed (package placement), rendered with kustomize
// (package render) and labelled as members of the topology's ApplySet, each
// with its applied-hash. It is pure and offline: render prints it, plan diffs
// it against the clusters, and apply sends exactly it.
package desired

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/geofed-io/kubectl-geofed/pkg/capacity"
	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/cost"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/render"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// Options says what to compute the desired state of.
type Options struct {
	Topology *topology.Topology
	// FS holds the workloads' kustomize apps; filesys.MakeFsOnDisk() when nil.
	FS filesys.FileSystem
	// Clusters are the member clusters as placement sees them, with
	// reachability filled in by the caller. Nil means every cluster of the
	// topology, all reachable.
	Clusters []placement.Cluster
	// Capacity is what each cluster offers, by cluster name, as observe
	// reads it: a workload with a replicas policy is counted on it, in
	// replicas of its own pod template that fit. A cluster missing here has
	// unknown capacity.
	Capacity map[string]*capacity.Cluster
	// WhatIf gives, by cluster name, the replicas that fit of every
	// workload, instead of counting them (render --capacity).
	WhatIf map[string]int64
	// Placed, when set, is every workload's placement as computed before
	// (the control plane's last placement of the whole fleet): workloads
	// are given these shares instead of being placed again, and Clusters
	// and Capacity are not read. A workload missing from it is an error.
	Placed []placement.Result
	// Only, when set, renders for these clusters only: the others are
	// listed with no objects and must not be planned from this state.
	Only []string
	// Prerendered holds what Prerender rendered of these sources, used
	// instead of running kustomize again; nil renders everything here.
	Prerendered *Prerendered
	// Prices price the GKE node pools: divideBy cost divides by them and
	// every division shows what its shares cost. Nil prices nothing.
	Prices *catalog.Prices
	// Data is where the data the workloads name (gs:// URLs) lives, as
	// package datasource reads it; a workload naming data missing here
	// is an error.
	Data map[string]placement.Data
}

// Prerendered is every overlay that some cluster of a topology chooses, of
// every workload, rendered, labelled and hashed before placement is known:
// plan renders while it connects to the clusters, so that kustomize's CPU
// overlaps the network's waits.
type Prerendered struct {
	workloads map[string]*overlays
}

// overlays are one workload's renderings by overlay directory, and the
// hashes of the objects labelled and hashed already.
type overlays struct {
	byOverlay map[string]render.Output
	hashed    map[*unstructured.Unstructured]string
}

func newOverlays() *overlays {
	return &overlays{byOverlay: map[string]render.Output{}, hashed: map[*unstructured.Unstructured]string{}}
}

// Prerender renders, for every workload, each overlay that a cluster it
// selects (of opts.Only, when set) would choose, once. It never fails:
// what it could not render is left for Compute, which reports it. A
// Prerendered serves one Compute of the same topology and sources.
func Prerender(opts Options) *Prerendered {
	t := opts.Topology
	fs := opts.FS
	if fs == nil {
		fs = filesys.MakeFsOnDisk()
	}
	partOf := inventory.ID(t.Metadata.Name)
	p := &Prerendered{workloads: map[string]*overlays{}}
	all := placement.ClustersOf(t)
	for _, w := range t.Spec.Workloads {
		ov := newOverlays()
		p.workloads[w.Name] = ov
		// The clusters the workload selects, reachable or not: an
		// overlay none of them chooses is not rendered.
		selected, err := placement.Select(w.Placement, all)
		if err != nil {
			continue
		}
		for _, c := range selected {
			if opts.Only != nil && !slices.Contains(opts.Only, c.Name) {
				continue
			}
			overlay, err := render.ChooseOverlay(fs, t.SourceDir(&w), c.Name, c.Region)
			if err != nil {
				continue
			}
			if _, ok := ov.byOverlay[overlay]; ok {
				continue
			}
			out, err := render.Workload(render.Options{
				FS:       fs,
				Topology: t.Metadata.Name,
				Workload: w.Name,
				Source:   t.SourceDir(&w),
				Cluster:  c.Name,
				Region:   c.Region,
			})
			if err != nil || out.Overlay != overlay {
				continue
			}
			for _, obj := range out.Objects {
				if hash, err := labelAndHash(obj, partOf); err == nil {
					ov.hashed[obj] = hash
				}
			}
			ov.byOverlay[overlay] = out
		}
	}
	return p
}

// overlaysOf is the workload's prerendered overlays, or none.
func (p *Prerendered) overlaysOf(workload string) *overlays {
	if p != nil && p.workloads[workload] != nil {
		return p.workloads[workload]
	}
	return newOverlays()
}

// State is what every member cluster should hold.
type State struct {
	Placements []placement.Result
	// Clusters lists every member cluster of the topology, sorted by region
	// then name, including those that receive nothing (so their leftovers
	// are pruned).
	Clusters []Cluster
}

// Cluster is what one cluster should hold, in apply order.
type Cluster struct {
	Name    string
	Region  string
	Objects []Object
}

// Object is one manifest, ready to apply: rendered, placed, labelled
// as an ApplySet member and carrying its applied-hash. Clusters that chose
// the same overlay of a workload and were given no replica share of their
// own hold the very same Object (64 clusters of 1,000 objects hold 1,000,
// not 64,000): it is read-only once Compute returns.
type Object struct {
	Workload string
	Overlay  string
	Hash     string
	Object   *unstructured.Unstructured
}

// Cluster returns the named cluster's desired state.
func (d *State) Cluster(name string) (*Cluster, bool) {
	for i := range d.Clusters {
		if d.Clusters[i].Name == name {
			return &d.Clusters[i], true
		}
	}
	return nil, false
}

// Compute places every workload and renders it for every cluster it
// lands on. It does no I/O beyond reading the kustomize apps.
func Compute(opts Options) (*State, error) {
	t := opts.Topology
	fs := opts.FS
	if fs == nil {
		fs = filesys.MakeFsOnDisk()
	}
	clusters := opts.Clusters
	if clusters == nil {
		clusters = placement.ClustersOf(t)
	}
	partOf := inventory.ID(t.Metadata.Name)

	byName := map[string]*Cluster{}
	d := &State{}
	for _, ref := range t.Clusters() {
		d.Clusters = append(d.Clusters, Cluster{Name: ref.Cluster.Name, Region: ref.Region})
	}
	sort.SliceStable(d.Clusters, func(i, j int) bool {
		if d.Clusters[i].Region != d.Clusters[j].Region {
			return d.Clusters[i].Region < d.Clusters[j].Region
		}
		return d.Clusters[i].Name < d.Clusters[j].Name
	})
	for i := range d.Clusters {
		byName[d.Clusters[i].Name] = &d.Clusters[i]
	}
	// owner[cluster][key] = workload, to catch two workloads rendering the
	// same object into one cluster.
	owner := map[string]map[string]string{}

	var errs []error
	for _, w := range t.Spec.Workloads {
		// Rendered once per cluster: a workload with a replicas policy
		// is rendered before it is placed, to count its pods on each
		// cluster, and given its share afterwards.
		rendered := map[string]render.Output{}
		// Clusters that choose the same overlay receive the same objects:
		// kustomize runs once per overlay, and every cluster shares what
		// it rendered; a cluster given a replica share gets a copy of its
		// own to set it in.
		// hashed holds the shared objects already labelled and hashed.
		// Both start with what Prerender did, if it ran.
		ov := opts.Prerendered.overlaysOf(w.Name)
		byOverlay, hashed := ov.byOverlay, ov.hashed
		renderFor := func(c, region string) (render.Output, error) {
			if out, ok := rendered[c]; ok {
				return out, nil
			}
			if overlay, err := render.ChooseOverlay(fs, t.SourceDir(&w), c, region); err == nil {
				if shared, ok := byOverlay[overlay]; ok {
					rendered[c] = shared
					return shared, nil
				}
			}
			out, err := render.Workload(render.Options{
				FS:       fs,
				Topology: t.Metadata.Name,
				Workload: w.Name,
				Source:   t.SourceDir(&w),
				Cluster:  c,
				Region:   region,
			})
			if err == nil {
				rendered[c] = out
				byOverlay[out.Overlay] = out
			}
			return out, err
		}
		res, err := place(w, clusters, opts, renderFor)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d.Placements = append(d.Placements, res)
		for _, share := range res.Shares {
			if share.Excluded != "" || (opts.Only != nil && !slices.Contains(opts.Only, share.Cluster)) {
				continue
			}
			dc := byName[share.Cluster]
			if dc == nil {
				errs = append(errs, fmt.Errorf("workload %q: placed on cluster %q, which is not in the topology", w.Name, share.Cluster))
				continue
			}
			out, err := renderFor(share.Cluster, share.Region)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if share.Replicas != nil {
				out = copyOutput(out)
				for _, obj := range out.Objects {
					if err := render.SetReplicas(obj, *share.Replicas); err != nil {
						errs = append(errs, fmt.Errorf("rendering workload %s for cluster %s: %s: %w", w.Name, share.Cluster, object.KeyOf(obj), err))
					}
				}
			}
			if owner[dc.Name] == nil {
				owner[dc.Name] = map[string]string{}
			}
			for _, obj := range out.Objects {
				key := object.KeyOf(obj)
				if other, dup := owner[dc.Name][key]; dup {
					errs = append(errs, fmt.Errorf("cluster %s: workloads %q and %q both render %s", dc.Name, other, w.Name, object.Describe(obj)))
					continue
				}
				owner[dc.Name][key] = w.Name
				hash, ok := hashed[obj]
				if !ok {
					var err error
					if hash, err = labelAndHash(obj, partOf); err != nil {
						errs = append(errs, fmt.Errorf("hashing %s for cluster %s: %w", object.Describe(obj), dc.Name, err))
						continue
					}
					hashed[obj] = hash
				}
				dc.Objects = append(dc.Objects, Object{Workload: w.Name, Overlay: out.Overlay, Hash: hash, Object: obj})
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for i := range d.Clusters {
		objs := d.Clusters[i].Objects
		sortObjects(objs)
	}
	return d, nil
}

// place is the workload's placement: the one given in opts.Placed, or
// computed over clusters, with their capacity when it divides replicas.
func place(w topology.Workload, clusters []placement.Cluster, opts Options, renderFor func(c, region string) (render.Output, error)) (placement.Result, error) {
	if opts.Placed != nil {
		i := slices.IndexFunc(opts.Placed, func(r placement.Result) bool { return r.Workload == w.Name })
		if i < 0 {
			return placement.Result{}, fmt.Errorf("workload %q: no placement was given for it", w.Name)
		}
		return opts.Placed[i], nil
	}
	placed := clusters
	if w.Placement.Replicas != nil {
		var err error
		if placed, err = withCapacity(w, clusters, opts, renderFor); err != nil {
			return placement.Result{}, err
		}
	}
	return placement.Place(w, placed, placement.Inputs{Data: opts.Data, Prices: opts.Prices})
}

// labelAndHash marks obj a member of the ApplySet partOf and annotates it
// with its applied-hash, which it returns.
func labelAndHash(obj *unstructured.Unstructured, partOf string) (string, error) {
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[object.LabelPartOf] = partOf
	obj.SetLabels(labels)
	hash, err := inventory.AppliedHash(obj)
	if err != nil {
		return "", err
	}
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[object.AnnotationAppliedHash] = hash
	obj.SetAnnotations(ann)
	return hash, nil
}

// copyOutput is a deep copy of a rendering.
func copyOutput(out render.Output) render.Output {
	c := render.Output{Overlay: out.Overlay, Objects: make([]*unstructured.Unstructured, len(out.Objects))}
	for i, obj := range out.Objects {
		c.Objects[i] = obj.DeepCopy()
	}
	return c
}

// sortObjects puts a cluster's objects in apply order (object.Sort's order:
// Namespaces and CRDs first), keeping each object's workload alongside.
func sortObjects(objs []Object) {
	list := make([]*unstructured.Unstructured, len(objs))
	index := make(map[*unstructured.Unstructured]Object, len(objs))
	for i, o := range objs {
		list[i] = o.Object
		index[o.Object] = o
	}
	object.Sort(list)
	for i, obj := range list {
		objs[i] = index[obj]
	}
}

// NeedsCapacity reports whether some workload has a replicas policy, the
// only reason plan reads the clusters' nodes and pods: capacity divides by
// the replicas that fit, and every division warns when a cluster gets more.
func NeedsCapacity(t *topology.Topology) bool {
	for _, w := range t.Spec.Workloads {
		if w.Placement.Replicas != nil {
			return true
		}
	}
	return false
}

// DividesByCapacity reports whether some workload's division needs the
// replicas that fit — divideBy capacity, divideBy cost (which fills the
// cheapest clusters up to what fits) and locality with spill: fit: then a
// cluster whose capacity cannot be read cannot be placed on.
func DividesByCapacity(t *topology.Topology) bool {
	for _, w := range t.Spec.Workloads {
		if r := w.Placement.Replicas; r != nil && (r.DivideBy == topology.DivideByCapacity ||
			r.DivideBy == topology.DivideByCost || r.Spill == topology.SpillFit) {
			return true
		}
	}
	return false
}

// withCapacity is clusters with the workload's capacity on each selected,
// reachable cluster whose capacity is known: the replicas of its pod
// template (as rendered for that cluster) that fit.
func withCapacity(w topology.Workload, clusters []placement.Cluster, opts Options, renderFor func(c, region string) (render.Output, error)) ([]placement.Cluster, error) {
	selected, err := placement.Select(w.Placement, clusters)
	if err != nil {
		return nil, fmt.Errorf("workload %q: %w", w.Name, err)
	}
	want := make(map[string]bool, len(selected))
	for _, c := range selected {
		want[c.Name] = c.Unreachable == ""
	}
	out := slices.Clone(clusters)
	var errs []error
	for i := range out {
		c := &out[i]
		if !want[c.Name] {
			continue
		}
		if n, ok := opts.WhatIf[c.Name]; ok {
			c.Capacity = &capacity.Estimate{Now: capacity.Fit{Replicas: n}}
			continue
		}
		in := opts.Capacity[c.Name]
		if in == nil {
			continue
		}
		if ref, ok := opts.Topology.Cluster(c.Name); ok {
			c.Prices = cost.NodePrices(opts.Prices, ref)
		}
		rendered, err := renderFor(c.Name, c.Region)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.Capacity, err = estimate(rendered.Objects, in)
		if err != nil {
			errs = append(errs, fmt.Errorf("counting the replicas of workload %s that fit on cluster %s: %w", w.Name, c.Name, err))
		}
	}
	return out, errors.Join(errs...)
}

// estimate counts the workload's replicas that fit on in. A replica is one
// pod of each scalable object (Deployment, StatefulSet, ReplicaSet, Job),
// each counted on its own and the fewest taken: objects with different
// templates compete for the same nodes, which this does not model. Nil
// when the workload makes no pods.
func estimate(objs []*unstructured.Unstructured, in *capacity.Cluster) (*capacity.Estimate, error) {
	var owners []capacity.Owner
	var specs []corev1.PodSpec
	for _, obj := range objs {
		if !render.Scalable(obj) {
			continue
		}
		raw, found, err := unstructured.NestedMap(obj.Object, "spec", "template", "spec")
		if err != nil || !found {
			return nil, fmt.Errorf("%s: no pod template: %v", object.Describe(obj), err)
		}
		var spec corev1.PodSpec
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &spec); err != nil {
			return nil, fmt.Errorf("%s: reading the pod template: %w", object.Describe(obj), err)
		}
		specs = append(specs, spec)
		ns := obj.GetNamespace()
		if ns == "" {
			ns = metav1.NamespaceDefault // where apply sends it
		}
		owners = append(owners, capacity.Owner{Kind: obj.GetKind(), Namespace: ns, Name: obj.GetName()})
	}
	if len(specs) == 0 {
		return nil, nil
	}
	own := capacity.OwnedBy(owners)
	var best *capacity.Estimate
	for _, spec := range specs {
		e := capacity.EstimateOf(capacity.TemplateOf(spec), *in, own)
		if best == nil || e.Most() < best.Most() {
			best = &e
		}
	}
	return best, nil
}
