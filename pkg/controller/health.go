package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Defaults of the member health probe: a GET /readyz every
// DefaultProbeInterval, bounded by DefaultProbeTimeout; a member is dark
// after DefaultProbeFailures probes in a row got no good answer, and
// healthy again at its first good one.
const (
	DefaultProbeInterval = 2 * time.Second
	DefaultProbeTimeout  = 3 * time.Second
	DefaultProbeFailures = 2
)

// Verdict is what the health probe says of one member.
type Verdict struct {
	// Known is false until a probe settled the member's state.
	Known   bool
	Healthy bool
	// Since is when the member was first seen in this state: the answer
	// of the first good probe, or the end of the first failed probe of
	// the streak that made it dark.
	Since time.Time
	// Err says why it is dark.
	Err error
}

// Probe is one member to probe for one Topology.
type Probe struct {
	Cluster string
	// Config reaches the member; Key changes when it does, and the member
	// is then probed afresh.
	Config *rest.Config
	Key    string
	// Reachable is what the reconcile that asks for the probe saw: a
	// first verdict that agrees asks for no reconcile.
	Reachable bool
}

// Health probes every member of the reconciled Topologies on its own clock,
// excluded members too: a member whose apiserver hangs sends no watch event
// and makes every connection to it wait out its timeout, so only a probe
// notices it (and its return). A change of verdict asks for a reconcile of
// every Topology using the member; reconciles read the verdicts to leave a
// dark member out up front instead of waiting on it, and to run the
// failover clocks from when the member changed.
type Health struct {
	Interval, Timeout time.Duration
	// Failures is how many probes in a row must fail before a member is
	// dark.
	Failures int
	// Changed is called for every Topology using a member whose verdict
	// changed.
	Changed func(topo types.NamespacedName)

	mu      sync.Mutex
	ctx     context.Context
	members map[string]*memberHealth
}

type memberHealth struct {
	key     string
	cancel  context.CancelFunc
	users   map[types.NamespacedName]bool
	verdict Verdict
}

// NewHealth makes an empty prober with the defaults; Start runs it within
// the manager.
func NewHealth() *Health {
	return &Health{Interval: DefaultProbeInterval, Timeout: DefaultProbeTimeout, Failures: DefaultProbeFailures, members: map[string]*memberHealth{}}
}

// Start probes until ctx ends (a manager Runnable: only the leader
// probes).
func (h *Health) Start(ctx context.Context) error {
	h.mu.Lock()
	h.ctx = ctx
	h.mu.Unlock()
	<-ctx.Done()
	h.mu.Lock()
	defer h.mu.Unlock()
	for name, m := range h.members {
		m.cancel()
		delete(h.members, name)
	}
	return nil
}

// NeedLeaderElection: only the leader reconciles, so only it probes.
func (h *Health) NeedLeaderElection() bool { return true }

// Ensure makes topo's probed members be probes: new ones are probed, ones
// no Topology uses any more stopped, ones with a new Key probed afresh.
func (h *Health) Ensure(topo types.NamespacedName, probes []Probe) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ctx == nil || h.ctx.Err() != nil {
		return
	}
	want := map[string]bool{}
	for _, p := range probes {
		want[p.Cluster] = true
		m := h.members[p.Cluster]
		if m != nil && m.key != p.Key {
			m.cancel()
			m = &memberHealth{users: m.users, verdict: Verdict{Healthy: p.Reachable}}
		} else if m == nil {
			m = &memberHealth{users: map[types.NamespacedName]bool{}, verdict: Verdict{Healthy: p.Reachable}}
		}
		m.users[topo] = true
		if m.cancel == nil {
			ctx, cancel := context.WithCancel(h.ctx)
			m.key, m.cancel = p.Key, cancel
			h.members[p.Cluster] = m
			go h.probe(ctx, p.Cluster, m, p.Config)
		}
	}
	h.dropLocked(topo, want)
}

// Forget stops probing for a deleted or paused Topology.
func (h *Health) Forget(topo types.NamespacedName) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropLocked(topo, nil)
}

func (h *Health) dropLocked(topo types.NamespacedName, keep map[string]bool) {
	for name, m := range h.members {
		if keep[name] {
			continue
		}
		delete(m.users, topo)
		if len(m.users) == 0 {
			m.cancel()
			delete(h.members, name)
		}
	}
}

// Verdict is the member's current verdict (unknown when it is not probed
// or no probe has settled yet).
func (h *Health) Verdict(cluster string) Verdict {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m := h.members[cluster]; m != nil {
		return m.verdict
	}
	return Verdict{}
}

// probe runs one member's clock until ctx ends.
func (h *Health) probe(ctx context.Context, cluster string, m *memberHealth, cfg *rest.Config) {
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = h.Timeout
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		h.settle(ctx, cluster, m, Verdict{Known: true, Since: time.Now(), Err: fmt.Errorf("health probe of cluster %s: %w", cluster, err)})
		return
	}
	failures := 0
	var firstFailure time.Time
	for {
		started := time.Now()
		pctx, cancel := context.WithTimeout(ctx, h.Timeout)
		err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").Do(pctx).Error()
		cancel()
		if ctx.Err() != nil {
			return
		}
		ended := time.Now()
		if err == nil {
			failures = 0
			h.settle(ctx, cluster, m, Verdict{Known: true, Healthy: true, Since: ended})
		} else {
			if failures == 0 {
				firstFailure = ended
			}
			failures++
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("no answer to GET %s/readyz within %s", cfg.Host, h.Timeout)
			} else {
				err = fmt.Errorf("GET %s/readyz: %w", cfg.Host, err)
			}
			if failures >= h.Failures {
				h.settle(ctx, cluster, m, Verdict{Known: true, Since: firstFailure, Err: fmt.Errorf("health probe of cluster %s: %w", cluster, err)})
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(max(h.Interval-time.Since(started), 0)):
		}
	}
}

// settle records v and, when the member changed between healthy and dark
// (its first verdict: from what the reconcile saw), asks for a reconcile of
// its Topologies. A dark member's reason is refreshed without one.
func (h *Health) settle(ctx context.Context, cluster string, m *memberHealth, v Verdict) {
	h.mu.Lock()
	if ctx.Err() != nil {
		h.mu.Unlock()
		return
	}
	old := m.verdict
	if old.Known && old.Healthy == v.Healthy {
		if !v.Healthy {
			m.verdict.Err = v.Err
		}
		h.mu.Unlock()
		return
	}
	m.verdict = v
	var users []types.NamespacedName
	for u := range m.users {
		users = append(users, u)
	}
	h.mu.Unlock()
	if old.Healthy == v.Healthy {
		// The first verdict agrees with what the reconcile that asked
		// for the probe saw: nothing to do again.
		return
	}
	if h.Changed != nil {
		for _, u := range users {
			h.Changed(u)
		}
	}
}
