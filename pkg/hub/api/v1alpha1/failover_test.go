package v1alpha1

import (
	"encoding/json"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestClusterStatusTrack(t *testing.T) {
	const after, restoreAfter = 2 * time.Minute, 3 * time.Minute
	t0 := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type look struct {
		at        time.Duration
		reachable bool
		want      Transition
		next      time.Duration // -1: none
		excluded  bool
	}
	cases := []struct {
		name  string
		looks []look
	}{{
		name: "healthy stays",
		looks: []look{
			{0, true, Steady, -1, false},
			{time.Hour, true, Steady, -1, false},
		},
	}, {
		name: "an outage shorter than after changes nothing",
		looks: []look{
			{0, false, Grace, after, false},
			{time.Minute, false, Grace, after, false},
			{90 * time.Second, true, Steady, -1, false},
		},
	}, {
		name: "failover at after, restore after restoreAfter healthy",
		looks: []look{
			{0, false, Grace, after, false},
			{after, false, FailedOver, -1, true},
			{10 * time.Minute, false, Steady, -1, true},
			{11 * time.Minute, true, Recovering, 11*time.Minute + restoreAfter, true},
			{12 * time.Minute, true, Recovering, 11*time.Minute + restoreAfter, true},
			{11*time.Minute + restoreAfter, true, Restored, -1, false},
			{20 * time.Minute, true, Steady, -1, false},
		},
	}, {
		name: "a flap while Recovering starts the restore clock over",
		looks: []look{
			{0, false, Grace, after, false},
			{after, false, FailedOver, -1, true},
			{5 * time.Minute, true, Recovering, 5*time.Minute + restoreAfter, true},
			{6 * time.Minute, false, Steady, -1, true},
			{7 * time.Minute, true, Recovering, 7*time.Minute + restoreAfter, true},
			{7*time.Minute + restoreAfter - time.Second, true, Recovering, 7*time.Minute + restoreAfter, true},
			{7*time.Minute + restoreAfter, true, Restored, -1, false},
		},
	}, {
		name: "a flap during Grace starts the outage clock over",
		looks: []look{
			{0, false, Grace, after, false},
			{time.Minute, true, Steady, -1, false},
			{2 * time.Minute, false, Grace, 2*time.Minute + after, false},
			{2*time.Minute + after, false, FailedOver, -1, true},
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := &ClusterStatus{Name: "c"}
			for i, l := range tc.looks {
				got, next := st.Track(l.reachable, at(l.at), at(l.at), after, restoreAfter)
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
	st := &ClusterStatus{Name: "c", UnreachableSince: &metav1.Time{Time: t0}}
	if got, _ := st.Track(false, t0.Add(2*time.Minute), t0.Add(2*time.Minute), 2*time.Minute, time.Minute); got != FailedOver {
		t.Fatalf("got %v, want failedOver", got)
	}
}

// TestTrackThroughTheStatus: the clocks go through the status, which keeps
// whole seconds; read back, they must never make an outage or a recovery
// longer than it was.
func TestTrackThroughTheStatus(t *testing.T) {
	const after = 10 * time.Second
	seen := time.Date(2026, 1, 1, 3, 0, 0, 900_000_000, time.UTC) // .9 s
	st := &ClusterStatus{}
	st.Track(false, seen, seen, after, after)
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back ClusterStatus
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if tr, _ := back.Track(false, seen.Add(after-time.Millisecond), seen.Add(after-time.Millisecond), after, after); tr == FailedOver {
		t.Fatalf("failed over %s after the member was first seen down, before failover.after (%s)", after-time.Millisecond, after)
	}
	if tr, _ := back.Track(false, seen.Add(after+time.Second), seen.Add(after+time.Second), after, after); tr != FailedOver {
		t.Fatalf("not failed over a second after failover.after: %v", tr)
	}
}

// The clocks start when the member was first seen in its state (by the
// health probe), not when a reconcile looks: a reconcile that comes late
// does not lengthen an outage or a recovery.
func TestTrackFromSince(t *testing.T) {
	const after, restoreAfter = 15 * time.Second, 10 * time.Second
	t0 := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		st        ClusterStatus
		reachable bool
		lookAt    time.Duration // after t0, the member seen so since t0
		want      Transition
		next      time.Duration // -1: none
	}{
		{"an outage seen late, still in grace", ClusterStatus{}, false, 5 * time.Second, Grace, after},
		{"an outage seen late, past after", ClusterStatus{}, false, after, FailedOver, -1},
		{"a recovery seen late, still recovering", ClusterStatus{Excluded: true}, true, 5 * time.Second, Recovering, restoreAfter},
		{"a recovery seen late, past restoreAfter", ClusterStatus{Excluded: true}, true, restoreAfter, Restored, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.st
			got, next := st.Track(tc.reachable, t0, t0.Add(tc.lookAt), after, restoreAfter)
			wantNext := time.Time{}
			if tc.next >= 0 {
				wantNext = t0.Add(tc.next)
			}
			if got != tc.want || !next.Equal(wantNext) {
				t.Fatalf("got %v next %v, want %v next %v", got, next, tc.want, wantNext)
			}
		})
	}
}
