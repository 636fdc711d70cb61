// Package readiness judges whether a live object geofed applied is ready,
// and says why one that is not waits. Apply's wait and status judge with
// these functions, so the two always agree: anything by kstatus's rules (a
// Deployment's replicas updated and available, a Namespace active, a
// ConfigMap as soon as it exists; Failed fails), except a Job, which is
// ready when the pods it should run now all run (DESIGN §5). For a workload
// whose pods the scheduler cannot place, the scheduler's reason is named.
//
// The judgement is pure: the caller reads the objects and, when asked, the
// pods — with ListPods, one LIST per workload, or one LIST of a namespace
// for all its workloads (PodsOf picks each one's).
package readiness

import (
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// Verdict is what one look at an object says.
type Verdict struct {
	Ready bool
	// Failed says why the object will never be ready; Waiting, what it
	// waits for. At most one is set, and neither when Ready.
	Failed, Waiting string
}

// Message is why the object is not ready: Failed or Waiting.
func (r Verdict) Message() string {
	if r.Failed != "" {
		return r.Failed
	}
	return r.Waiting
}

// Of judges an object as read. readyPods counts a Job's pods that run and
// are ready; it is called only for a Job whose status does not say (older
// servers), so a caller may pass one that lists pods.
func Of(live *unstructured.Unstructured, readyPods func() (int64, error)) Verdict {
	if gk := live.GroupVersionKind().GroupKind(); gk == (schema.GroupKind{Group: "batch", Kind: "Job"}) {
		return job(live, readyPods)
	}
	res, err := status.Compute(live)
	if err != nil {
		return Verdict{Waiting: "reading its status: " + err.Error()}
	}
	switch res.Status {
	case status.CurrentStatus:
		return Verdict{Ready: true}
	case status.FailedStatus:
		return Verdict{Failed: res.Message}
	}
	return Verdict{Waiting: WaitingFor(live, res)}
}

// job says whether a Job runs, as DESIGN §5 means it: kstatus calls a Job
// Current once it started, even with every pod Pending for want of a GPU.
// A Job is ready when it completed, or when the pods it should run now —
// min(parallelism, completions - succeeded) — all run and are ready; a Job
// with condition Failed fails. Its status.ready says how many pods are
// ready; countReady counts them on servers whose Jobs do not report it.
func job(job *unstructured.Unstructured, countReady func() (int64, error)) Verdict {
	if job.GetDeletionTimestamp() != nil {
		return Verdict{Waiting: "being deleted"}
	}
	conditions, _, _ := unstructured.NestedSlice(job.Object, "status", "conditions")
	for _, c := range conditions {
		c, _ := c.(map[string]any)
		if c["status"] != "True" {
			continue
		}
		switch c["type"] {
		case "Failed":
			return Verdict{Failed: reasonMessage(c)}
		case "Complete":
			return Verdict{Ready: true}
		}
	}
	succeeded, _, _ := unstructured.NestedInt64(job.Object, "status", "succeeded")
	completions, fixed, _ := unstructured.NestedInt64(job.Object, "spec", "completions")
	if fixed && succeeded >= completions {
		return Verdict{Ready: true}
	}
	if suspended, _, _ := unstructured.NestedBool(job.Object, "spec", "suspend"); suspended {
		return Verdict{Waiting: "suspended"}
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
				return Verdict{Waiting: "counting its ready pods: " + err.Error()}
			}
		}
	}
	if ready >= want {
		return Verdict{Ready: true}
	}
	msg := fmt.Sprintf("%d/%d pods running", ready, want)
	if failed, _, _ := unstructured.NestedInt64(job.Object, "status", "failed"); failed > 0 {
		msg += fmt.Sprintf(", %d failed", failed)
	}
	return Verdict{Waiting: msg}
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

// WaitingFor says what an object kstatus does not call Current waits for:
// for a workload with replicas, how many of them are available, which is
// what a person watches; else (or when all are available and a rollout is
// still settling) kstatus's own message.
func WaitingFor(live *unstructured.Unstructured, res *status.Result) string {
	if want, available, ok := Replicas(live); ok && available < want {
		return fmt.Sprintf("%d/%d replicas available", available, want)
	}
	if res.Message != "" {
		return res.Message
	}
	return string(res.Status)
}

