package plan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/internal/memfs"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
)

// TestComputeOnlyOnLab: a plan narrowed to one member against the fleet's
// placement plans that member as the fleet's plan did, and never dials the
// others — here one whose address answers nothing, so a dial would show
// as its error — nor lists them in the plan, so apply cannot touch them.
func TestComputeOnlyOnLab(t *testing.T) {
	l, _ := labtest.New(t, lab.ClusterSpec{Name: "c1"}, lab.ClusterSpec{Name: "c2"})
	ctx := context.Background()
	dir := t.TempDir()
	if err := l.Kubeconfig(filepath.Join(dir, "kubeconfig")); err != nil {
		t.Fatal(err)
	}
	doc := `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: lab}
spec:
  regions:
  - name: us-west1
    clusters:
    - name: c1
      kubeconfig: {path: kubeconfig, context: c1}
  - name: us-east1
    clusters:
    - name: c2
      kubeconfig: {path: kubeconfig, context: c2}
  workloads:
  - name: trainer
    source: apps/trainer
    placement:
      replicas: {total: 5, divideBy: weight}
`
	path := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := memfs.New(t, trainerApp(dir))
	topo := memfs.Topology(t, fs, path, doc)
	opts := Options{FS: fs, Now: func() time.Time { return time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC) }}
	opts.Topology = topo
	opts.Member = member.Options{Timeout: 30 * time.Second}

	fleet, err := Compute(ctx, opts)
	if err != nil {
		t.Fatalf("planning the fleet: %v", err)
	}
	if fleet.Plan.Summary.Unreachable != 0 {
		t.Fatalf("fleet plan %+v, want both members reached", fleet.Plan.Summary)
	}

	// c2 at an address nobody serves: a dial would fail, and say so.
	alone := opts
	alone.Only, alone.Placements = []string{"c1"}, fleet.Plan.Placements
	alone.Members = map[string]member.Target{"c2": {Config: &rest.Config{Host: "https://127.0.0.1:1"}}}
	res, err := Compute(ctx, alone)
	if err != nil {
		t.Fatalf("planning c1 alone: %v", err)
	}
	var names []string
	for _, r := range res.Plan.Regions {
		for _, c := range r.Clusters {
			names = append(names, c.Name)
		}
	}
	if strings.Join(names, ",") != "c1" {
		t.Fatalf("the plan of c1 alone lists %v, want c1 only", names)
	}
	if conn := res.Observation.Conn("c2"); conn == nil || !errors.Is(conn.Err, errNotInPass) {
		t.Errorf("c2's connection %+v, want it never dialed (%v)", conn, errNotInPass)
	}
	if _, ok := res.Desired.Cluster("c2"); ok {
		if dc, _ := res.Desired.Cluster("c2"); len(dc.Objects) > 0 {
			t.Errorf("c2 was rendered for (%d objects): only c1 is planned", len(dc.Objects))
		}
	}
	c1 := fleet.Plan.Regions[1].Clusters[0]
	if fleet.Plan.Regions[1].Name != "us-west1" {
		c1 = fleet.Plan.Regions[0].Clusters[0]
	}
	got := res.Plan.Regions[0].Clusters[0]
	if strings.Join(actions(got), "\n") != strings.Join(actions(c1), "\n") {
		t.Errorf("c1 alone plans\n%s\nwant what the fleet's plan planned for it\n%s", strings.Join(actions(got), "\n"), strings.Join(actions(c1), "\n"))
	}
	if share := shareOf(res.Plan.Placements, "trainer", "c1"); share != 3 {
		t.Errorf("c1's share of trainer %d, want 3 (the fleet's placement, kept)", share)
	}

	for _, tc := range []struct {
		name string
		edit func(o *Options)
		want string
	}{
		{"only without a placement", func(o *Options) { o.Only = []string{"c1"} }, "needs the fleet's placement"},
		{"a placement without only", func(o *Options) { o.Placements = fleet.Plan.Placements }, "needs the clusters to plan"},
		{"a cluster not in the topology", func(o *Options) { o.Only, o.Placements = []string{"c9"}, fleet.Plan.Placements }, `cluster "c9" is not in topology lab`},
		{"destroy", func(o *Options) { o.Only, o.Placements, o.Mode = []string{"c1"}, fleet.Plan.Placements, ModeDestroy }, "cannot be narrowed"},
		{"a workload the placement lacks", func(o *Options) { o.Only, o.Placements = []string{"c1"}, []placement.Result{} }, `workload "trainer": no placement was given for it`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := opts
			tc.edit(&o)
			_, err := Compute(ctx, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Compute: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func shareOf(ps []placement.Result, workload, cluster string) int32 {
	for _, p := range ps {
		if p.Workload != workload {
			continue
		}
		for _, s := range p.Shares {
			if s.Cluster == cluster && s.Replicas != nil {
				return *s.Replicas
			}
		}
	}
	return -1
}
