package controller

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
)

// transition is what one look at a member changed in its failover state.
type transition int

const (
	steady transition = iota
	// grace: unreachable, not yet for failover.after; the fleet is left
	// as it is until the member is back or the grace ends.
	grace
	// failedOver: unreachable for failover.after; from now on it is
	// excluded and its share goes to the others.
	failedOver
	// recovering: excluded, reachable again, not yet for restoreAfter.
	recovering
	// restored: reachable for restoreAfter; its share returns.
	restored
)

// track advances one member's failover state after it was seen reachable
// or not at now, and says when the state moves next (zero: only when
// reachability changes). It never excludes a member at its first failure
// nor restores it at its first success: an outage must last after, and a
// recovery restoreAfter, and either clock starts over when the member
// flips back. So a member that flaps stays where it is.
func track(st *v1alpha1.ClusterStatus, reachable bool, now time.Time, after, restoreAfter time.Duration) (transition, time.Time) {
	if reachable {
		st.UnreachableSince = nil
		if !st.Excluded {
			return steady, time.Time{}
		}
		if st.ReachableSince == nil {
			st.ReachableSince = &metav1.Time{Time: ceilSecond(now)}
		}
		if at := st.ReachableSince.Add(restoreAfter); now.Before(at) {
			return recovering, at
		}
		st.Excluded, st.ReachableSince = false, nil
		return restored, time.Time{}
	}
	st.ReachableSince = nil
	if st.UnreachableSince == nil {
		st.UnreachableSince = &metav1.Time{Time: ceilSecond(now)}
	}
	if st.Excluded {
		return steady, time.Time{}
	}
	if at := st.UnreachableSince.Add(after); now.Before(at) {
		return grace, at
	}
	st.Excluded = true
	return failedOver, time.Time{}
}

// ceilSecond rounds up to a whole second: the status stores times to the
// second, and a clock read back rounded down would fail over (or restore)
// up to a second early.
func ceilSecond(t time.Time) time.Time {
	if s := t.Truncate(time.Second); !s.Equal(t) {
		return s.Add(time.Second)
	}
	return t
}
