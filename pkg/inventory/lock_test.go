package inventory_test

import (
	"context"
	"errors"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/utils/ptr"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

func TestLockHeldErrorMessage(t *testing.T) {
	for _, tt := range []struct {
		since, expires time.Duration
		want           string
	}{
		{12 * time.Second, 18 * time.Second, "cluster serving-us: apply of topology ai-platform is held by host/pid 4242 since 12s (expires in 18s unless renewed; --lock-timeout waits for it)"},
		{11600 * time.Millisecond, 400 * time.Millisecond, "cluster serving-us: apply of topology ai-platform is held by host/pid 4242 since 12s (expires in 0s unless renewed; --lock-timeout waits for it)"},
		{90 * time.Second, 29 * time.Second, "cluster serving-us: apply of topology ai-platform is held by host/pid 4242 since 1m30s (expires in 29s unless renewed; --lock-timeout waits for it)"},
	} {
		err := &inventory.HeldError{Cluster: "serving-us", Topology: "ai-platform", Holder: "host/pid 4242", Since: tt.since, Expires: tt.expires}
		if got := err.Error(); got != tt.want {
			t.Errorf("Since %s, Expires %s:\n got %s\nwant %s", tt.since, tt.expires, got, tt.want)
		}
	}
}

// TestLock runs against one real apiserver. Every subtest has a topology of
// its own, so they run in parallel and the whole takes about its slowest.
func TestLock(t *testing.T) {
	_, clusters := labtest.New(t, lab.ClusterSpec{Name: "c1"})
	cfg := clusters[0].RESTConfig()
	// Parallel subtests renew every few hundred milliseconds through one
	// client: client-go's default 5 QPS would delay renewals past expiry.
	cfg.QPS, cfg.Burst = 100, 200
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	leases := cs.CoordinationV1()

	t.Run("acquire over what is there", func(t *testing.T) {
		t.Parallel()
		now := time.Now()
		for _, tt := range []struct {
			name, topology string
			holder         string // empty: DefaultHolder
			existing       *coordinationv1.LeaseSpec
			wantHeldBy     string
		}{
			{name: "nothing: created", topology: "empty", existing: nil},
			{name: "released: taken", topology: "released", holder: "me/pid 1",
				existing: spec("", now, 30*time.Second)},
			{name: "expired: taken", topology: "expired", holder: "me/pid 1",
				existing: spec("dead/pid 2", now.Add(-10*time.Second), 2*time.Second)},
			{name: "our own: taken afresh", topology: "ours", holder: "me/pid 1",
				existing: spec("me/pid 1", now, 30*time.Second)},
			{name: "held: refused", topology: "held", holder: "me/pid 1",
				existing: spec("other/pid 3", now, 30*time.Second), wantHeldBy: "other/pid 3"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				if tt.existing != nil {
					putLease(t, leases, tt.topology, tt.existing)
				}
				start := time.Now()
				l, err := inventory.AcquireLock(t.Context(), leases, inventory.LockOptions{
					Topology: tt.topology, Cluster: "c1", Holder: tt.holder, TTL: 2 * time.Second,
				})
				if tt.wantHeldBy != "" {
					var held *inventory.HeldError
					if !errors.As(err, &held) {
						t.Fatalf("AcquireLock = %v, want a *HeldError", err)
					}
					// The Lease was renewed at now: what is left of its 30s
					// is 30s less the time since, however slow the machine.
					left := 30*time.Second - time.Since(now)
					if held.Holder != tt.wantHeldBy || held.Cluster != "c1" || held.Topology != tt.topology ||
						held.Expires < left-time.Second || held.Expires > 30*time.Second {
						t.Errorf("HeldError = %+v, want held by %s on c1 for %s, expiring in about 30s", held, tt.wantHeldBy, tt.topology)
					}
					if got := getLease(t, leases, tt.topology); ptr.Deref(got.Spec.HolderIdentity, "") != tt.wantHeldBy {
						t.Errorf("a refused acquire changed the holder to %q", ptr.Deref(got.Spec.HolderIdentity, ""))
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				want := tt.holder
				if want == "" {
					want = inventory.DefaultHolder()
				}
				got := getLease(t, leases, tt.topology)
				if h := ptr.Deref(got.Spec.HolderIdentity, ""); h != want {
					t.Errorf("holderIdentity = %q, want %q", h, want)
				}
				if d := ptr.Deref(got.Spec.LeaseDurationSeconds, 0); d != 2 {
					t.Errorf("leaseDurationSeconds = %d, want 2", d)
				}
				if a := got.Spec.AcquireTime; a == nil || a.Time.Before(start.Truncate(time.Microsecond)) || !got.Spec.RenewTime.Equal(a) {
					t.Errorf("acquireTime %v, renewTime %v: want both set to the acquisition, after %v", a, got.Spec.RenewTime, start)
				}
				if got.Labels[object.LabelManagedBy] != "kubectl-geofed" || got.Labels[object.LabelTopology] != tt.topology {
					t.Errorf("labels = %v", got.Labels)
				}
				for i := range 2 {
					if err := l.Release(t.Context()); err != nil {
						t.Fatalf("Release #%d: %v", i+1, err)
					}
				}
				if _, err := leases.Leases(inventory.ParentNamespace).Get(t.Context(), inventory.ParentName(tt.topology), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					t.Errorf("after Release, GET = %v, want NotFound", err)
				}
			})
		}
	})

	t.Run("a second apply is refused naming the holder", func(t *testing.T) {
		t.Parallel()
		first, err := inventory.AcquireLock(t.Context(), leases, inventory.LockOptions{
			Topology: "ai-platform", Cluster: "serving-us", Holder: "host/pid 4242", // default TTL: 30s
		})
		if err != nil {
			t.Fatal(err)
		}
		defer release(t, first)
		got := getLease(t, leases, "ai-platform")
		if d := ptr.Deref(got.Spec.LeaseDurationSeconds, 0); d != 30 {
			t.Errorf("leaseDurationSeconds = %d, want the default 30", d)
		}
		acquired := got.Spec.AcquireTime.Time
		for _, tt := range []struct {
			wait time.Duration
		}{{0}, {time.Second}} {
			start := time.Now()
			_, err := inventory.AcquireLock(t.Context(), leases, inventory.LockOptions{
				Topology: "ai-platform", Cluster: "serving-us", Holder: "other/pid 1", Wait: tt.wait,
				Now: func() time.Time { return acquired.Add(12 * time.Second).Add(time.Since(start)) },
			})
			elapsed := time.Since(start)
			var held *inventory.HeldError
			if !errors.As(err, &held) {
				t.Fatalf("Wait %s: AcquireLock = %v, want a *HeldError", tt.wait, err)
			}
			const want = "cluster serving-us: apply of topology ai-platform is held by host/pid 4242 since 12s (expires in 18s unless renewed; --lock-timeout waits for it)"
			if tt.wait == 0 && err.Error() != want {
				t.Errorf("Wait 0:\n got %v\nwant %s", err, want)
			}
			if elapsed < tt.wait || elapsed > tt.wait+time.Second {
				t.Errorf("Wait %s: refused after %s", tt.wait, elapsed)
			}
		}
	})

	t.Run("waiting takes the lock once the holder releases it", func(t *testing.T) {
		t.Parallel()
		first, err := inventory.AcquireLock(t.Context(), leases, inventory.LockOptions{Topology: "handover", Cluster: "c1", Holder: "first", TTL: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		released := make(chan error, 1)
		go func() {
			time.Sleep(time.Second)
			released <- first.Release(context.Background())
		}()
		start := time.Now()
		second, err := inventory.AcquireLock(t.Context(), leases, inventory.LockOptions{Topology: "handover", Cluster: "c1", Holder: "second", TTL: 2 * time.Second, Wait: 10 * time.Second})
		elapsed := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		defer release(t, second)
		if err := <-released; err != nil {
			t.Fatalf("first Release: %v", err)
		}
		t.Logf("acquired after %s", elapsed)
		if elapsed < 900*time.Millisecond || elapsed > 2*time.Second {
			t.Errorf("acquired after %s, want about 1s (the release, not the expiry)", elapsed)
		}
		if h := ptr.Deref(getLease(t, leases, "handover").Spec.HolderIdentity, ""); h != "second" {
			t.Errorf("holder = %q, want second", h)
		}
	})

	t.Run("a dead holder's lock is taken after it expires", func(t *testing.T) {
		t.Parallel()
		putLease(t, leases, "dead", spec("crashed/pid 7", time.Now(), 2*time.Second))
		opts := inventory.LockOptions{Topology: "dead", Cluster: "c1", Holder: "next", TTL: 2 * time.Second}
		var held *inventory.HeldError
		if _, err := inventory.AcquireLock(t.Context(), leases, opts); !errors.As(err, &held) || held.Holder != "crashed/pid 7" {
			t.Fatalf("before expiry: AcquireLock = %v, want held by crashed/pid 7", err)
		}
		opts.Wait = 5 * time.Second
		start := time.Now()
		l, err := inventory.AcquireLock(t.Context(), leases, opts)
		elapsed := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		defer release(t, l)
		t.Logf("taken over after %s", elapsed)
		if elapsed < time.Second || elapsed > 3*time.Second {
			t.Errorf("taken over after %s, want about 2s (the TTL)", elapsed)
		}
		if h := ptr.Deref(getLease(t, leases, "dead").Spec.HolderIdentity, ""); h != "next" {
			t.Errorf("holder = %q, want next", h)
		}
	})

	t.Run("renewal keeps the lock past its TTL", func(t *testing.T) {
		t.Parallel()
		l, err := inventory.AcquireLock(t.Context(), leases, inventory.LockOptions{Topology: "renewed", Cluster: "c1", Holder: "busy", TTL: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer release(t, l)
		seen := map[time.Time]bool{}
		for deadline := time.Now().Add(2500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			seen[getLease(t, leases, "renewed").Spec.RenewTime.Time] = true
		}
		// Every 1s/3 for 2.5s: about 8 renewTimes; fewer than 4 means
		// renewals stalled.
		if len(seen) < 4 {
			t.Errorf("saw %d distinct renewTimes in 2.5s with a 1s TTL, want at least 4", len(seen))
		}
		var held *inventory.HeldError
		if _, err := inventory.AcquireLock(t.Context(), leases, inventory.LockOptions{Topology: "renewed", Cluster: "c1", Holder: "other", TTL: time.Second}); !errors.As(err, &held) {
			t.Errorf("after 2.5 TTLs, another AcquireLock = %v, want a *HeldError", err)
		}
		select {
		case <-l.Lost():
			t.Error("Lost() closed while renewals succeed")
		default:
		}
	})

	t.Run("renewal ends with the context; the next holder's lease survives Release", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		l, err := inventory.AcquireLock(ctx, leases, inventory.LockOptions{Topology: "abandoned", Cluster: "c1", Holder: "gone", TTL: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond) // one renewal
		cancel()
		time.Sleep(100 * time.Millisecond)
		before := getLease(t, leases, "abandoned").Spec.RenewTime
		next, err := inventory.AcquireLock(t.Context(), leases, inventory.LockOptions{Topology: "abandoned", Cluster: "c1", Holder: "next", TTL: 2 * time.Second, Wait: 3 * time.Second})
		if err != nil {
			t.Fatalf("taking over an unrenewed lock: %v", err)
		}
		defer release(t, next)
		if got := getLease(t, leases, "abandoned"); !got.Spec.AcquireTime.Time.After(before.Time.Add(900 * time.Millisecond)) {
			t.Errorf("taken over at %v, but the old lease was renewed at %v with a 1s TTL: renewal went on after the context ended", got.Spec.AcquireTime, before)
		}
		if err := l.Release(t.Context()); err != nil {
			t.Fatalf("Release of the old lock: %v", err)
		}
		if h := ptr.Deref(getLease(t, leases, "abandoned").Spec.HolderIdentity, ""); h != "next" {
			t.Errorf("after the old holder's Release, holder = %q, want next (its lease untouched)", h)
		}
	})

	t.Run("Lost closes when someone else overwrites the lease", func(t *testing.T) {
		t.Parallel()
		l, err := inventory.AcquireLock(t.Context(), leases, inventory.LockOptions{Topology: "stolen", Cluster: "c1", Holder: "victim", TTL: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		lease := getLease(t, leases, "stolen")
		lease.Spec.HolderIdentity = ptr.To("intruder")
		if _, err := leases.Leases(inventory.ParentNamespace).Update(t.Context(), lease, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		select {
		case <-l.Lost():
			t.Logf("Lost after %s", time.Since(start))
		case <-time.After(3 * time.Second):
			t.Fatal("Lost() still open 3s after the lease was overwritten (renewal every 667ms)")
		}
		for i := range 2 {
			if err := l.Release(t.Context()); err != nil {
				t.Fatalf("Release #%d: %v", i+1, err)
			}
		}
		got := getLease(t, leases, "stolen")
		if h := ptr.Deref(got.Spec.HolderIdentity, ""); h != "intruder" {
			t.Errorf("after Release, holder = %q, want intruder (its lease untouched)", h)
		}
	})
}

func spec(holder string, renewed time.Time, ttl time.Duration) *coordinationv1.LeaseSpec {
	t := metav1.NewMicroTime(renewed)
	return &coordinationv1.LeaseSpec{
		HolderIdentity:       ptr.To(holder),
		LeaseDurationSeconds: ptr.To(int32(ttl / time.Second)),
		AcquireTime:          &t,
		RenewTime:            &t,
	}
}

// putLease creates the Lease another holder would have left.
func putLease(t *testing.T, leases coordinationv1client.LeasesGetter, topology string, spec *coordinationv1.LeaseSpec) {
	t.Helper()
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: inventory.ParentName(topology), Namespace: inventory.ParentNamespace},
		Spec:       *spec,
	}
	if _, err := leases.Leases(inventory.ParentNamespace).Create(t.Context(), lease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func getLease(t *testing.T, leases coordinationv1client.LeasesGetter, topology string) *coordinationv1.Lease {
	t.Helper()
	lease, err := leases.Leases(inventory.ParentNamespace).Get(t.Context(), inventory.ParentName(topology), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return lease
}

func release(t *testing.T, l *inventory.Lock) {
	t.Helper()
	if err := l.Release(context.Background()); err != nil {
		t.Error(err)
	}
}
