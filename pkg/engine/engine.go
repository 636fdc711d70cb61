// Package engine is the session every command and the control plane share:
// the dependencies each action needs — the GKE client and its credentials,
// how to reach member clusters and how fast, how many clusters at once, the
// clock — built once, and the actions (Render, Plan, Apply, Destroy,
// Status) that take what differs per call and return data. helm's
// action.Configuration is the model: the CLI is a thin shell over it, and
// the controller runs the very same actions.
package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/geofed-io/kubectl-geofed/pkg/datasource"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// Options are what every action of a session shares.
type Options struct {
	// GKE says how to reach the GKE API (the emulator's address, say);
	// the client is made at the first topology with managed clusters.
	GKE gke.ClientOptions
	// Member says how to reach member clusters: the kubeconfig, the
	// per-cluster rate limits, the timeouts, the user agent.
	Member member.Options
	// Data says how to reach Cloud Storage (the emulator's address, say),
	// for the location of the buckets workloads name; only topologies
	// that name one reach it.
	Data datasource.Options
	// Parallel bounds how many clusters are worked on at once (default
	// member.DefaultParallel).
	Parallel int
	// Now is the clock plans and statuses are stamped with; time.Now when
	// nil.
	Now func() time.Time
}

// Session holds the shared dependencies. It is safe for concurrent use:
// the control plane runs the actions of several topologies at once.
type Session struct {
	opts Options

	mu     sync.Mutex
	client *gke.Client
	tokens oauth2.TokenSource
}

// New makes a session; nothing is connected until an action needs it.
func New(opts Options) *Session {
	if opts.Parallel <= 0 {
		opts.Parallel = member.DefaultParallel
	}
	return &Session{opts: opts}
}

// Close releases the GKE client, when one was made.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil
	}
	err := s.client.Close()
	s.client, s.tokens = nil, nil
	return err
}

// Prepare makes now what the topology's actions will need — the GKE client
// and credentials when it has managed clusters — so that a missing
// credential is said before anything is read.
func (s *Session) Prepare(ctx context.Context, t *topology.Topology) error {
	_, _, err := s.gkeFor(ctx, t)
	return err
}

// gkeFor is the GKE client and token source for a topology: nil for one
// without managed clusters, else made at the first call and kept. ctx
// bounds making it; the client outlives it.
func (s *Session) gkeFor(ctx context.Context, t *topology.Topology) (*gke.Client, oauth2.TokenSource, error) {
	if !hasManaged(t) {
		return nil, nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		return s.client, s.tokens, nil
	}
	// Not ctx itself: the client and the tokens' refreshes outlive the
	// action that made them.
	kept := context.WithoutCancel(ctx)
	c, err := gke.NewClient(kept, s.opts.GKE)
	if err != nil {
		return nil, nil, err
	}
	ts, err := gke.TokenSource(kept, s.opts.GKE)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	s.client, s.tokens = c, ts
	return c, ts, nil
}

func hasManaged(t *topology.Topology) bool {
	if t == nil {
		return false
	}
	for _, ref := range t.Clusters() {
		if ref.Cluster.Managed() {
			return true
		}
	}
	return false
}

// errNoTopology is an action called without one.
var errNoTopology = errors.New("engine: no topology given")
