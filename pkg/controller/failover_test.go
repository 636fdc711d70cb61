package controller

import (
	"encoding/json"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
)

func TestTrack(t *testing.T) {
	const after, restoreAfter = 2 * time.Minute, 3 * time.Minute
	t0 := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type look struct {
		at        time.Duration
		reachable bool
		want      transition
		next      time.Duration // -1: none
		excluded  bool
	}
	cases := []struct {
		name  string
		looks []look
	}{{
		name: "healthy stays",
		looks: []look{
			{0, true, steady, -1, false},
			{time.Hour, true, steady, -1, false},
		},
	}, {
		name: "an outage shorter than after changes nothing",
		looks: []look{
			{0, false, grace, after, false},
			{time.Minute, false, grace, after, false},
			{90 * time.Second, true, steady, -1, false},
		},
	}, {
		name: "failover at after, restore after restoreAfter healthy",
		looks: []look{
			{0, false, grace, after, false},
			{after, false, failedOver, -1, true},
			{10 * time.Minute, false, steady, -1, true},
			{11 * time.Minute, true, recovering, 11*time.Minute + restoreAfter, true},
			{12 * time.Minute, true, recovering, 11*time.Minute + restoreAfter, true},
			{11*time.Minute + restoreAfter, true, restored, -1, false},
			{20 * time.Minute, true, steady, -1, false},
		},
	}, {
		name: "a flap while recovering starts the restore clock over",
		looks: []look{
			{0, false, grace, after, false},
			{after, false, failedOver, -1, true},
			{5 * time.Minute, true, recovering, 5*time.Minute + restoreAfter, true},
			{6 * time.Minute, false, steady, -1, true},
			{7 * time.Minute, true, recovering, 7*time.Minute + restoreAfter, true},
			{7*time.Minute + restoreAfter - time.Second, true, recovering, 7*time.Minute + restoreAfter, true},
			{7*time.Minute + restoreAfter, true, restored, -1, false},
		},
	}, {
		name: "a flap during grace starts the outage clock over",
		looks: []look{
			{0, false, grace, after, false},
			{time.Minute, true, steady, -1, false},
			{2 * time.Minute, false, grace, 2*time.Minute + after, false},
			{2*time.Minute + after, false, failedOver, -1, true},
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := &v1alpha1.ClusterStatus{Name: "c"}
			for i, l := range tc.looks {
				got, next := track(st, l.reachable, at(l.at), after, restoreAfter)
				wantNext := time.Time{}
				if l.next >= 0 {
					wantNext = at(l.next)
				}
				if got != l.want || !next.Equal(wantNext) || st.Excluded != l.excluded {
					t.Fatalf("look %d (at %s, reachable %v): got %v next %v excluded %v; want %v next %v excluded %v",
						i, l.at, l.reachable, got, next, st.Excluded, l.want, wantNext, l.excluded)
				}
				if l.reachable && st.UnreachableSince != nil {
					t.Fatalf("look %d: reachable but unreachableSince %v", i, st.UnreachableSince)
				}
				if !l.reachable && (st.UnreachableSince == nil || st.ReachableSince != nil) {
					t.Fatalf("look %d: unreachable with unreachableSince %v, reachableSince %v", i, st.UnreachableSince, st.ReachableSince)
				}
			}
		})
	}
}

// The state survives a round trip through the API server, which keeps
// times to the second: a restart of the controller (or a new leader) goes
// on from the status, not from memory.
func TestTrackFromStoredStatus(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)
	st := &v1alpha1.ClusterStatus{Name: "c", UnreachableSince: &metav1.Time{Time: t0}}
	if got, _ := track(st, false, t0.Add(2*time.Minute), 2*time.Minute, time.Minute); got != failedOver {
		t.Fatalf("got %v, want failedOver", got)
	}
}

// TestTrackThroughTheStatus: the clocks go through the status, which keeps
// whole seconds; read back, they must never make an outage or a recovery
// longer than it was.
func TestTrackThroughTheStatus(t *testing.T) {
	const after = 10 * time.Second
	seen := time.Date(2026, 1, 1, 3, 0, 0, 900_000_000, time.UTC) // .9 s
	st := &v1alpha1.ClusterStatus{}
	track(st, false, seen, after, after)
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back v1alpha1.ClusterStatus
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if tr, _ := track(&back, false, seen.Add(after-time.Millisecond), after, after); tr == failedOver {
		t.Fatalf("failed over %s after the member was first seen down, before failover.after (%s)", after-time.Millisecond, after)
	}
	if tr, _ := track(&back, false, seen.Add(after+time.Second), after, after); tr != failedOver {
		t.Fatalf("not failed over a second after failover.after: %v", tr)
	}
}
