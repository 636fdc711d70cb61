package drain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
)

// TestDrainOnLab drains nodes of a real lab cluster (apiserver, scheduler,
// controllers, KWOK nodes), reading the outcome back from it: pods move to
// the other nodes while their PodDisruptionBudget holds, DaemonSet pods
// stay, only geofed's cordons are taken back, a budget that allows nothing
// fails the drain in bounded time naming the pod and the budget, and the
// wait for Ready nodes counts only Ready, schedulable ones.
func TestDrainOnLab(t *testing.T) {
	nodes := func(name, pool string, n int) lab.NodeSpec {
		return lab.NodeSpec{Name: name, Count: n, CPU: resource.MustParse("4"), Memory: resource.MustParse("16Gi"),
			Labels: map[string]string{"pool": pool}}
	}
	_, clusters := labtest.New(t, lab.ClusterSpec{Name: "drain", Nodes: []lab.NodeSpec{
		nodes("pool-a", "a", 2), nodes("pool-b", "b", 2), nodes("pool-c", "c", 1),
	}})
	cs, err := kubernetes.NewForConfig(clusters[0].RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	// A person's cordons: b until the workloads run on a, c for good.
	personCordon(t, cs, "pool-b-0", "pool-b-1", "pool-c-0")
	create(t, cs, namespace("web"), deployment("web", "web", 3), budget("web", "web", ptr.To(intstr.FromInt32(2)), nil), daemonSet("web", "agent"))
	waitAvailable(t, cs, "web", "web", 3)
	waitDaemonSet(t, cs, "web", "agent", 5) // on every node: DaemonSets tolerate cordons
	if got := podNodes(t, cs, "web", "app=web"); !allHavePrefix(got, "pool-a-") {
		t.Fatalf("web pods before the drain on %v, want all on pool-a", got)
	}
	personUncordon(t, cs, "pool-b-0", "pool-b-1")

	var mu sync.Mutex
	var lines []string
	progress := func(s string) { mu.Lock(); lines = append(lines, s); mu.Unlock() }
	res, err := Drain(ctx, cs, Options{Selector: "pool=a", Retry: 500 * time.Millisecond, Progress: progress})
	if err != nil {
		t.Fatalf("Drain(pool=a): %v\nprogress:\n%s", err, strings.Join(lines, "\n"))
	}
	if want := []string{"pool-a-0", "pool-a-1"}; !slices.Equal(res.Nodes, want) || res.Evicted != 3 {
		t.Errorf("Drain = nodes %v, %d evicted; want %v, 3 evicted", res.Nodes, res.Evicted, want)
	}
	for _, want := range []string{"cordoned node pool-a-0", "cordoned node pool-a-1", "evicted pod web/web-"} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("progress lacks %q:\n%s", want, strings.Join(lines, "\n"))
		}
	}
	waitAvailable(t, cs, "web", "web", 3)
	if got := podNodes(t, cs, "web", "app=web"); len(got) != 3 || !allHavePrefix(got, "pool-b-") {
		t.Errorf("web pods after draining pool-a on %v, want 3 on pool-b (pool-c is cordoned)", got)
	}
	if got := podNodes(t, cs, "web", "app=agent"); len(got) != 5 {
		t.Errorf("DaemonSet pods after the drain on %v, want 5: a drain leaves them", got)
	}
	for _, n := range []string{"pool-a-0", "pool-a-1"} {
		node := getNode(t, cs, n)
		if !node.Spec.Unschedulable || node.Annotations[AnnotationCordoned] != "true" {
			t.Errorf("node %s after the drain: unschedulable %t, annotations %v; want cordoned by geofed", n, node.Spec.Unschedulable, node.Annotations)
		}
	}

	// Run again: nothing left to evict.
	if res, err := Drain(ctx, cs, Options{Selector: "pool=a"}); err != nil || res.Evicted != 0 {
		t.Errorf("second Drain(pool=a) = %d evicted, %v; want 0, nil", res.Evicted, err)
	}

	// Uncordon gives back geofed's cordons only.
	got, err := Uncordon(ctx, cs, "pool in (a,c)")
	if err != nil || !slices.Equal(got, []string{"pool-a-0", "pool-a-1"}) {
		t.Errorf("Uncordon(pool in (a,c)) = %v, %v; want pool-a-0, pool-a-1", got, err)
	}
	for n, want := range map[string]bool{"pool-a-0": false, "pool-a-1": false, "pool-c-0": true} {
		node := getNode(t, cs, n)
		if node.Spec.Unschedulable != want || node.Annotations[AnnotationCordoned] != "" {
			t.Errorf("node %s after Uncordon: unschedulable %t (want %t), annotations %v", n, node.Spec.Unschedulable, want, node.Annotations)
		}
	}

	// A budget that allows no disruption: the drain gives up when ctx
	// ends, naming the pod and the budget; the pod stays.
	create(t, cs, namespace("strict"), deployment("strict", "db", 1), budget("strict", "db", nil, ptr.To(intstr.FromInt32(0))))
	waitAvailable(t, cs, "strict", "db", 1)
	waitBudget(t, cs, "strict", "db")
	dbNodes := podNodes(t, cs, "strict", "app=db")
	pool := getNode(t, cs, dbNodes[0]).Labels["pool"]
	short, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	start := time.Now()
	_, err = Drain(short, cs, Options{Selector: "pool=" + pool, Retry: 500 * time.Millisecond})
	var refused *RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("Drain(pool=%s) under a budget allowing nothing = %v, want a *RefusedError", pool, err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Drain took %s past a 4s deadline", took)
	}
	if !strings.HasPrefix(refused.Pod, "strict/db-") || refused.Budget != "strict/db" ||
		refused.Message != "The disruption budget db needs 1 healthy pods and has 1 currently" || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("RefusedError = %+v, want pod strict/db-…, budget strict/db, the API's reason and the deadline", refused)
	}
	for _, want := range []string{"pod strict/db-", "eviction refused by PodDisruptionBudget strict/db for ", "needs 1 healthy pods", "context deadline exceeded"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if got := podNodes(t, cs, "strict", "app=db"); !slices.Equal(got, dbNodes) {
		t.Errorf("db pod after the refused drain on %v, want it where it was, %v", got, dbNodes)
	}
}

