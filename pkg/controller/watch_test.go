package controller

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

func entry(manager string, op metav1.ManagedFieldsOperationType, sub string, at time.Time, fields string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{
		Manager: manager, Operation: op, Subresource: sub, Time: &metav1.Time{Time: at},
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)},
	}
}

func owned(entries ...metav1.ManagedFieldsEntry) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "web", ManagedFields: entries}}
}

// TestOwnedDigest: which changes to an object geofed applied ask for a
// reconcile, and which do not.
func TestOwnedDigest(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Minute)
	geofed := entry(object.FieldManager, metav1.ManagedFieldsOperationApply, "", t0, `{"f:data":{"f:level":{}}}`)
	geofedLater := entry(object.FieldManager, metav1.ManagedFieldsOperationApply, "", t1, `{"f:data":{"f:level":{}},"f:x":{}}`)
	status := entry("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, "status", t0, `{"f:status":{}}`)
	statusLater := entry("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, "status", t1, `{"f:status":{"f:replicas":{}}}`)
	edit := entry("kubectl-edit", metav1.ManagedFieldsOperationUpdate, "", t0, `{"f:data":{"f:level":{}}}`)
	editAgain := entry("kubectl-edit", metav1.ManagedFieldsOperationUpdate, "", t1, `{"f:data":{"f:level":{}}}`)
	scale := entry("kubectl", metav1.ManagedFieldsOperationUpdate, "scale", t0, `{"f:spec":{"f:replicas":{}}}`)
	deleting := owned(geofed)
	deleting.DeletionTimestamp = &metav1.Time{Time: t1}

	for _, tc := range []struct {
		name     string
		old, new *metav1.PartialObjectMetadata
		fires    bool
	}{
		{"geofed applies again", owned(geofed), owned(geofedLater), false},
		{"a controller writes status", owned(geofed, status), owned(geofed, statusLater), false},
		{"someone edits", owned(geofed), owned(geofed, edit), true},
		{"someone edits the same field again", owned(geofed, edit), owned(geofed, editAgain), true},
		{"someone scales", owned(geofed), owned(geofed, scale), true},
		// Its own correction: the reconcile that made it has nothing
		// left to do, and another would find nothing either.
		{"geofed takes the field back", owned(geofed, edit), owned(geofedLater), false},
		{"geofed takes one field back, another edit stands", owned(geofed, edit, scale), owned(geofedLater, scale), true},
		{"being deleted", owned(geofed), deleting, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, err := stripOwned(tc.old)
			if err != nil {
				t.Fatal(err)
			}
			nu, err := stripOwned(tc.new)
			if err != nil {
				t.Fatal(err)
			}
			if got := changed(old, nu, true); got != tc.fires {
				t.Errorf("fires = %v, want %v", got, tc.fires)
			}
			if m := nu.(*metav1.PartialObjectMetadata); len(m.ManagedFields) > 0 || m.Name != "web" {
				t.Errorf("stripped copy keeps %+v: want the name and the digest only", m.ObjectMeta)
			}
		})
	}
}

func TestHandler(t *testing.T) {
	var fired int
	h := digestHandler(func() { fired++ }, true)
	plain, _ := stripOwned(owned())
	edited, _ := stripOwned(owned(entry("kubectl-edit", metav1.ManagedFieldsOperationUpdate, "", time.Now(), `{}`)))
	h.OnAdd(plain, true)  // the initial list, as geofed left it
	h.OnAdd(plain, false) // geofed created it
	if fired != 0 {
		t.Fatalf("fired %d times on the initial list and geofed's own create", fired)
	}
	// Edited between the reconcile's read and the watch's start: the
	// initial list is the first anyone sees of it.
	h.OnAdd(edited, true)
	h.OnAdd(edited, false)
	h.OnUpdate(plain, plain)
	h.OnUpdate(plain, edited)
	h.OnDelete(plain)
	if fired != 4 {
		t.Errorf("fired %d times, want 4 (edited before the watch, created by someone else, edited, deleted)", fired)
	}

	// Capacity's initial list is what its reconcile just counted.
	fired = 0
	c := digestHandler(func() { fired++ }, false)
	c.OnAdd(edited, true)
	if fired != 0 {
		t.Errorf("a node or pod in the initial list fired %d times, want none", fired)
	}
}

func TestCapacityDigest(t *testing.T) {
	node := func(mut func(*corev1.Node)) string {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", ResourceVersion: "1"}}
		n.Status.Allocatable = corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("2")}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}}
		if mut != nil {
			mut(n)
		}
		out, _ := stripNode(n)
		return digestOf(out)
	}
	base := node(nil)
	if node(func(n *corev1.Node) {
		n.ResourceVersion = "2"
		n.Status.Conditions[0].LastHeartbeatTime = metav1.NewTime(time.Now().Add(time.Hour))
	}) != base {
		t.Error("a heartbeat moved the node's digest: every node would re-plan every 40s")
	}
	for name, mut := range map[string]func(*corev1.Node){
		"cordoned":    func(n *corev1.Node) { n.Spec.Unschedulable = true },
		"not ready":   func(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse },
		"tainted":     func(n *corev1.Node) { n.Spec.Taints = []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoSchedule}} },
		"allocatable": func(n *corev1.Node) { n.Status.Allocatable["nvidia.com/gpu"] = resource.MustParse("1") },
	} {
		if node(mut) == base {
			t.Errorf("%s: the node's digest did not move", name)
		}
	}

	pod := func(mut func(*corev1.Pod)) string {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
		p.Spec.Containers = []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": resource.MustParse("1")}}}}
		p.Status.Phase = corev1.PodPending
		if mut != nil {
			mut(p)
		}
		out, _ := stripPod(p)
		return digestOf(out)
	}
	pending := pod(nil)
	bound := pod(func(p *corev1.Pod) { p.Spec.NodeName = "n" })
	running := pod(func(p *corev1.Pod) { p.Spec.NodeName = "n"; p.Status.Phase = corev1.PodRunning })
	done := pod(func(p *corev1.Pod) { p.Spec.NodeName = "n"; p.Status.Phase = corev1.PodSucceeded })
	if pending == bound || bound != running || running == done {
		t.Errorf("pod digests pending %s bound %s running %s done %s: want binding and ending to move it, running not", pending, bound, running, done)
	}
}
