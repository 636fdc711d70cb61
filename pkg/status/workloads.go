package status

import (
	"context"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/readiness"
)

// judge says, per workload placed on the cluster, whether its objects are
// ready by the rules apply's wait judges with (package readiness), and
// sums its replicas: desired as placement rendered them, ready as the live
// objects report. live holds geofed's live objects by object.KeyOf; served
// says which kinds the cluster serves; recorded, which objects geofed's
// inventory says it applied.
func judge(ctx context.Context, objs []desired.Object, live map[string]*unstructured.Unstructured, served map[schema.GroupKind]bool, recorded map[string]bool, pods podLister) []Workload {
	byName := map[string]*Workload{}
	for _, d := range objs {
		w := byName[d.Workload]
		if w == nil {
			w = &Workload{Name: d.Workload}
			byName[d.Workload] = w
		}
		w.Objects++
		key := object.KeyOf(d.Object)
		l := live[key]
		if want, _, ok := readiness.Replicas(d.Object); ok {
			if w.Replicas == nil {
				w.Replicas = &Replicas{}
			}
			w.Replicas.Desired += want
			if l != nil {
				_, available, _ := readiness.Replicas(l)
				w.Replicas.Ready += available
			}
		}
		if nr, ok := notReady(ctx, d.Object, l, served, recorded[key], pods); ok {
			w.NotReady = append(w.NotReady, nr)
		}
	}
	out := make([]Workload, 0, len(byName))
	for _, w := range byName {
		w.Ready = len(w.NotReady) == 0
		out = append(out, *w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// notReady judges one desired object by its live copy (nil when it is not
// live) and says why it is not ready; ok is false when it is.
func notReady(ctx context.Context, obj, live *unstructured.Unstructured, served map[schema.GroupKind]bool, recorded bool, pods podLister) (nr NotReady, ok bool) {
	gvk := obj.GroupVersionKind()
	nr.Object = object.Name(gvk.Group, gvk.Kind, obj.GetNamespace(), obj.GetName())
	if live == nil {
		switch {
		case !served[gvk.GroupKind()]:
			nr.Reason = fmt.Sprintf("kind %s is not served by the cluster", gvk.GroupKind())
		case recorded:
			nr.Reason = "not found: deleted since geofed applied it, or no longer labelled " + object.LabelTopology
		default:
			nr.Reason = "not found: not applied yet"
		}
		return nr, true
	}
	r := readiness.Of(live, func() (int64, error) {
		ps, err := podsOf(ctx, pods, live)
		return readiness.ReadyPods(ps), err
	})
	if r.Ready {
		return NotReady{}, false
	}
	nr.Failed = r.Failed != ""
	nr.Reason = r.Message()
	if readiness.RunsPods(live) {
		ps, err := podsOf(ctx, pods, live)
		if err != nil {
			nr.Reason += "; " + err.Error()
		} else {
			nr.Reason = readiness.WithPods(nr.Reason, ps)
		}
	}
	return nr, true
}

// podsOf is the workload's pods, from its namespace's one LIST.
func podsOf(ctx context.Context, pods podLister, workload *unstructured.Unstructured) ([]map[string]any, error) {
	all, err := pods.In(ctx, workload.GetNamespace())
	if err != nil {
		return nil, err
	}
	return readiness.PodsOf(workload, all)
}