// TestWaitReadyOnLab: WaitReady counts Ready, schedulable nodes of the
// selector and says, when it gives up, which ones are not.
func TestWaitReadyOnLab(t *testing.T) {
	_, clusters := labtest.New(t, lab.ClusterSpec{Name: "ready", Nodes: []lab.NodeSpec{
		{Name: "pool-a", Count: 2, Labels: map[string]string{"pool": "a"}},
		{Name: "pool-b", Count: 1, Labels: map[string]string{"pool": "b"}},
	}})
	cs, err := kubernetes.NewForConfig(clusters[0].RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	personCordon(t, cs, "pool-b-0")
	for _, tt := range []struct {
		selector string
		want     int
		err      string // "" for success
	}{
		{"pool=a", 2, ""},
		{"pool=a", 1, ""},
		{"pool=a", 3, "waiting for the nodes pool=a: 2 of 3 nodes Ready: context deadline exceeded"},
		{"pool=b", 1, "waiting for the nodes pool=b: 0 of 1 nodes Ready; pool-b-0 (cordoned): context deadline exceeded"},
		{"pool=none", 0, ""},
		{"", 1, "waiting for nodes: no node selector"},
	} {
		t.Run(fmt.Sprintf("%s×%d", tt.selector, tt.want), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
			defer cancel()
			err := WaitReady(ctx, cs, tt.selector, tt.want, 200*time.Millisecond, nil)
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("WaitReady: %v", err)
			case tt.err != "" && (err == nil || err.Error() != tt.err):
				t.Errorf("WaitReady = %v, want %s", err, tt.err)
			}
		})
	}
}

func TestBudgetOf(t *testing.T) {
	refusal := func(msg string) error {
		err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Type: policyv1.DisruptionBudgetCause, Message: msg})
		return err
	}
	for _, tt := range []struct {
		name            string
		err             error
		budget, message string
	}{
		{"healthy count", refusal("The disruption budget web needs 3 healthy pods and has 3 currently"),
			"ml/web", "The disruption budget web needs 3 healthy pods and has 3 currently"},
		{"not processed yet", refusal("The disruption budget web-pdb is still being processed by the server."),
			"ml/web-pdb", "The disruption budget web-pdb is still being processed by the server."},
		{"no cause", apierrors.NewTooManyRequests("slow down", 1), "", "slow down"},
		{"not an API error", errors.New("boom"), "", "boom"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			budget, message := budgetOf("ml", tt.err)
			if budget != tt.budget || message != tt.message {
				t.Errorf("budgetOf = %q, %q; want %q, %q", budget, message, tt.budget, tt.message)
			}
		})
	}
}

func TestMoves(t *testing.T) {
	pod := func(mod func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
		mod(p)
		return p
	}
	owner := func(kind string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.OwnerReferences = []metav1.OwnerReference{{Kind: kind, Name: "x", Controller: ptr.To(true)}}
		}
	}
	for _, tt := range []struct {
		name string
		pod  *corev1.Pod
		want bool
	}{
		{"unmanaged", pod(func(*corev1.Pod) {}), true},
		{"ReplicaSet", pod(owner("ReplicaSet")), true},
		{"DaemonSet", pod(owner("DaemonSet")), false},
		{"static", pod(func(p *corev1.Pod) { p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"} }), false},
		{"succeeded", pod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }), false},
		{"failed", pod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }), false},
		{"pending", pod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodPending }), true},
	} {
		if got := moves(tt.pod); got != tt.want {
			t.Errorf("%s: moves = %t, want %t", tt.name, got, tt.want)
		}
	}
}

