package observe

import (
	"context"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"

	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/readerr"
)

// Objects is what one cluster holds of geofed's: what plan diffs and
// status judges.
type Objects struct {
	// Inventory is geofed's record of what it applied there; nil when it
	// could not be read.
	Inventory *inventory.Inventory
	// Live holds geofed's live objects (those carrying the topology's
	// label) by object.KeyOf: whole (*unstructured.Unstructured) when read
	// Whole, else their metadata alone (*metav1.PartialObjectMetadata).
	Live map[string]metav1.Object
	// Mappings resolve every kind geofed renders or recorded there; nil
	// for a kind the cluster does not serve.
	Mappings map[schema.GroupKind]*meta.RESTMapping
	// Unread holds the kinds whose reads failed (discovery of their
	// group, or a LIST): what of them lives there is unknown, which is
	// never "nothing".
	Unread map[schema.GroupKind]error
}

// ObjectsOptions say which of geofed's objects to read.
type ObjectsOptions struct {
	// Topology names the topology whose objects are read.
	Topology string
	// Desired are the objects geofed renders for the cluster now.
	Desired []desired.Object
	// Whole reads whole objects; otherwise metadata alone (protobuf),
	// which is all the inventory's proof needs: decoding whole objects
	// from JSON was half of a large plan's CPU.
	Whole bool
}

// listConcurrency bounds the LISTs one cluster's read has in flight.
const listConcurrency = 8

// listKey is one LIST: a resource in a namespace ("" for cluster-scoped
// kinds or all of them).
type listKey struct {
	gvr       schema.GroupVersionResource
	namespace string
	// gk is the kind listed, which the items of a metadata LIST do not
	// carry.
	gk schema.GroupKind
}

// ReadObjects reads geofed's inventory on a reachable cluster (one GET)
// and geofed's objects there: one LIST per kind and namespace geofed
// renders now or recorded before, so leftovers of removed workloads are
// found too, selected by the topology's label. A kind whose read fails is
// Unread and the others are read. When the inventory cannot be read, the
// error says so and the objects Desired names are read all the same.
func ReadObjects(ctx context.Context, conn *member.Conn, o ObjectsOptions) (*Objects, error) {
	out := &Objects{Live: map[string]metav1.Object{}, Mappings: map[schema.GroupKind]*meta.RESTMapping{}, Unread: map[schema.GroupKind]error{}}
	var md metadata.Interface
	if !o.Whole {
		var err error
		if md, err = metadata.NewForConfig(conn.Config); err != nil {
			return nil, err
		}
	}
	inv, invErr := inventory.Read(ctx, conn.Dynamic, o.Topology)
	out.Inventory = inv

	type want struct {
		gk        schema.GroupKind
		version   string
		namespace string
	}
	var wants []want
	for _, d := range o.Desired {
		gvk := d.Object.GroupVersionKind()
		wants = append(wants, want{gvk.GroupKind(), gvk.Version, d.Object.GetNamespace()})
	}
	if inv != nil {
		for _, e := range inv.Entries {
			wants = append(wants, want{schema.GroupKind{Group: e.Group, Kind: e.Kind}, e.Version, e.Namespace})
		}
	}
	lists := map[listKey]bool{}
	for _, w := range wants {
		m, ok := out.Mappings[w.gk]
		if !ok {
			var err error
			m, _, err = readerr.Mapping(ctx, conn.Mapper, conn.Discovery, w.gk.WithVersion(w.version))
			// Not served (its CRD is part of this plan, say): nothing of
			// it can be live. Not known (discovery failed): unread.
			out.Mappings[w.gk] = m
			if err != nil {
				out.Unread[w.gk] = err
			}
		}
		if m == nil {
			continue
		}
		ns := w.namespace
		if m.Scope.Name() != meta.RESTScopeNameNamespace {
			ns = ""
		}
		lists[listKey{m.Resource, ns, w.gk}] = true
	}

	var mu sync.Mutex
	keep := func(key string, obj metav1.Object) {
		mu.Lock()
		defer mu.Unlock()
		out.Live[key] = obj
	}
	failed := func(lk listKey, err error) {
		mu.Lock()
		defer mu.Unlock()
		if _, seen := out.Unread[lk.gk]; !seen {
			out.Unread[lk.gk] = &readerr.Error{Kind: lk.gk.WithVersion(lk.gvr.Version), Err: err}
		}
	}
	opts := metav1.ListOptions{LabelSelector: object.LabelTopology + "=" + o.Topology}
	// The LISTs go out at once (a few per kind and namespace): one after
	// the other, a cluster's read waited out every round trip in turn.
	var g errgroup.Group
	g.SetLimit(listConcurrency)
	// A LIST that fails marks its kind unread; the others go on.
	for _, lk := range sortedListKeys(lists) {
		g.Go(func() error {
			if o.Whole {
				list, err := conn.Dynamic.Resource(lk.gvr).Namespace(lk.namespace).List(ctx, opts)
				if err != nil {
					failed(lk, err)
					return nil
				}
				for i := range list.Items {
					item := &list.Items[i]
					keep(object.KeyOf(item), item)
				}
				return nil
			}
			list, err := md.Resource(lk.gvr).Namespace(lk.namespace).List(ctx, opts)
			if err != nil {
				failed(lk, err)
				return nil
			}
			for i := range list.Items {
				item := &list.Items[i]
				keep(object.Key(lk.gk.Group, lk.gk.Kind, item.GetNamespace(), item.GetName()), item)
			}
			return nil
		})
	}
	_ = g.Wait() // the LISTs report through Unread, never here
	return out, invErr
}

func sortedListKeys(m map[listKey]bool) []listKey {
	out := make([]listKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].gvr.String() != out[j].gvr.String() {
			return out[i].gvr.String() < out[j].gvr.String()
		}
		return out[i].namespace < out[j].namespace
	})
	return out
}
