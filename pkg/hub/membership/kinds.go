package membership

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/render"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// Kinds are the kinds of object the engine applies to a member.
type Kinds struct {
	// GroupKinds are sorted by group, then kind.
	GroupKinds []schema.GroupKind
	// Defined maps the kinds of the CRDs among the objects to the
	// resources they serve: a member cannot map a custom resource whose
	// CRD the first apply creates.
	Defined map[schema.GroupKind]schema.GroupResource
	// Applied are the kinds geofed's inventory on the member says it
	// applied and the topology may no longer render: prune must still be
	// able to delete them. Sorted as GroupKinds.
	Applied []schema.GroupKind
}

// WithApplied adds the kinds of what inv records as applied.
func (k Kinds) WithApplied(inv *inventory.Inventory) Kinds {
	seen := map[schema.GroupKind]bool{}
	for _, gk := range k.Applied {
		seen[gk] = true
	}
	for _, e := range inv.Entries {
		seen[schema.GroupKind{Group: e.Group, Kind: e.Kind}] = true
	}
	k.Applied = slices.SortedFunc(maps.Keys(seen), compareGroupKinds)
	return k
}

func compareGroupKinds(a, b schema.GroupKind) int {
	return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Kind, b.Kind))
}

// TopologyKinds lists the kinds the topology's workloads render for the
// named cluster: those of every workload whose placement selects it,
// whatever its share (shares move with capacity and failover; the kinds a
// cluster may receive do not). It does no I/O beyond reading the kustomize
// apps from fs, the disk when nil.
func TopologyKinds(t *topology.Topology, fs filesys.FileSystem, cluster string) (Kinds, error) {
	if fs == nil {
		fs = filesys.MakeFsOnDisk()
	}
	ref, ok := t.Cluster(cluster)
	if !ok {
		return Kinds{}, fmt.Errorf("cluster %q is not in topology %s", cluster, t.Metadata.Name)
	}
	clusters := placement.ClustersOf(t)
	var objs []*unstructured.Unstructured
	for _, w := range t.Spec.Workloads {
		selected, err := placement.Select(w.Placement, clusters)
		if err != nil {
			return Kinds{}, fmt.Errorf("workload %s: %w", w.Name, err)
		}
		if !slices.ContainsFunc(selected, func(c placement.Cluster) bool { return c.Name == cluster }) {
			continue
		}
		out, err := render.Workload(render.Options{
			FS:       fs,
			Topology: t.Metadata.Name,
			Workload: w.Name,
			Source:   t.SourceDir(&w),
			Cluster:  cluster,
			Region:   ref.Region,
		})
		if err != nil {
			return Kinds{}, err
		}
		objs = append(objs, out.Objects...)
	}
	return KindsOf(objs), nil
}

// PlannedKinds lists the kinds of the objects a plan's desired state holds
// for the cluster; false when it has no such cluster.
func PlannedKinds(d *desired.State, cluster string) (Kinds, bool) {
	dc, ok := d.Cluster(cluster)
	if !ok {
		return Kinds{}, false
	}
	objs := make([]*unstructured.Unstructured, len(dc.Objects))
	for i, o := range dc.Objects {
		objs[i] = o.Object
	}
	return KindsOf(objs), true
}

// KindsOf lists the kinds of rendered objects: a plan's desired objects
// for a member, or what TopologyKinds renders.
func KindsOf(objs []*unstructured.Unstructured) Kinds {
	seen := map[schema.GroupKind]bool{}
	k := Kinds{Defined: map[schema.GroupKind]schema.GroupResource{}}
	for _, obj := range objs {
		gk := obj.GroupVersionKind().GroupKind()
		seen[gk] = true
		if object.IsCRD(gk.Group, gk.Kind) {
			if crdKind, gr, ok := crdServes(obj); ok {
				k.Defined[crdKind] = gr
			}
		}
	}
	k.GroupKinds = slices.SortedFunc(maps.Keys(seen), compareGroupKinds)
	return k
}

// crdServes is the kind and resource a CustomResourceDefinition serves.
func crdServes(crd *unstructured.Unstructured) (schema.GroupKind, schema.GroupResource, bool) {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	if group == "" || kind == "" || plural == "" {
		return schema.GroupKind{}, schema.GroupResource{}, false
	}
	return schema.GroupKind{Group: group, Kind: kind}, schema.GroupResource{Group: group, Resource: plural}, true
}
