package inventory

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/utils/ptr"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

// DefaultLockTTL is how long an apply lock outlives its holder: long enough
// that a slow apiserver does not lose it, short enough that a crashed apply
// does not block the next one for long.
const DefaultLockTTL = 30 * time.Second

// lockPollInterval is how often a waiting AcquireLock looks at a held Lease
// again.
const lockPollInterval = 500 * time.Millisecond

// LockOptions says which apply lock to take on one member cluster, and how.
type LockOptions struct {
	// Topology names the Lease (geofed-<topology>): two applies of the same
	// topology exclude each other, different topologies do not.
	Topology string
	// Cluster is the member cluster's name; it only appears in messages.
	Cluster string
	// Holder is written to the Lease so that a refused apply can say who
	// holds it, e.g. "host/pid 4242". DefaultHolder() when empty.
	Holder string
	// TTL is the Lease's leaseDurationSeconds (rounded up to whole seconds,
	// as the Lease stores it): a holder that dies stops renewing and
	// others take the lock after it. DefaultLockTTL when zero. The lock is
	// renewed every TTL/3, so two renewals may fail before it expires.
	TTL time.Duration
	// Wait is how long to wait for a held lock (--lock-timeout): 0 refuses
	// at once; otherwise the Lease is polled until it is free or Wait has
	// elapsed.
	Wait time.Duration
	// Now is the clock for the Lease's times; time.Now when nil. Tests set
	// it to make durations in messages exact.
	Now func() time.Time
}

// DefaultHolder identifies this process as "<hostname>/pid <pid>": enough for
// a person to find the apply that holds a lock.
func DefaultHolder() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s/pid %d", host, os.Getpid())
}

// HeldError is AcquireLock's refusal: another holder has the lock and it has
// not expired. Callers tell it apart with errors.As to report it per cluster.
type HeldError struct {
	Cluster, Topology, Holder string
	// Since is how long ago the holder acquired the lock.
	Since time.Duration
	// Expires is how long until the lock expires if the holder stops
	// renewing it.
	Expires time.Duration
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("cluster %s: apply of topology %s is held by %s since %s (expires in %s unless renewed; --lock-timeout waits for it)",
		e.Cluster, e.Topology, e.Holder, e.Since.Round(time.Second), e.Expires.Round(time.Second))
}

// errLockTaken ends renewal: the Lease is no longer ours, and renewing it
// again would be overwriting the new holder.
var errLockTaken = errors.New("the Lease was taken over or deleted by someone else")

// Lock is a held apply lock on one member cluster. It renews itself until
// Release, or until the context given to AcquireLock ends.
type Lock struct {
	leases coordinationv1client.LeaseInterface
	o      LockOptions // with defaults filled in
	ttl    time.Duration

	lost     chan struct{} // closed by the renewal goroutine before it returns
	stop     chan struct{} // closed by Release
	stopOnce sync.Once
	done     chan struct{} // closed when the renewal goroutine has returned

	mu sync.Mutex
	// lease is the Lease as we last wrote it: its resourceVersion is the
	// precondition of the next renewal and of the delete. Nil once deleted.
	lease *coordinationv1.Lease
}