func TestNoSelector(t *testing.T) {
	if _, err := Drain(t.Context(), nil, Options{}); err == nil {
		t.Error("Drain without a selector: no error; it must never drain the whole cluster")
	}
	if _, err := Uncordon(t.Context(), nil, ""); err == nil {
		t.Error("Uncordon without a selector: no error")
	}
}

func personCordon(t *testing.T, cs kubernetes.Interface, nodes ...string) {
	t.Helper()
	setUnschedulable(t, cs, true, nodes...)
}

func personUncordon(t *testing.T, cs kubernetes.Interface, nodes ...string) {
	t.Helper()
	setUnschedulable(t, cs, false, nodes...)
}

func setUnschedulable(t *testing.T, cs kubernetes.Interface, on bool, nodes ...string) {
	t.Helper()
	for _, n := range nodes {
		patch := fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, on)
		if _, err := cs.CoreV1().Nodes().Patch(t.Context(), n, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func getNode(t *testing.T, cs kubernetes.Interface, name string) *corev1.Node {
	t.Helper()
	n, err := cs.CoreV1().Nodes().Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type object interface{ GetName() string }

func create(t *testing.T, cs kubernetes.Interface, objs ...object) {
	t.Helper()
	ctx := t.Context()
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Namespace:
			_, err = cs.CoreV1().Namespaces().Create(ctx, o, metav1.CreateOptions{})
		case *appsv1.Deployment:
			_, err = cs.AppsV1().Deployments(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *appsv1.DaemonSet:
			_, err = cs.AppsV1().DaemonSets(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *policyv1.PodDisruptionBudget:
			_, err = cs.PolicyV1().PodDisruptionBudgets(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		default:
			t.Fatalf("create: %T", o)
		}
		if err != nil {
			t.Fatalf("creating %s: %v", o.GetName(), err)
		}
	}
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func podTemplate(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{
			// Evicted pods end at once, so drains take seconds.
			TerminationGracePeriodSeconds: ptr.To(int64(0)),
			Containers: []corev1.Container{{Name: "main", Image: "registry.example/" + app + ":1",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}}}},
		},
	}
}

func deployment(ns, name string, replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: podTemplate(name),
		},
	}
}

func daemonSet(ns, name string) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: podTemplate(name),
		},
	}
}

func budget(ns, app string, minAvailable, maxUnavailable *intstr.IntOrString) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: ns},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: minAvailable, MaxUnavailable: maxUnavailable,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
		},
	}
}

// poll calls check until it returns "" or a minute passes; then the test
// fails with check's last word.
func poll(t *testing.T, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func waitAvailable(t *testing.T, cs kubernetes.Interface, ns, name string, n int32) {
	t.Helper()
	poll(t, "Deployment "+ns+"/"+name, func() string {
		d, err := cs.AppsV1().Deployments(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		if d.Status.AvailableReplicas != n || d.Status.UpdatedReplicas != n || d.Status.Replicas != n {
			return fmt.Sprintf("%d of %d available", d.Status.AvailableReplicas, n)
		}
		return ""
	})
}

func waitDaemonSet(t *testing.T, cs kubernetes.Interface, ns, name string, n int32) {
	t.Helper()
	poll(t, "DaemonSet "+ns+"/"+name, func() string {
		d, err := cs.AppsV1().DaemonSets(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		if d.Status.NumberReady != n {
			return fmt.Sprintf("%d of %d ready", d.Status.NumberReady, n)
		}
		return ""
	})
}

// waitBudget waits until the disruption controller has counted the pods a
// budget covers, so that evictions are judged by it.
func waitBudget(t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	poll(t, "PodDisruptionBudget "+ns+"/"+name, func() string {
		b, err := cs.PolicyV1().PodDisruptionBudgets(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		if b.Status.ObservedGeneration < b.Generation || b.Status.ExpectedPods == 0 {
			return "not counted yet"
		}
		return ""
	})
}

// podNodes are the nodes of the pods the selector matches that are not
// being deleted, sorted.
func podNodes(t *testing.T, cs kubernetes.Interface, ns, selector string) []string {
	t.Helper()
	pods, err := cs.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p.Spec.NodeName)
		}
	}
	slices.Sort(out)
	return out
}

func allHavePrefix(names []string, prefix string) bool {
	return len(names) > 0 && !slices.ContainsFunc(names, func(n string) bool { return !strings.HasPrefix(n, prefix) })
}
