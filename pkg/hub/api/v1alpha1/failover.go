package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Transition is what one look at a member changed in its failover state.
type Transition int

const (
	// Steady: nothing changed.
	Steady Transition = iota
	// Grace: unreachable, not yet for failover.after; the fleet is left
	// as it is until the member is back or the grace ends.
	Grace
	// FailedOver: unreachable for failover.after; from now on it is
	// excluded and its share goes to the others.
	FailedOver
	// Recovering: excluded, reachable again, not yet for restoreAfter.
	Recovering
	// Restored: reachable for restoreAfter; its share returns.
	Restored
)

// Moves reports whether the transition changes which members placement
// counts: a plan made before it is stale.
func (t Transition) Moves() bool { return t == FailedOver || t == Restored }

// Track advances the member's failover clocks after it was seen reachable
// or not, in that state since `since` (when the current outage or recovery
// was first seen; the clock starts there unless the status already holds
// one), looked at now; it says when the state moves next (zero: only when
// reachability changes). It never excludes a member at its first failure
// nor restores it at its first success: an outage must last after, and a
// recovery restoreAfter, and either clock starts over when the member
// flips back. So a member that flaps stays where it is.
func (c *ClusterStatus) Track(reachable bool, since, now time.Time, after, restoreAfter time.Duration) (Transition, time.Time) {
	if reachable {
		c.UnreachableSince = nil
		if !c.Excluded {
			return Steady, time.Time{}
		}
		if c.ReachableSince == nil {
			c.ReachableSince = &metav1.Time{Time: ceilSecond(since)}
		}
		if at := c.ReachableSince.Add(restoreAfter); now.Before(at) {
			return Recovering, at
		}
		c.Excluded, c.ReachableSince = false, nil
		return Restored, time.Time{}
	}
	c.ReachableSince = nil
	if c.UnreachableSince == nil {
		c.UnreachableSince = &metav1.Time{Time: ceilSecond(since)}
	}
	if c.Excluded {
		return Steady, time.Time{}
	}
	if at := c.UnreachableSince.Add(after); now.Before(at) {
		return Grace, at
	}
	c.Excluded = true
	return FailedOver, time.Time{}
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