// AcquireLock takes the apply lock of o.Topology on a member cluster: the
// Lease geofed-<topology> in kube-system. A lock held by someone else is
// refused with a *HeldError (after waiting up to o.Wait). ctx bounds the
// lock's life: renewal stops when it ends, so it must outlive the work the
// lock protects. The caller must call Release.
func AcquireLock(ctx context.Context, leases coordinationv1client.LeasesGetter, o LockOptions) (*Lock, error) {
	if o.Holder == "" {
		o.Holder = DefaultHolder()
	}
	if o.TTL <= 0 {
		o.TTL = DefaultLockTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Topology == "" {
		return nil, fmt.Errorf("taking the apply lock on cluster %s: no topology named", o.Cluster)
	}
	l := &Lock{
		leases: leases.Leases(ParentNamespace),
		o:      o,
		// The Lease stores whole seconds; renewing by the rounded TTL
		// keeps renewals in step with what others read.
		ttl:  (o.TTL + time.Second - 1).Truncate(time.Second),
		lost: make(chan struct{}),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	lease, err := l.acquire(ctx)
	if err != nil {
		var held *HeldError
		if errors.As(err, &held) {
			return nil, held
		}
		return nil, fmt.Errorf("taking the apply lock %s: %w", l.describe(), err)
	}
	l.lease = lease
	go l.renewLoop(ctx)
	return l, nil
}

// Lost is closed when the lock cannot be trusted any more: someone else took
// the Lease over, or renewals failed until it could expire. The caller
// cancels its work then. Release does not close it.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Release stops renewing and deletes the Lease, with the UID and
// resourceVersion we last wrote as preconditions: a Lease someone else took
// over after ours expired is theirs, and stays. Calling it again is a no-op
// once the Lease is gone; after a failed delete it tries again.
func (l *Lock) Release(ctx context.Context) error {
	l.stopOnce.Do(func() { close(l.stop) })
	// A renewal in flight finishes first (within its deadline), so the
	// precondition is the resourceVersion the server has.
	select {
	case <-l.done:
	case <-ctx.Done():
		return fmt.Errorf("releasing the apply lock %s: %w", l.describe(), ctx.Err())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lease == nil {
		return nil
	}
	reqCtx, cancel := context.WithTimeout(ctx, l.requestTimeout())
	defer cancel()
	err := l.leases.Delete(reqCtx, l.lease.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &l.lease.UID, ResourceVersion: &l.lease.ResourceVersion},
	})
	// Conflict: the preconditions failed, the Lease is someone else's now.
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("releasing the apply lock %s: deleting it: %w", l.describe(), err)
	}
	l.lease = nil
	return nil
}

func (l *Lock) describe() string {
	return fmt.Sprintf("Lease %s/%s on cluster %s", ParentNamespace, ParentName(l.o.Topology), l.o.Cluster)
}

// requestTimeout bounds every request, so that a hanging apiserver cannot
// hold a renewal past the next one.
func (l *Lock) requestTimeout() time.Duration { return l.ttl / 3 }

// acquire loops until the Lease is ours, refused, or a request fails. Losing
// a race (AlreadyExists, Conflict) means someone else wrote it between our
// read and write: read it again to see who.
func (l *Lock) acquire(ctx context.Context) (*coordinationv1.Lease, error) {
	deadline := l.o.Now().Add(l.o.Wait)
	for {
		current, err := l.get(ctx)
		if apierrors.IsNotFound(err) {
			created, err := l.create(ctx)
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("creating it: %w", err)
			}
			return created, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading it: %w", err)
		}

		now := l.o.Now()
		if held := l.heldBy(current, now); held != nil {
			remaining := deadline.Sub(now)
			if remaining <= 0 {
				return nil, held
			}
			if err := sleep(ctx, min(lockPollInterval, remaining)); err != nil {
				return nil, fmt.Errorf("waiting for %s to release it: %w", held.Holder, err)
			}
			continue
		}

		next := current.DeepCopy()
		l.claim(next, now)
		taken, err := l.update(ctx, next)
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("taking it over from %q: %w", ptr.Deref(current.Spec.HolderIdentity, ""), err)
		}
		return taken, nil
	}
}

// heldBy returns the refusal when lease is held by someone else and has not
// expired; nil when we may take it. Expiry compares the holder's renewTime
// with our clock, so clocks skewed by more than a TTL misjudge it.
func (l *Lock) heldBy(lease *coordinationv1.Lease, now time.Time) *HeldError {
	holder := ptr.Deref(lease.Spec.HolderIdentity, "")
	if holder == "" || holder == l.o.Holder {
		return nil
	}
	// A Lease written by hand may lack the times: fall back on the
	// next best, so that it still expires.
	acquired := lease.CreationTimestamp.Time
	if t := lease.Spec.AcquireTime; t != nil {
		acquired = t.Time
	}
	renewed := acquired
	if t := lease.Spec.RenewTime; t != nil {
		renewed = t.Time
	}
	ttl := l.ttl
	if s := lease.Spec.LeaseDurationSeconds; s != nil {
		ttl = time.Duration(*s) * time.Second
	}
	expires := renewed.Add(ttl)
	if !now.Before(expires) {
		return nil
	}
	return &HeldError{
		Cluster:  l.o.Cluster,
		Topology: l.o.Topology,
		Holder:   holder,
		Since:    max(now.Sub(acquired), 0),
		Expires:  expires.Sub(now),
	}
}

