package plan

import (
	"errors"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/render"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// DesiredOptions says what to compute the desired state of.
type DesiredOptions struct {
	Topology *topology.Topology
	// FS holds the workloads' kustomize apps; filesys.MakeFsOnDisk() when nil.
	FS filesys.FileSystem
	// Clusters are the member clusters as placement sees them, with
	// reachability and spare capacity filled in by the caller. Nil means
	// every cluster of the topology, all reachable, capacity unknown.
	Clusters []placement.Cluster
}

// Desired is what every member cluster should hold.
type Desired struct {
	Placements []placement.Result
	// Clusters lists every member cluster of the topology, sorted by region
	// then name, including those that receive nothing (so their leftovers
	// are pruned).
	Clusters []DesiredCluster
}

// DesiredCluster is what one cluster should hold, in apply order.
type DesiredCluster struct {
	Name    string
	Region  string
	Objects []DesiredObject
}

// DesiredObject is one manifest, ready to apply: rendered, placed, labelled
// as an ApplySet member and carrying its applied-hash.
type DesiredObject struct {
	Workload string
	Overlay  string
	Hash     string
	Object   *unstructured.Unstructured
}

// Cluster returns the named cluster's desired state.
func (d *Desired) Cluster(name string) (*DesiredCluster, bool) {
	for i := range d.Clusters {
		if d.Clusters[i].Name == name {
			return &d.Clusters[i], true
		}
	}
	return nil, false
}

// ComputeDesired places every workload and renders it for every cluster it
// lands on. It does no I/O beyond reading the kustomize apps.
func ComputeDesired(opts DesiredOptions) (*Desired, error) {
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

	byName := map[string]*DesiredCluster{}
	d := &Desired{}
	for _, ref := range t.Clusters() {
		d.Clusters = append(d.Clusters, DesiredCluster{Name: ref.Cluster.Name, Region: ref.Region})
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
				key := render.Key(obj)
				if other, dup := owner[dc.Name][key]; dup {
					errs = append(errs, fmt.Errorf("cluster %s: workloads %q and %q both render %s", dc.Name, other, w.Name, describe(obj)))
					continue
				}
				owner[dc.Name][key] = w.Name
				labels := obj.GetLabels()
				if labels == nil {
					labels = map[string]string{}
				}
				labels[inventory.LabelPartOf] = partOf
				obj.SetLabels(labels)
				hash, err := inventory.AppliedHash(obj)
				if err != nil {
					errs = append(errs, fmt.Errorf("hashing %s for cluster %s: %w", describe(obj), dc.Name, err))
					continue
				}
				ann := obj.GetAnnotations()
				if ann == nil {
					ann = map[string]string{}
				}
				ann[inventory.AnnotationAppliedHash] = hash
				obj.SetAnnotations(ann)
				dc.Objects = append(dc.Objects, DesiredObject{Workload: w.Name, Overlay: out.Overlay, Hash: hash, Object: obj})
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

// sortObjects puts a cluster's objects in apply order (render.Sort's order:
// Namespaces and CRDs first), keeping each object's workload alongside.
func sortObjects(objs []DesiredObject) {
	list := make([]*unstructured.Unstructured, len(objs))
	index := make(map[*unstructured.Unstructured]DesiredObject, len(objs))
	for i, o := range objs {
		list[i] = o.Object
		index[o.Object] = o
	}
	render.Sort(list)
	for i, obj := range list {
		objs[i] = index[obj]
	}
}

// describe names an object the way errors and plans do: Kind ns/name.
func describe(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return obj.GetKind() + " " + ns + "/" + obj.GetName()
	}
	return obj.GetKind() + " " + obj.GetName()
}
