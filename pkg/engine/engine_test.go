package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// A plan is executed only as what it was made for, before any cluster or
// GKE is reached.
func TestExecuteChecksTheMode(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	result := func(m plan.Mode) *plan.Result {
		return &plan.Result{Topology: &topology.Topology{}, Plan: &plan.Plan{Mode: m}}
	}
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"destroy plan applied", func() error {
			_, err := s.Apply(context.Background(), result(plan.ModeDestroy), ApplyOptions{})
			return err
		},
			"apply refuses a plan made for destroy"},
		{"apply plan destroyed", func() error {
			_, err := s.Destroy(context.Background(), result(plan.ModeApply), ApplyOptions{})
			return err
		},
			"destroy refuses a plan made for apply"},
		{"no plan", func() error { _, err := s.Apply(context.Background(), nil, ApplyOptions{}); return err },
			"apply needs a computed plan"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// A topology without managed clusters never makes a GKE client, so the
// CLI works without Google credentials on a fleet of joined clusters.
func TestNoGKEWithoutManagedClusters(t *testing.T) {
	s := New(Options{})
	client, tokens, err := s.gkeFor(context.Background(), &topology.Topology{})
	if err != nil || client != nil || tokens != nil {
		t.Errorf("gkeFor(no managed clusters) = %v, %v, %v; want nothing", client, tokens, err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close with no client: %v", err)
	}
}
