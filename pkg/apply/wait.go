package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/readiness"
)

// Readiness polling and reporting.
const (
	readyPoll = 500 * time.Millisecond
	// A progress line at most this often per cluster...
	reportEvery = 2 * time.Second
	// ...and, while nothing changes, only this often.
	reportQuiet = 10 * time.Second
	// notReadyShown is how many objects a timeout names in full.
	notReadyShown = 3
	// podsTimeout bounds the last look at pods when the wait timed out:
	// the wait's own deadline is over by then.
	podsTimeout = 5 * time.Second
)

// readyOptions say which objects of one cluster to wait for.
type readyOptions struct {
	cluster string
	client  dynamic.Interface
	mapper  meta.RESTMapper
	// objects are the desired objects, in apply order.
	objects []*unstructured.Unstructured
	// live holds objects as apply returned them, by object.KeyOf:
	// the first look at them costs no request.
	live    map[string]*unstructured.Unstructured
	timeout time.Duration
	// report hears progress lines.
	report func(string)
}

// pending is an object not ready yet, with why.
type pending struct {
	obj *unstructured.Unstructured
	// live is the object as last read, nil when it could not be.
	live    *unstructured.Unstructured
	message string
}

// waitReady waits until every object is ready and fails at once when one
// never will be, or after timeout naming what is not ready, judging each
// as package readiness does (kstatus's rules; a Job by its running pods).
// Progress lines and the timeout name the pods of a workload that the
// scheduler cannot place, with its reason.
func waitReady(ctx context.Context, o readyOptions) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	waiting := make([]pending, 0, len(o.objects))
	for _, obj := range o.objects {
		waiting = append(waiting, pending{obj: obj})
	}
	th := throttle{every: reportEvery, quiet: reportQuiet}
	// The first look at what apply did not send (unchanged objects) is a
	// LIST per kind and namespace rather than a GET per object: a no-op
	// apply of 1,000 objects reads them in a handful of requests.
	listed := prefetch(ctx, o)
	first := true
	for {
		var still []pending
		for _, p := range waiting {
			var live *unstructured.Unstructured
			if first {
				key := object.KeyOf(p.obj)
				if live = o.live[key]; live == nil {
					live = listed[key]
				}
			}
			if live == nil {
				var err error
				live, err = get(ctx, o, p.obj)
				if err != nil {
					if ctx.Err() == nil {
						p.live, p.message = nil, err.Error()
					}
					still = append(still, p)
					continue
				}
			}
			p.live = live
			r := readinessOf(ctx, o.client, live)
			if r.Failed != "" {
				return fmt.Errorf("cluster %s: %s failed: %s", o.cluster, object.Describe(p.obj), r.Failed)
			}
			if r.Ready {
				continue
			}
			p.message = r.Waiting
			still = append(still, p)
		}
		first = false
		waiting = still
		if len(waiting) == 0 {
			return nil
		}
		// The throttle judges the line without the pods, so that they
		// are listed only when a line is due, not on every poll.
		if o.report != nil && th.ok(time.Now(), progressLine(o, waiting, waiting[0].message)) {
			o.report(progressLine(o, waiting, withPods(ctx, o.client, waiting[0])))
		}

		t := time.NewTimer(readyPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), podsTimeout)
				defer cancel()
				for i := range min(len(waiting), notReadyShown) {
					waiting[i].message = withPods(pctx, o.client, waiting[i])
				}
				return fmt.Errorf("cluster %s: not ready after %s: %s", o.cluster, o.timeout, notReady(waiting))
			}
			return fmt.Errorf("cluster %s: waiting for readiness: %w", o.cluster, ctx.Err())
		case <-t.C:
		}
	}
}

func progressLine(o readyOptions, waiting []pending, message string) string {
	return fmt.Sprintf("%s: %d/%d objects ready (waiting for %s: %s)",
		o.cluster, len(o.objects)-len(waiting), len(o.objects), object.Describe(waiting[0].obj), message)
}

// readinessOf judges an object as read, as status does (package
// readiness); a Job whose status does not count its ready pods has them
// listed.
func readinessOf(ctx context.Context, client dynamic.Interface, live *unstructured.Unstructured) readiness.Verdict {
	return readiness.Of(live, func() (int64, error) { return readyPods(ctx, client, live) })
}

// withPods is p's message followed, for a workload, by why its pods do not
// schedule, when some do not.
func withPods(ctx context.Context, client dynamic.Interface, p pending) string {
	if p.live == nil || !readiness.RunsPods(p.live) {
		return p.message
	}
	pods, err := readiness.ListPods(ctx, client, p.live)
	if err != nil {
		return p.message + "; listing its pods: " + err.Error()
	}
	return readiness.WithPods(p.message, pods)
}

// readyPods counts a Job's pods that run and are ready.
func readyPods(ctx context.Context, client dynamic.Interface, job *unstructured.Unstructured) (int64, error) {
	pods, err := readiness.ListPods(ctx, client, job)
	if err != nil {
		return 0, err
	}
	return readiness.ReadyPods(pods), nil
}

