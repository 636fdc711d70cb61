// Package drain moves pods off nodes through the Kubernetes API, as
// `kubectl drain` does before a node goes away: it cordons the nodes,
// evicts their pods with the Eviction API, so that PodDisruptionBudgets are
// respected, and waits until the pods are gone. It also waits for nodes to
// be Ready, which a drain onto new nodes must come after.
//
// It is what geofed does to a GKE node pool before deleting it (a pool
// removed from the topology, or one replaced by a new pool): GKE's own
// deletion does not wait for PodDisruptionBudgets.
package drain

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// AnnotationCordoned marks a node geofed cordoned, so that Uncordon gives
// back only what geofed took: a node a person cordoned stays cordoned.
const AnnotationCordoned = "geofed.io/cordoned"

// DefaultRetry is how long Drain waits before asking again for an eviction
// a PodDisruptionBudget refused, and between looks at pods being deleted:
// kubectl drain retries every 5s; the disruption controller usually allows
// the next eviction within seconds of the evicted pod's replacement
// turning Ready.
const DefaultRetry = 2 * time.Second

// Options say which nodes to drain and how to report it.
type Options struct {
	// Selector is a label selector for the nodes, such as
	// "cloud.google.com/gke-nodepool=cpu". Required: an empty selector
	// would drain the whole cluster.
	Selector string
	// Retry is the wait between attempts; DefaultRetry when zero.
	Retry time.Duration
	// Progress hears one line per node cordoned and pod evicted; nil
	// discards.
	Progress func(string)
}

// Result is what a drain did.
type Result struct {
	// Nodes are the nodes cordoned and drained, sorted.
	Nodes []string
	// Evicted counts the evictions the API accepted.
	Evicted int
}

// RefusedError is a drain that ended while a PodDisruptionBudget still
// refused to let a pod go.
type RefusedError struct {
	// Pod is namespace/name.
	Pod string
	// Budget is the PodDisruptionBudget's namespace/name, when the API
	// named it.
	Budget string
	// Message is the API's reason ("The disruption budget web needs 3
	// healthy pods and has 3 currently").
	Message string
	// Since is when the first refusal came.
	Since time.Time
	// Cause is why the drain stopped waiting (a deadline).
	Cause error
}

func (e *RefusedError) Error() string {
	budget := "its PodDisruptionBudget"
	if e.Budget != "" {
		budget = "PodDisruptionBudget " + e.Budget
	}
	return fmt.Sprintf("pod %s: eviction refused by %s for %s: %s: %v",
		e.Pod, budget, time.Since(e.Since).Round(time.Second), e.Message, e.Cause)
}

func (e *RefusedError) Unwrap() error { return e.Cause }