// Replicas is what a Deployment, StatefulSet or ReplicaSet (by kind) asks
// for, spec.replicas (1 when unset), and how many of its replicas are
// available: ready for minReadySeconds, what kstatus and the wait count.
// ok is false for other kinds.
func Replicas(obj *unstructured.Unstructured) (want, available int64, ok bool) {
	switch obj.GetKind() {
	case "Deployment", "StatefulSet", "ReplicaSet":
	default:
		return 0, 0, false
	}
	want, found, err := unstructured.NestedInt64(obj.Object, "spec", "replicas")
	if err != nil {
		return 0, 0, false
	}
	if !found {
		want = 1
	}
	available, _, _ = unstructured.NestedInt64(obj.Object, "status", "availableReplicas")
	return want, available, true
}

// RunsPods reports whether the object is a workload whose pods say why it
// waits: a Deployment, StatefulSet, ReplicaSet or Job.
func RunsPods(obj *unstructured.Unstructured) bool {
	gvk := obj.GroupVersionKind()
	switch gvk.Group {
	case "apps":
		return gvk.Kind == "Deployment" || gvk.Kind == "StatefulSet" || gvk.Kind == "ReplicaSet"
	case "batch":
		return gvk.Kind == "Job"
	}
	return false
}

// podSelector is the selector of a workload's pods, its spec.selector; nil
// when it has none.
func podSelector(workload *unstructured.Unstructured) (labels.Selector, error) {
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
	return selector, nil
}

var podsResource = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

// ListPods lists the pods of a workload with one request: those in its
// namespace that its spec.selector matches; none when it has no selector.
func ListPods(ctx context.Context, client dynamic.Interface, workload *unstructured.Unstructured) ([]map[string]any, error) {
	selector, err := podSelector(workload)
	if err != nil || selector == nil {
		return nil, err
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

// PodsOf picks, from pods listed in the workload's namespace, those its
// spec.selector matches: what ListPods would return, for a caller that
// lists a namespace's pods once for all its workloads.
func PodsOf(workload *unstructured.Unstructured, pods []map[string]any) ([]map[string]any, error) {
	selector, err := podSelector(workload)
	if err != nil || selector == nil {
		return nil, err
	}
	var out []map[string]any
	for _, pod := range pods {
		if ns, _, _ := unstructured.NestedString(pod, "metadata", "namespace"); ns != workload.GetNamespace() {
			continue
		}
		podLabels, _, _ := unstructured.NestedStringMap(pod, "metadata", "labels")
		if selector.Matches(labels.Set(podLabels)) {
			out = append(out, pod)
		}
	}
	return out, nil
}

// ReadyPods counts the pods that run and are ready, and are not being
// deleted.
func ReadyPods(pods []map[string]any) int64 {
	var n int64
	for _, pod := range pods {
		phase, _, _ := unstructured.NestedString(pod, "status", "phase")
		_, terminating, _ := unstructured.NestedString(pod, "metadata", "deletionTimestamp")
		if phase == "Running" && !terminating && podCondition(pod, "Ready")["status"] == "True" {
			n++
		}
	}
	return n
}

// WithPods is message followed, when some of the workload's pods do not
// schedule, by how many and the scheduler's reason.
func WithPods(message string, pods []map[string]any) string {
	var reasons []string
	for _, pod := range pods {
		if m, ok := Unschedulable(pod); ok {
			reasons = append(reasons, m)
		}
	}
	if len(reasons) == 0 {
		return message
	}
	return message + "; " + pendingPods(reasons)
}

// Unschedulable returns the scheduler's reason for a pod it could not
// place: the message of its condition PodScheduled=False, while Pending,
// without the scheduler's account of why preempting other pods would not
// help, which follows the reason and repeats the node count.
func Unschedulable(pod map[string]any) (string, bool) {
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
