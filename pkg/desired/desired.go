// Package desired computes what every member cluster should hold: the
// topology's workloads placed (package placement), rendered with kustomize
// (package render) and labelled as members of the topology's ApplySet, each
// with its applied-hash. It is pure and offline: render prints it, plan diffs
// it against the clusters, and apply sends exactly it.
package desired

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/filesys"

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
	// reachability and spare capacity filled in by the caller. Nil means
	// every cluster of the topology, all reachable, capacity unknown.
	Clusters []placement.Cluster
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
// as an ApplySet member and carrying its applied-hash.
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
		res, err := placement.Place(w, clusters)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d.Placements = append(d.Placements, res)
		for _, share := range res.Shares {
			if share.Excluded != "" {
				continue
			}
			dc := byName[share.Cluster]
			if dc == nil {
				errs = append(errs, fmt.Errorf("workload %q: placed on cluster %q, which is not in the topology", w.Name, share.Cluster))
				continue
			}
			out, err := render.Workload(render.Options{
				FS:       fs,
				Topology: t.Metadata.Name,
				Workload: w.Name,
				Source:   t.SourceDir(&w),
				Cluster:  share.Cluster,
				Region:   share.Region,
				Replicas: share.Replicas,
			})
			if err != nil {
				errs = append(errs, err)
				continue
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
				labels := obj.GetLabels()
				if labels == nil {
					labels = map[string]string{}
				}
				labels[object.LabelPartOf] = partOf
				obj.SetLabels(labels)
				hash, err := inventory.AppliedHash(obj)
				if err != nil {
					errs = append(errs, fmt.Errorf("hashing %s for cluster %s: %w", object.Describe(obj), dc.Name, err))
					continue
				}
				ann := obj.GetAnnotations()
				if ann == nil {
					ann = map[string]string{}
				}
				ann[object.AnnotationAppliedHash] = hash
				obj.SetAnnotations(ann)
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

// NeedsCapacity reports whether some workload divides by spare capacity, the
// only reason rendering needs to read the clusters.
func NeedsCapacity(t *topology.Topology) bool {
	return len(CapacityResources(t)) > 0
}

// CapacityResources lists the resources workloads divide by, sorted.
func CapacityResources(t *topology.Topology) []string {
	set := map[string]bool{}
	for _, w := range t.Spec.Workloads {
		if r := w.Placement.Replicas; r != nil && r.DivideBy == topology.DivideByCapacity {
			res := r.Resource
			if res == "" {
				res = placement.DefaultResource
			}
			set[res] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// WhatIf sets, for every cluster named in spare, n as its spare capacity of
// every resource some workload divides by (render --capacity), so a what-if
// figure need not name the resource.
func WhatIf(t *topology.Topology, clusters []placement.Cluster, spare map[string]int64) {
	resources := CapacityResources(t)
	for i := range clusters {
		n, ok := spare[clusters[i].Name]
		if !ok {
			continue
		}
		clusters[i].Spare = map[string]int64{}
		for _, res := range resources {
			clusters[i].Spare[res] = n
		}
	}
}