// Drain cordons every node the selector matches and evicts their pods but
// DaemonSet pods (which tolerate a cordon and go with the node) and
// static pods, until none is left: it returns once each evicted pod is
// deleted. Pods that no controller recreates are evicted too, as GKE
// deletes them with their node pool; so is emptyDir data.
//
// An eviction a PodDisruptionBudget refuses (429 Too Many Requests) is
// asked again every Retry until ctx ends, then a *RefusedError names the
// pod, the budget and the API's reason. Any other refusal (a pod covered
// by two budgets, say) fails at once. Drain is idempotent: run again, it
// finds the nodes cordoned and carries on with the pods still there.
func Drain(ctx context.Context, client kubernetes.Interface, opts Options) (Result, error) {
	if opts.Selector == "" {
		return Result{}, errors.New("draining nodes: no node selector")
	}
	retry := opts.Retry
	if retry <= 0 {
		retry = DefaultRetry
	}
	say := opts.Progress
	if say == nil {
		say = func(string) {}
	}
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: opts.Selector})
	if err != nil {
		return Result{}, fmt.Errorf("listing the nodes %s: %w", opts.Selector, err)
	}
	var res Result
	for i := range nodes.Items {
		n := &nodes.Items[i]
		res.Nodes = append(res.Nodes, n.Name)
		if n.Spec.Unschedulable {
			continue
		}
		if err := cordon(ctx, client, n.Name, true); err != nil {
			return res, err
		}
		say("cordoned node " + n.Name)
	}
	slices.Sort(res.Nodes)

	refusals := map[types.UID]*RefusedError{}
	for {
		pods, err := podsOn(ctx, client, res.Nodes)
		if err != nil {
			if ctx.Err() != nil {
				return res, stopped(ctx, refusals, nil)
			}
			return res, err
		}
		if len(pods) == 0 {
			return res, nil
		}
		var waitingOn []string
		for i := range pods {
			p := &pods[i]
			key := p.Namespace + "/" + p.Name
			if p.DeletionTimestamp != nil {
				waitingOn = append(waitingOn, key+" (being deleted)")
				continue
			}
			err := client.PolicyV1().Evictions(p.Namespace).Evict(ctx, &policyv1.Eviction{
				ObjectMeta:    metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace},
				DeleteOptions: &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}},
			})
			switch {
			case err == nil:
				res.Evicted++
				delete(refusals, p.UID)
				say(fmt.Sprintf("evicted pod %s from node %s", key, p.Spec.NodeName))
				waitingOn = append(waitingOn, key+" (being deleted)")
			case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
				// Gone, or another pod under the same name now: looked
				// at again on the next round.
			case apierrors.IsTooManyRequests(err):
				r := refusals[p.UID]
				if r == nil {
					r = &RefusedError{Pod: key, Since: time.Now()}
					refusals[p.UID] = r
					r.Budget, r.Message = budgetOf(p.Namespace, err)
					say(fmt.Sprintf("pod %s: eviction refused, retrying every %s: %s", key, retry, r.Message))
				}
				waitingOn = append(waitingOn, key+" (refused: "+r.Message+")")
			case ctx.Err() != nil:
				return res, stopped(ctx, refusals, append(waitingOn, key))
			default:
				return res, fmt.Errorf("evicting pod %s from node %s: %w", key, p.Spec.NodeName, err)
			}
		}
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, stopped(ctx, refusals, waitingOn)
		case <-t.C:
		}
	}
}

// stopped is why a drain whose ctx ended is not done: the oldest refusal
// still standing, else the pods it was waiting for.
func stopped(ctx context.Context, refusals map[types.UID]*RefusedError, waitingOn []string) error {
	var oldest *RefusedError
	for _, r := range refusals {
		if oldest == nil || r.Since.Before(oldest.Since) {
			oldest = r
		}
	}
	if oldest != nil {
		oldest.Cause = context.Cause(ctx)
		return oldest
	}
	slices.Sort(waitingOn)
	return fmt.Errorf("waiting for %d pods to leave the drained nodes: %s: %w", len(waitingOn), strings.Join(waitingOn, ", "), context.Cause(ctx))
}

// budgetRE finds the budget's name in the API's refusal (see the Eviction
// REST storage of kube-apiserver: "The disruption budget NAME ...").
var budgetRE = regexp.MustCompile(`^The disruption budget (\S+) `)

// budgetOf reads the budget and the reason from a refused eviction.
func budgetOf(namespace string, err error) (budget, message string) {
	message = err.Error()
	var se apierrors.APIStatus
	if !errors.As(err, &se) || se.Status().Details == nil {
		return "", message
	}
	for _, c := range se.Status().Details.Causes {
		if c.Type != policyv1.DisruptionBudgetCause {
			continue
		}
		message = c.Message
		if m := budgetRE.FindStringSubmatch(c.Message); m != nil {
			budget = namespace + "/" + m[1]
		}
	}
	return budget, message
}

