package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/apply"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/observe"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// labTopology has the lab cluster c1 and a cluster c2 whose context the
// kubeconfig lacks; the example model server divides 2 replicas by the
// GPUs that are free.
const labTopology = `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: schema
spec:
  regions:
  - name: us-west1
    clusters:
    - name: c1
      kubeconfig: {path: kubeconfig, context: c1}
  - name: europe-west1
    clusters:
    - name: c2
      kubeconfig: {path: kubeconfig, context: c2}
  workloads:
  - name: model-server
    source: apps/model-server
    placement:
      replicas:
        total: 2
        divideBy: capacity
`

// copyApp copies the example app's base (manifests/apps/NAME/base, from
// the module root) to dir/apps/NAME, for the test to change.
func copyApp(t *testing.T, name, dir string) string {
	t.Helper()
	src := filepath.Join("manifests/apps", name, "base")
	dst := filepath.Join(dir, "apps", name)
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// edit replaces old with new in the file at path, which must hold old.
func edit(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s lacks %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSchemaValidatesLabPlans validates what plan -o json prints for plans
// computed against a real cluster: every object new, placement by the
// capacity read from its nodes, an unreachable cluster; then, after an
// apply, objects changed (a Secret among them, with diffs) and pruned.
func TestSchemaValidatesLabPlans(t *testing.T) {
	inRoot(t)
	sch := compiled(t)
	l, _ := labtest.New(t, lab.ClusterSpec{Name: "c1", Nodes: []lab.NodeSpec{{Name: "gpu", Count: 2, GPUs: 2}}})
	ctx := context.Background()
	dir := t.TempDir()
	if err := l.Kubeconfig(filepath.Join(dir, "kubeconfig")); err != nil {
		t.Fatal(err)
	}
	app := copyApp(t, "model-server", dir)
	file := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(file, []byte(labTopology), 0o644); err != nil {
		t.Fatal(err)
	}
	compute := func(t *testing.T, diff bool) *plan.Result {
		t.Helper()
		topo, err := topology.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		res, err := plan.Compute(ctx, plan.Options{
			Options: observe.Options{Topology: topo, Member: member.Options{Timeout: 30 * time.Second}},
			Diff:    diff,
		})
		if err != nil {
			t.Fatalf("plan: %v", err)
		}
		if err := validate(t, sch, "the lab plan", planJSON(t, res.Plan)); err != nil {
			t.Fatalf("the lab plan does not validate: %v\n%s", err, planJSON(t, res.Plan))
		}
		return res
	}
	actions := func(p *plan.Plan) map[object.Action][]string {
		out := map[object.Action][]string{}
		for _, r := range p.Regions {
			for _, c := range r.Clusters {
				for _, o := range c.Objects {
					out[o.Action] = append(out[o.Action], o.String())
				}
			}
		}
		return out
	}

	first := compute(t, false)
	p := first.Plan
	// What the plan holds is what the schema was checked on.
	if got := actions(p); len(got[object.ActionCreate]) != 5 || len(got) != 1 {
		t.Errorf("first plan: %v, want the app's 5 objects to create", got)
	}
	if p.Summary.Unreachable != 1 || len(p.Placements) != 1 {
		t.Fatalf("first plan: summary %+v, %d placements; want c2 unreachable and the model server placed", p.Summary, len(p.Placements))
	}
	var fit bool
	for _, s := range p.Placements[0].Shares {
		fit = fit || (s.Cluster == "c1" && s.Fit != nil && len(s.Fit.Requests) > 0)
	}
	if !fit {
		t.Errorf("first plan: no capacity estimate for c1 in %+v", p.Placements[0].Shares)
	}

	res, err := apply.Run(ctx, apply.Options{Planned: first, Prune: true})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if failed := res.FailedClusters(); len(failed) != 1 || failed[0] != "c2" {
		t.Fatalf("apply failed on %v, want c2 alone (unreachable)", failed)
	}

	// A new token, another model, and the Service gone.
	edit(t, filepath.Join(app, "secret.yaml"), "token: cGxhY2Vob2xkZXItbm90LWEtcmVhbC10b2tlbg==", "token: YW5vdGhlci1wbGFjZWhvbGRlcg==")
	edit(t, filepath.Join(app, "configmap.yaml"), "acme-llm-7b/v12", "acme-llm-7b/v13")
	edit(t, filepath.Join(app, "kustomization.yaml"), "- service.yaml\n", "")
	second := compute(t, true).Plan
	got := actions(second)
	if len(got[object.ActionUpdate]) != 2 || len(got[object.ActionDelete]) != 1 {
		t.Errorf("second plan: %v, want the Secret and ConfigMap to change and the Service pruned", got)
	}
	for _, r := range second.Regions {
		for _, c := range r.Clusters {
			for _, o := range c.Objects {
				if o.Action == object.ActionUpdate && o.Diff == "" {
					t.Errorf("%s: no diff", o)
				}
			}
		}
	}
}
