package engine

import (
	"context"
	"fmt"
	"io"
	"time"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/geofed-io/kubectl-geofed/pkg/apply"
	"github.com/geofed-io/kubectl-geofed/pkg/capacity"
	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/datasource"
	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/observe"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/status"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// Fleet is what differs per call about reading the fleet: the topology,
// its sources, and — for the control plane — how it sees its members.
type Fleet struct {
	Topology *topology.Topology
	// FS holds the kustomize apps; the disk when nil.
	FS filesys.FileSystem
	// Keep, Exclude, Members and ReconcilingLimit are observe.Options'
	// (the control plane's failover and in-memory credentials); the CLI
	// leaves them empty.
	Keep             []string
	Exclude          map[string]string
	Members          map[string]member.Target
	ReconcilingLimit time.Duration
}

// observe is what observing the fleet needs, the shared dependencies
// included.
func (s *Session) observe(ctx context.Context, f Fleet) (observe.Options, error) {
	if f.Topology == nil {
		return observe.Options{}, errNoTopology
	}
	o := observe.Options{
		Topology: f.Topology, Member: s.opts.Member, ReconcilingLimit: f.ReconcilingLimit,
		Keep: f.Keep, Exclude: f.Exclude, Members: f.Members, Data: s.opts.Data,
	}
	client, tokens, err := s.gkeFor(ctx, f.Topology)
	if err != nil {
		return o, err
	}
	if client != nil { // a nil *gke.Client would be a non-nil observe.GKE
		o.GKE = client
	}
	o.TokenSource = tokens
	return o, nil
}

// PlanOptions say what to plan.
type PlanOptions struct {
	Fleet
	// Mode is apply (the zero value) or destroy.
	Mode plan.Mode
	// DeleteClusters names the managed clusters a destroy deletes from
	// GKE once their objects are gone.
	DeleteClusters []string
	// FullRefresh, Adopt, Diff, Guard and Prices are plan.Options'.
	FullRefresh bool
	Adopt       bool
	Diff        bool
	Guard       plan.GuardOptions
	Prices      *catalog.Prices
	// Only and Placements plan some clusters alone against the fleet's
	// last placement (plan.Options'): the control plane's pass over one
	// member.
	Only       []string
	Placements []placement.Result
}

// Plan computes a plan: observe, place, render, diff.
func (s *Session) Plan(ctx context.Context, o PlanOptions) (*plan.Result, error) {
	obs, err := s.observe(ctx, o.Fleet)
	if err != nil {
		return nil, err
	}
	return plan.Compute(ctx, plan.Options{
		Options: obs, FS: o.FS,
		FullRefresh: o.FullRefresh, Adopt: o.Adopt, Diff: o.Diff, Guard: o.Guard,
		Mode: o.Mode, DeleteClusters: o.DeleteClusters, Only: o.Only, Placements: o.Placements,
		Parallel: s.opts.Parallel, Now: s.opts.Now, Prices: o.Prices,
	})
}

// ApplyOptions say how to execute a plan; the rest is the session's.
type ApplyOptions struct {
	// Lock says who takes each cluster's apply lock and for how long.
	Lock inventory.LockOptions
	// ForceConflicts, Prune, Wait, Timeout, GKETimeout, Waves and
	// Progress are apply.Options'.
	ForceConflicts bool
	Prune          bool
	Wait           bool
	Timeout        time.Duration
	GKETimeout     time.Duration
	Waves          bool
	Progress       io.Writer
}

// Apply executes an apply plan this session computed.
func (s *Session) Apply(ctx context.Context, planned *plan.Result, o ApplyOptions) (*apply.Result, error) {
	return s.execute(ctx, planned, plan.ModeApply, o)
}

// Destroy executes a destroy plan this session computed: every deletion
// with prune's safety, nothing waited for.
func (s *Session) Destroy(ctx context.Context, planned *plan.Result, o ApplyOptions) (*apply.Result, error) {
	o.Prune, o.Wait = true, false
	return s.execute(ctx, planned, plan.ModeDestroy, o)
}

func (s *Session) execute(ctx context.Context, planned *plan.Result, mode plan.Mode, o ApplyOptions) (*apply.Result, error) {
	if planned == nil || planned.Plan == nil {
		return nil, fmt.Errorf("%s needs a computed plan", mode)
	}
	if planned.Plan.Mode != mode {
		return nil, fmt.Errorf("%s refuses a plan made for %s", mode, planned.Plan.Mode)
	}
	client, tokens, err := s.gkeFor(ctx, planned.Topology)
	if err != nil {
		return nil, err
	}
	return apply.Run(ctx, apply.Options{
		Planned:        planned,
		GKE:            client,
		TokenSource:    tokens,
		Member:         s.opts.Member,
		Lock:           o.Lock,
		ForceConflicts: o.ForceConflicts,
		Prune:          o.Prune,
		Wait:           o.Wait,
		Timeout:        o.Timeout,
		GKETimeout:     o.GKETimeout,
		Waves:          o.Waves,
		Parallel:       s.opts.Parallel,
		Progress:       o.Progress,
	})
}

// StatusOptions say what to report on.
type StatusOptions struct {
	Fleet
	// FullRefresh counts drift exactly, dry-running every object.
	FullRefresh bool
}

// Status reads the state of every cluster of the topology.
func (s *Session) Status(ctx context.Context, o StatusOptions) (*status.Status, error) {
	obs, err := s.observe(ctx, o.Fleet)
	if err != nil {
		return nil, err
	}
	return status.Compute(ctx, status.Options{Options: obs, FS: o.FS, FullRefresh: o.FullRefresh, Parallel: s.opts.Parallel, Now: s.opts.Now})
}

// RenderOptions say what to render.
type RenderOptions struct {
	Fleet
	// WhatIf is how many replicas fit per cluster, assumed instead of
	// read (render --capacity).
	WhatIf map[string]int64
	// Prices price the node pools for divideBy cost (--price-catalog);
	// the built-in list when nil.
	Prices *catalog.Prices
}

// Render computes what every cluster should hold, offline like kustomize
// build unless a workload divides by capacity that WhatIf does not give for
// every cluster (then the clusters are read for it, as plan reads them) or
// names data (then its bucket's location is read from Cloud Storage).
func (s *Session) Render(ctx context.Context, o RenderOptions) (*desired.State, error) {
	t := o.Topology
	if t == nil {
		return nil, errNoTopology
	}
	clusters := placement.ClustersOf(t)
	var (
		unread map[string]string
		in     map[string]*capacity.Cluster
		data   datasource.Locations
	)
	if desired.DividesByCapacity(t) && len(o.WhatIf) < len(clusters) {
		obs, err := s.observe(ctx, o.Fleet)
		if err != nil {
			return nil, err
		}
		if clusters, in, unread, data, err = observe.Capacity(ctx, obs); err != nil {
			return nil, err
		}
	} else {
		var err error
		if data, err = datasource.Resolve(ctx, t, s.opts.Data); err != nil {
			return nil, err
		}
	}
	prices := o.Prices
	if prices == nil {
		prices = catalog.BuiltinPrices()
	}
	state, err := desired.Compute(desired.Options{Topology: t, FS: o.FS, Clusters: clusters, Capacity: in, WhatIf: o.WhatIf, Prices: prices, Data: data})
	if err != nil {
		return nil, desired.ExplainCapacity(err, unread)
	}
	return state, nil
}
