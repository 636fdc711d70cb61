package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
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

var podsResource = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

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
// never will be, or after timeout naming what is not ready. A Job is ready
// by jobReadiness; anything else by kstatus's rules (status Current: a
// Deployment's replicas updated and available, a Namespace active, a
// ConfigMap as soon as it exists; Failed fails). Progress lines and the
// timeout name the pods of a workload that the scheduler cannot place,
// with its reason.
func waitReady(ctx context.Context, o readyOptions) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	waiting := make([]pending, 0, len(o.objects))
	for _, obj := range o.objects {
		waiting = append(waiting, pending{obj: obj})
	}
	th := throttle{every: reportEvery, quiet: reportQuiet}
	first := true
	for {
		var still []pending
		for _, p := range waiting {
			var live *unstructured.Unstructured
			if first {
				live = o.live[object.KeyOf(p.obj)]
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
			if r.failed != "" {
				return fmt.Errorf("cluster %s: %s failed: %s", o.cluster, object.Describe(p.obj), r.failed)
			}
			if r.ready {
				continue
			}
			p.message = r.waiting
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

// readiness is what one look at an object says.
type readiness struct {
	ready bool
	// failed says why the object will never be ready; waiting, what it
	// waits for.
	failed, waiting string
}

// readinessOf judges an object as read.
func readinessOf(ctx context.Context, client dynamic.Interface, live *unstructured.Unstructured) readiness {
	if gk := live.GroupVersionKind().GroupKind(); gk == (schema.GroupKind{Group: "batch", Kind: "Job"}) {
		return jobReadiness(live, func() (int64, error) { return readyPods(ctx, client, live) })
	}
	res, err := status.Compute(live)
	if err != nil {
		return readiness{waiting: "reading its status: " + err.Error()}
	}
	switch res.Status {
	case status.CurrentStatus:
		return readiness{ready: true}
	case status.FailedStatus:
		return readiness{failed: res.Message}
	}
	return readiness{waiting: waitingFor(live, res)}
}

// jobReadiness says whether a Job runs, as DESIGN §5 means it: kstatus
// calls a Job Current once it started, even with every pod Pending for
// want of a GPU. A Job is ready when it completed, or when the pods it
// should run now — min(parallelism, completions - succeeded) — all run
// and are ready; a Job with condition Failed fails. Its status.ready says
// how many pods are ready; countReady counts them on servers whose Jobs
// do not report it.
func jobReadiness(job *unstructured.Unstructured, countReady func() (int64, error)) readiness {
	if job.GetDeletionTimestamp() != nil {
		return readiness{waiting: "being deleted"}
	}
	conditions, _, _ := unstructured.NestedSlice(job.Object, "status", "conditions")
	for _, c := range conditions {
		c, _ := c.(map[string]any)
		if c["status"] != "True" {
			continue
		}
		switch c["type"] {
		case "Failed":
			return readiness{failed: reasonMessage(c)}
		case "Complete":
			return readiness{ready: true}
		}
	}
	succeeded, _, _ := unstructured.NestedInt64(job.Object, "status", "succeeded")
	completions, fixed, _ := unstructured.NestedInt64(job.Object, "spec", "completions")
	if fixed && succeeded >= completions {
		return readiness{ready: true}
	}
	if suspended, _, _ := unstructured.NestedBool(job.Object, "spec", "suspend"); suspended {
		return readiness{waiting: "suspended"}
	}
	parallelism, found, _ := unstructured.NestedInt64(job.Object, "spec", "parallelism")
	if !found {
		parallelism = 1
	}
	// A work queue (no completions) starts no new pod once one succeeded.
	want := max(parallelism-succeeded, 0)
	if fixed {
		want = min(parallelism, completions-succeeded)
	}
	ready, found, _ := unstructured.NestedInt64(job.Object, "status", "ready")
	if !found {
		// Without active pods none is ready: nothing to count.
		if active, _, _ := unstructured.NestedInt64(job.Object, "status", "active"); active > 0 {
			var err error
			if ready, err = countReady(); err != nil {
				return readiness{waiting: "counting its ready pods: " + err.Error()}
			}
		}
	}
	if ready >= want {
		return readiness{ready: true}
	}
	msg := fmt.Sprintf("%d/%d pods running", ready, want)
	if failed, _, _ := unstructured.NestedInt64(job.Object, "status", "failed"); failed > 0 {
		msg += fmt.Sprintf(", %d failed", failed)
	}
	return readiness{waiting: msg}
}

// reasonMessage is a condition's "reason: message", or whichever it has.
func reasonMessage(c map[string]any) string {
	reason, _ := c["reason"].(string)
	message, _ := c["message"].(string)
	switch {
	case reason == "":
		return message
	case message == "":
		return reason
	}
	return reason + ": " + message
}

// waitingFor says what an object that is not ready waits for: for a
// workload with replicas, how many of them are available, which is what a
// person watches; else (or when all are available and a rollout is still
// settling) kstatus's own message.
func waitingFor(live *unstructured.Unstructured, res *status.Result) string {
	switch live.GetKind() {
	case "Deployment", "StatefulSet", "ReplicaSet":
		want, found, err := unstructured.NestedInt64(live.Object, "spec", "replicas")
		if err != nil {
			break
		}
		if !found {
			want = 1
		}
		available, _, _ := unstructured.NestedInt64(live.Object, "status", "availableReplicas")
		if available < want {
			return fmt.Sprintf("%d/%d replicas available", available, want)
		}
	}
	if res.Message != "" {
		return res.Message
	}
	return string(res.Status)
}

// withPods is p's message followed, for a workload, by why its pods do not
// schedule, when some do not.
func withPods(ctx context.Context, client dynamic.Interface, p pending) string {
	if p.live == nil || !runsPods(p.live) {
		return p.message
	}
	pods, err := listPods(ctx, client, p.live)
	if err != nil {
		return p.message + "; listing its pods: " + err.Error()
	}
	var messages []string
	for _, pod := range pods {
		if m, ok := unschedulable(pod); ok {
			messages = append(messages, m)
		}
	}
	if len(messages) == 0 {
		return p.message
	}
	return p.message + "; " + pendingPods(messages)
}

// runsPods says whether the object is a workload whose pods withPods
// looks at.
func runsPods(obj *unstructured.Unstructured) bool {
	gvk := obj.GroupVersionKind()
	switch gvk.Group {
	case "apps":
		return gvk.Kind == "Deployment" || gvk.Kind == "StatefulSet" || gvk.Kind == "ReplicaSet"
	case "batch":
		return gvk.Kind == "Job"
	}
	return false
}

// listPods lists the pods of a workload: those in its namespace that its
// spec.selector matches; none when it has no selector.
func listPods(ctx context.Context, client dynamic.Interface, workload *unstructured.Unstructured) ([]map[string]any, error) {
	raw, found, err := unstructured.NestedMap(workload.Object, "spec", "selector")
	if err != nil || !found {
		return nil, err
	}
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &ls); err != nil {
		return nil, fmt.Errorf("reading spec.selector: %w", err)
	}
	selector, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return nil, fmt.Errorf("reading spec.selector: %w", err)
	}
	// ResourceVersion 0 is served from the apiserver's cache, not etcd: a
	// diagnosis may be a moment old.
	list, err := client.Resource(podsResource).Namespace(workload.GetNamespace()).List(ctx,
		metav1.ListOptions{LabelSelector: selector.String(), ResourceVersion: "0"})
	if err != nil {
		return nil, err
	}
	pods := make([]map[string]any, len(list.Items))
	for i := range list.Items {
		pods[i] = list.Items[i].Object
	}
	return pods, nil
}

// readyPods counts a Job's pods that run and are ready.
func readyPods(ctx context.Context, client dynamic.Interface, job *unstructured.Unstructured) (int64, error) {
	pods, err := listPods(ctx, client, job)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, pod := range pods {
		phase, _, _ := unstructured.NestedString(pod, "status", "phase")
		_, terminating, _ := unstructured.NestedString(pod, "metadata", "deletionTimestamp")
		if phase == "Running" && !terminating && podCondition(pod, "Ready")["status"] == "True" {
			n++
		}
	}
	return n, nil
}

// unschedulable returns the scheduler's reason for a pod it could not
// place: the message of its condition PodScheduled=False, while Pending,
// without the scheduler's account of why preempting other pods would not
// help, which follows the reason and repeats the node count.
func unschedulable(pod map[string]any) (string, bool) {
	if phase, _, _ := unstructured.NestedString(pod, "status", "phase"); phase != "Pending" {
		return "", false
	}
	c := podCondition(pod, "PodScheduled")
	if c["status"] != "False" {
		return "", false
	}
	if m, _ := c["message"].(string); m != "" {
		m, _, _ = strings.Cut(m, " preemption: ")
		return m, true
	}
	reason, _ := c["reason"].(string)
	return reason, true
}

// podCondition is the pod's condition of type t, nil when it has none.
func podCondition(pod map[string]any, t string) map[string]any {
	conditions, _, _ := unstructured.NestedSlice(pod, "status", "conditions")
	for _, c := range conditions {
		if c, ok := c.(map[string]any); ok && c["type"] == t {
			return c
		}
	}
	return nil
}

// pendingPods says how many pods are Pending for each reason, the most
// common first: "2 pods Pending: 0/3 nodes are available: 3 Insufficient
// nvidia.com/gpu.; 1 pod Pending: ...".
func pendingPods(reasons []string) string {
	counts := map[string]int{}
	for _, r := range reasons {
		counts[r]++
	}
	distinct := make([]string, 0, len(counts))
	for r := range counts {
		distinct = append(distinct, r)
	}
	slices.SortFunc(distinct, func(a, b string) int {
		if d := counts[b] - counts[a]; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(distinct))
	for i, r := range distinct {
		noun := "pods"
		if counts[r] == 1 {
			noun = "pod"
		}
		parts[i] = fmt.Sprintf("%d %s Pending: %s", counts[r], noun, r)
	}
	return strings.Join(parts, "; ")
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