// prefetch reads, for the first look, the objects apply did not return,
// one LIST per kind, namespace and topology where two or more share them,
// filtered by geofed's topology label. What a LIST misses (or cannot
// read) is left to a GET of its own, which says "not found".
func prefetch(ctx context.Context, o readyOptions) map[string]*unstructured.Unstructured {
	type group struct {
		gvr       schema.GroupVersionResource
		namespace string
		topology  string
	}
	groups := map[group][]string{}
	for _, obj := range o.objects {
		key := object.KeyOf(obj)
		topology := obj.GetLabels()[object.LabelTopology]
		if o.live[key] != nil || topology == "" {
			continue
		}
		gvk := obj.GroupVersionKind()
		m, err := o.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			continue
		}
		g := group{gvr: m.Resource, topology: topology}
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			g.namespace = obj.GetNamespace()
		}
		groups[g] = append(groups[g], key)
	}
	out := map[string]*unstructured.Unstructured{}
	for g, keys := range groups {
		if len(keys) < 2 {
			continue
		}
		list, err := o.client.Resource(g.gvr).Namespace(g.namespace).List(ctx, metav1.ListOptions{
			LabelSelector: object.LabelTopology + "=" + g.topology,
		})
		if err != nil {
			continue
		}
		want := make(map[string]bool, len(keys))
		for _, k := range keys {
			want[k] = true
		}
		for i := range list.Items {
			item := &list.Items[i]
			if k := object.KeyOf(item); want[k] {
				out[k] = forReadiness(item)
			}
		}
	}
	return out
}

// forReadiness strips, in place, what no readiness rule reads from an
// object the server returned, and returns it: its managedFields,
// annotations, a ConfigMap's or Secret's data and a workload's pod
// template. The rules (kstatus's and package readiness's) read the kind,
// the generation, the spec's replicas, selector and strategy, and the
// status. A fleet's apply holds one per object until its readiness is
// judged: whole, they were most of the memory of an apply from nothing.
func forReadiness(live *unstructured.Unstructured) *unstructured.Unstructured {
	if live == nil {
		return nil
	}
	if md, ok := live.Object["metadata"].(map[string]any); ok {
		delete(md, "managedFields")
		delete(md, "annotations")
	}
	for _, k := range []string{"data", "binaryData", "stringData"} {
		delete(live.Object, k)
	}
	if spec, ok := live.Object["spec"].(map[string]any); ok {
		if tmpl, ok := spec["template"].(map[string]any); ok {
			// A Job's template is judged by its pods, not read here; a
			// CronJob's jobTemplate is kept (small, and read by nobody).
			delete(tmpl, "spec")
		}
	}
	return live
}

// readsOnlyMetadata reports whether readiness reads nothing but the
// metadata of an object of this kind: kstatus calls a ConfigMap or a
// Secret ready as soon as it exists, and judges the others here by their
// metadata and status, which they do not have. Apply asks the server for
// their metadata only (lightApply).
func readsOnlyMetadata(gk schema.GroupKind) bool {
	switch gk {
	case schema.GroupKind{Kind: "ConfigMap"}, schema.GroupKind{Kind: "Secret"}, schema.GroupKind{Kind: "ServiceAccount"},
		schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "Role"},
		schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"},
		schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"},
		schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}:
		return true
	}
	return false
}

// metadataLive is what readiness reads of an object applied with a
// response of metadata only: its kind (from the manifest sent) and the
// metadata forReadiness keeps of a whole response.
func metadataLive(sent *unstructured.Unstructured, m metav1.Object) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetAPIVersion(sent.GetAPIVersion())
	u.SetKind(sent.GetKind())
	u.SetName(m.GetName())
	u.SetNamespace(m.GetNamespace())
	u.SetUID(m.GetUID())
	u.SetResourceVersion(m.GetResourceVersion())
	u.SetGeneration(m.GetGeneration())
	u.SetCreationTimestamp(m.GetCreationTimestamp())
	u.SetDeletionTimestamp(m.GetDeletionTimestamp())
	u.SetLabels(m.GetLabels())
	return u
}

func get(ctx context.Context, o readyOptions, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	gvk := obj.GroupVersionKind()
	m, err := o.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	var rc dynamic.ResourceInterface = o.client.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		rc = o.client.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	live, err := rc.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, errors.New("not found")
	}
	return live, err
}

// notReady lists what is not ready, the first few in full.
func notReady(ps []pending) string {
	var parts []string
	for i, p := range ps {
		if i == notReadyShown {
			parts = append(parts, fmt.Sprintf("and %d more", len(ps)-notReadyShown))
			break
		}
		parts = append(parts, object.Describe(p.obj)+": "+p.message)
	}
	return strings.Join(parts, "; ")
}

// throttle decides when a progress line is worth printing: at most every
// `every`, and while the line stays the same only every `quiet`.
type throttle struct {
	every, quiet time.Duration
	last         time.Time
	line         string
}

func (t *throttle) ok(now time.Time, line string) bool {
	since := now.Sub(t.last)
	if !t.last.IsZero() && (since < t.every || line == t.line && since < t.quiet) {
		return false
	}
	t.last, t.line = now, line
	return true
}