// claim makes lease ours, acquired now.
func (l *Lock) claim(lease *coordinationv1.Lease, now time.Time) {
	lease.Name = ParentName(l.o.Topology)
	lease.Namespace = ParentNamespace
	if lease.Labels == nil {
		lease.Labels = map[string]string{}
	}
	lease.Labels[object.LabelManagedBy] = object.ManagedByValue
	lease.Labels[object.LabelTopology] = l.o.Topology
	t := metav1.NewMicroTime(now)
	lease.Spec.HolderIdentity = ptr.To(l.o.Holder)
	lease.Spec.LeaseDurationSeconds = ptr.To(int32(l.ttl / time.Second))
	lease.Spec.AcquireTime = &t
	lease.Spec.RenewTime = &t
}

// renewLoop renews the Lease every TTL/3 until Release or ctx ends, and
// closes Lost when it no longer can.
func (l *Lock) renewLoop(ctx context.Context) {
	defer close(l.done)
	interval := l.ttl / 3
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		err := l.renew(ctx)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return
		}
		// The next attempt would come after others may take the Lease:
		// stop trusting it now rather than after someone has.
		if errors.Is(err, errLockTaken) || !l.o.Now().Add(interval).Before(l.expiry()) {
			close(l.lost)
			return
		}
	}
}

// renew writes a new renewTime with the resourceVersion we last wrote.
func (l *Lock) renew(ctx context.Context) error {
	l.mu.Lock()
	ours := l.lease
	l.mu.Unlock()
	next := ours.DeepCopy()
	next.Spec.RenewTime = ptr.To(metav1.NewMicroTime(l.o.Now()))
	updated, err := l.update(ctx, next)
	if apierrors.IsConflict(err) {
		// A renewal whose answer timed out may still have been written:
		// then the Lease is ours at a newer resourceVersion. Anything else
		// (another holder, or the same holder name acquiring afresh) is a
		// takeover.
		current, getErr := l.get(ctx)
		if apierrors.IsNotFound(getErr) {
			return errLockTaken
		}
		if getErr != nil {
			return getErr
		}
		if current.UID != ours.UID || ptr.Deref(current.Spec.HolderIdentity, "") != l.o.Holder || !current.Spec.AcquireTime.Equal(ours.Spec.AcquireTime) {
			return errLockTaken
		}
		next = current.DeepCopy()
		next.Spec.RenewTime = ptr.To(metav1.NewMicroTime(l.o.Now()))
		updated, err = l.update(ctx, next)
	}
	if apierrors.IsNotFound(err) {
		return errLockTaken
	}
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.lease = updated
	l.mu.Unlock()
	return nil
}

// expiry is when others may take the Lease if no renewal succeeds.
func (l *Lock) expiry() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lease.Spec.RenewTime.Add(l.ttl)
}

func (l *Lock) get(ctx context.Context) (*coordinationv1.Lease, error) {
	ctx, cancel := context.WithTimeout(ctx, l.requestTimeout())
	defer cancel()
	return l.leases.Get(ctx, ParentName(l.o.Topology), metav1.GetOptions{})
}

func (l *Lock) create(ctx context.Context) (*coordinationv1.Lease, error) {
	lease := &coordinationv1.Lease{}
	l.claim(lease, l.o.Now())
	ctx, cancel := context.WithTimeout(ctx, l.requestTimeout())
	defer cancel()
	return l.leases.Create(ctx, lease, metav1.CreateOptions{FieldManager: object.FieldManager})
}

// update writes lease with its resourceVersion as precondition.
func (l *Lock) update(ctx context.Context, lease *coordinationv1.Lease) (*coordinationv1.Lease, error) {
	ctx, cancel := context.WithTimeout(ctx, l.requestTimeout())
	defer cancel()
	return l.leases.Update(ctx, lease, metav1.UpdateOptions{FieldManager: object.FieldManager})
}

// sleep waits for d, or returns ctx's error when it ends first.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
