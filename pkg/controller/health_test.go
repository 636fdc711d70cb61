package controller

import (
	"context"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
)

// TestHealth probes a real apiserver: healthy, then hung (SIGSTOP: the
// connection is accepted and never answered, so no watch would ever say
// so), then back. Each change asks once for a reconcile of the Topology
// that uses the member, and the verdict says since when.
func TestHealth(t *testing.T) {
	_, clusters := labtest.New(t, lab.ClusterSpec{Name: "m1", APIServerOnly: true})
	m1 := clusters[0]
	topo := types.NamespacedName{Namespace: "geofed-system", Name: "fleet"}

	var mu sync.Mutex
	var changed []types.NamespacedName
	h := NewHealth()
	h.Interval, h.Timeout = 300*time.Millisecond, 500*time.Millisecond
	h.Changed = func(n types.NamespacedName) {
		mu.Lock()
		defer mu.Unlock()
		changed = append(changed, n)
	}
	calls := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(changed)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- h.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	// Ensure does nothing before Start has run.
	for probing := false; !probing; {
		h.Ensure(topo, []Probe{{Cluster: "m1", Config: m1.RESTConfig(), Key: "k", Reachable: true}})
		h.mu.Lock()
		probing = h.members["m1"] != nil
		h.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}

	wait := func(what string, limit time.Duration, ok func(Verdict) bool) Verdict {
		t.Helper()
		deadline := time.Now().Add(limit)
		for {
			v := h.Verdict("m1")
			if ok(v) {
				return v
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s; verdict %+v", what, limit, v)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	wait("healthy", 10*time.Second, func(v Verdict) bool { return v.Known && v.Healthy })
	if n := calls(); n != 0 {
		t.Fatalf("%d reconciles asked for a first verdict that agrees with the reconcile's", n)
	}

	paused := time.Now()
	if err := m1.PauseAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m1.ResumeAPIServer() })
	// Two probes in a row, each given the timeout, after at most one
	// interval.
	limit := h.Interval + 2*(h.Timeout+h.Interval) + time.Second
	dark := wait("dark", limit, func(v Verdict) bool { return !v.Healthy })
	t.Logf("dark %s after the pause, since %s after it: %v", time.Since(paused).Round(10*time.Millisecond), dark.Since.Sub(paused).Round(10*time.Millisecond), dark.Err)
	if dark.Since.Before(paused) || dark.Err == nil {
		t.Errorf("dark verdict %+v: want a reason, and a time after the pause (%s)", dark, paused)
	}
	if n := calls(); n != 1 || changed[0] != topo {
		t.Errorf("reconciles asked for %v, want one of %s", changed, topo)
	}

	resumed := time.Now()
	if err := m1.ResumeAPIServer(); err != nil {
		t.Fatal(err)
	}
	back := wait("healthy again", 10*time.Second, func(v Verdict) bool { return v.Healthy })
	t.Logf("healthy %s after the resume", time.Since(resumed).Round(10*time.Millisecond))
	if back.Since.Before(resumed) {
		t.Errorf("healthy since %s, before the resume (%s)", back.Since, resumed)
	}
	time.Sleep(3 * h.Interval)
	if n := calls(); n != 2 {
		t.Errorf("%d reconciles asked for, want 2 (dark, then healthy): %v", n, changed)
	}

	h.Forget(topo)
	if v := h.Verdict("m1"); v.Known {
		t.Errorf("verdict %+v after the only Topology using m1 forgot it: still probed", v)
	}
}