// podsOn lists the pods on nodes that a drain moves: not finished, not
// owned by a DaemonSet, not static.
func podsOn(ctx context.Context, client kubernetes.Interface, nodes []string) ([]corev1.Pod, error) {
	var out []corev1.Pod
	for _, n := range nodes {
		list, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("spec.nodeName", n).String(),
		})
		if err != nil {
			return nil, fmt.Errorf("listing the pods on node %s: %w", n, err)
		}
		for _, p := range list.Items {
			if moves(&p) {
				out = append(out, p)
			}
		}
	}
	slices.SortFunc(out, func(a, b corev1.Pod) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return out, nil
}

// moves reports whether a drain evicts p.
func moves(p *corev1.Pod) bool {
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return false
	}
	if _, static := p.Annotations[corev1.MirrorPodAnnotationKey]; static {
		return false
	}
	if c := metav1.GetControllerOf(p); c != nil && c.Kind == "DaemonSet" {
		return false
	}
	return true
}

// cordon sets a node's spec.unschedulable, marking (or unmarking) it as
// geofed's cordon.
func cordon(ctx context.Context, client kubernetes.Interface, node string, on bool) error {
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"true"}},"spec":{"unschedulable":true}}`, AnnotationCordoned)
	doing := "cordoning"
	if !on {
		patch = fmt.Sprintf(`{"metadata":{"annotations":{%q:null}},"spec":{"unschedulable":null}}`, AnnotationCordoned)
		doing = "uncordoning"
	}
	if _, err := client.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("%s node %s: %w", doing, node, err)
	}
	return nil
}

// Uncordon makes schedulable again the nodes the selector matches that
// geofed cordoned, and returns their names: a drain that was interrupted
// and is no longer wanted (the pool it was emptying is the one kept now)
// gives its nodes back. Nodes cordoned by anyone else are left alone.
func Uncordon(ctx context.Context, client kubernetes.Interface, selector string) ([]string, error) {
	if selector == "" {
		return nil, errors.New("uncordoning nodes: no node selector")
	}
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("listing the nodes %s: %w", selector, err)
	}
	var out []string
	for _, n := range nodes.Items {
		if _, ours := n.Annotations[AnnotationCordoned]; !ours || !n.Spec.Unschedulable {
			continue
		}
		if err := cordon(ctx, client, n.Name, false); err != nil {
			return out, err
		}
		out = append(out, n.Name)
	}
	slices.Sort(out)
	return out, nil
}

// WaitReady waits until at least want nodes match the selector and every
// one of them is Ready and schedulable, polling every retry (DefaultRetry
// when zero); progress, when not nil, hears each change of the count. It
// is what a drain onto new nodes waits for first, so that pods evicted
// elsewhere find room.
func WaitReady(ctx context.Context, client kubernetes.Interface, selector string, want int, retry time.Duration, progress func(string)) error {
	if selector == "" {
		return errors.New("waiting for nodes: no node selector")
	}
	if retry <= 0 {
		retry = DefaultRetry
	}
	said := ""
	for {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return fmt.Errorf("listing the nodes %s: %w", selector, err)
		}
		var ready int
		var notReady []string
		for i := range nodes.Items {
			n := &nodes.Items[i]
			switch {
			case n.DeletionTimestamp != nil:
				notReady = append(notReady, n.Name+" (being deleted)")
			case n.Spec.Unschedulable:
				notReady = append(notReady, n.Name+" (cordoned)")
			case !isReady(n):
				notReady = append(notReady, n.Name+" (not Ready)")
			default:
				ready++
			}
		}
		slices.Sort(notReady)
		status := fmt.Sprintf("%d of %d nodes Ready", ready, want)
		if len(notReady) > 0 {
			status += "; " + strings.Join(notReady, ", ")
		}
		if ready >= want && len(notReady) == 0 {
			return nil
		}
		if status != said && progress != nil {
			progress(status)
		}
		said = status
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for the nodes %s: %s: %w", selector, status, context.Cause(ctx))
		case <-t.C:
		}
	}
}

func isReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
