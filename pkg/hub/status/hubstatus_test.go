package status

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/internal/golden"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// now is when the hub is read in every case.
var now = time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)

func ago(d time.Duration) *metav1.Time { return &metav1.Time{Time: now.Add(-d)} }

// document is the topology every case holds: m1 in us-west1, m2 in
// europe-west1, web's 4 replicas divided by weight, docs on both whole.
const document = `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: fleet}
spec:
  regions:
  - name: us-west1
    clusters:
    - name: m1
      kubeconfig: {context: m1}
  - name: europe-west1
    clusters:
    - name: m2
      kubeconfig: {context: m2}
  workloads:
  - name: web
    source: apps/web
    placement:
      replicas: {total: 4, divideBy: weight}
  - name: docs
    source: apps/docs
`

// spec is the document loaded as the CLI and the controller load it.
func spec(t *testing.T, doc string) topology.Spec {
	t.Helper()
	top, err := topology.Options{IsDir: func(string) bool { return true }}.Parse("topology.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return top.Spec
}

// reconciled is the fleet after a reconcile at generation 3 that applied
// everything 2m ago: every status field as the controller writes them.
func reconciled(t *testing.T) *v1alpha1.Topology {
	topo := &v1alpha1.Topology{
		ObjectMeta: metav1.ObjectMeta{Namespace: "geofed-system", Name: "fleet", Generation: 3},
		Spec:       v1alpha1.TopologySpec{Spec: spec(t, document)},
	}
	st := &topo.Status
	st.ObservedGeneration = 3
	setCond(topo, v1alpha1.ConditionDegraded, metav1.ConditionFalse, "AllMembersHealthy", "every member is reachable and planned", 10*time.Minute)
	setCond(topo, v1alpha1.ConditionSynced, metav1.ConditionTrue, "Applied", "every reachable member holds what the topology renders for it", 10*time.Minute)
	setCond(topo, v1alpha1.ConditionReady, metav1.ConditionTrue, "Ready", "applied; every workload is ready", 10*time.Minute)
	st.LastPlanTime = ago(2*time.Minute + 10*time.Second)
	st.LastPlan = &v1alpha1.PlanSummary{}
	st.LastApplyTime = ago(2 * time.Minute)
	st.Placements = []v1alpha1.WorkloadPlacement{
		{Workload: "web", Replicas: map[string]int32{"m1": 2, "m2": 2}},
		{Workload: "docs"},
	}
	st.Clusters = []v1alpha1.ClusterStatus{
		{Name: "m1", Region: "us-west1", Reachable: true, InSync: 6, Ready: true},
		{Name: "m2", Region: "europe-west1", Reachable: true, InSync: 6, Ready: true},
	}
	return topo
}

// setCond sets a condition as the controller does (meta.SetStatusCondition
// at the Topology's generation), as of d ago.
func setCond(topo *v1alpha1.Topology, typ string, status metav1.ConditionStatus, reason, msg string, d time.Duration) {
	meta.SetStatusCondition(&topo.Status.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: topo.Generation, LastTransitionTime: *ago(d),
	})
}

func member(topo *v1alpha1.Topology, name string) *v1alpha1.ClusterStatus {
	for i := range topo.Status.Clusters {
		if topo.Status.Clusters[i].Name == name {
			return &topo.Status.Clusters[i]
		}
	}
	panic("no member " + name)
}

// A plan now, an apply that did not follow: waiting for failover.
func plannedNow(topo *v1alpha1.Topology) {
	topo.Status.LastPlanTime = ago(5 * time.Second)
	for i := range topo.Status.Clusters {
		c := &topo.Status.Clusters[i]
		c.Applied, c.Pruned, c.Ready = 0, 0, false
	}
}

const refused = "connecting to cluster m2 (context m2): https://127.0.0.1:6443 refused the connection"

type fixture struct {
	name string
	topo func(t *testing.T) *v1alpha1.Topology
	// problems are the verdict: none for OK.
	problems []string
}

var fixtures = []fixture{
	{
		name: "healthy",
		topo: reconciled,
	},
	{
		// m2 down for 30s of failover.after's 2m: nothing is applied.
		name: "failover-grace",
		topo: func(t *testing.T) *v1alpha1.Topology {
			topo := reconciled(t)
			plannedNow(topo)
			topo.Status.LastPlan = &v1alpha1.PlanSummary{Unreachable: 1}
			m2 := member(topo, "m2")
			m2.Reachable, m2.InSync, m2.UnreachableSince = false, 0, ago(30*time.Second)
			m2.Message = fmt.Sprintf("unreachable since %s; its share moves to the others at %s: %s",
				m2.UnreachableSince.UTC().Format(time.RFC3339), m2.UnreachableSince.Add(2*time.Minute).UTC().Format(time.RFC3339), refused)
			msg := "waiting for failover: m2 unreachable; nothing is applied until it is back or failover.after (2m0s) has passed"
			setCond(topo, v1alpha1.ConditionSynced, metav1.ConditionFalse, "WaitingForFailover", msg, 30*time.Second)
			setCond(topo, v1alpha1.ConditionReady, metav1.ConditionFalse, "WaitingForFailover", msg, 30*time.Second)
			setCond(topo, v1alpha1.ConditionDegraded, metav1.ConditionTrue, "MembersUnhealthy", "m2: "+m2.Message, 30*time.Second)
			return topo
		},
		problems: []string{"Ready is False (WaitingForFailover)", "Synced is False (WaitingForFailover)", "Degraded is True (MembersUnhealthy)"},
	},
	{
		// m2 down for 3m: excluded, its share went to m1.
		name: "failed-over",
		topo: func(t *testing.T) *v1alpha1.Topology {
			topo := reconciled(t)
			topo.Status.LastPlanTime, topo.Status.LastApplyTime = ago(40*time.Second), ago(35*time.Second)
			topo.Status.LastPlan = &v1alpha1.PlanSummary{ObjectsToChange: 1, Unreachable: 1}
			topo.Status.Placements[0].Replicas = map[string]int32{"m1": 4}
			m1 := member(topo, "m1")
			m1.Applied = 1
			m2 := member(topo, "m2")
			m2.Reachable, m2.InSync, m2.Ready, m2.Excluded, m2.UnreachableSince = false, 0, false, true, ago(3*time.Minute)
			m2.Message = "excluded by failover: " + refused
			setCond(topo, v1alpha1.ConditionDegraded, metav1.ConditionTrue, "MembersUnhealthy", "m2: "+m2.Message, time.Minute)
			return topo
		},
		problems: []string{"Degraded is True (MembersUnhealthy)"},
	},
	{
		// m2 back for 1m of restoreAfter's 2m: still excluded.
		name: "recovering",
		topo: func(t *testing.T) *v1alpha1.Topology {
			topo := reconciled(t)
			topo.Status.LastPlanTime, topo.Status.LastApplyTime = ago(20*time.Second), ago(15*time.Second)
			topo.Status.Placements[0].Replicas = map[string]int32{"m1": 4}
			m2 := member(topo, "m2")
			m2.Ready, m2.Excluded, m2.ReachableSince = false, true, ago(time.Minute)
			m2.Message = fmt.Sprintf("reachable again since %s; excluded until it has been reachable for %s", m2.ReachableSince.UTC().Format(time.RFC3339), 2*time.Minute)
			setCond(topo, v1alpha1.ConditionDegraded, metav1.ConditionTrue, "MembersUnhealthy", "m2: "+m2.Message, 4*time.Minute)
			return topo
		},
		problems: []string{"Degraded is True (MembersUnhealthy)"},
	},
	{
		// Plan mode, and a hand edit on m2: reported, not put back.
		name: "plan-drift",
		topo: func(t *testing.T) *v1alpha1.Topology {
			topo := reconciled(t)
			topo.Spec.Mode = v1alpha1.ModePlan
			topo.Generation, topo.Status.ObservedGeneration = 4, 4
			plannedNow(topo)
			topo.Status.LastPlan = &v1alpha1.PlanSummary{ObjectsToChange: 1}
			m2 := member(topo, "m2")
			m2.InSync, m2.Drifted = 5, 1
			setCond(topo, v1alpha1.ConditionSynced, metav1.ConditionFalse, "Drifted", "plan: 0 objects to create, 1 to change, 0 to delete", time.Minute)
			setCond(topo, v1alpha1.ConditionReady, metav1.ConditionTrue, "Planned", "every member was planned", time.Minute)
			setCond(topo, v1alpha1.ConditionDegraded, metav1.ConditionFalse, "AllMembersHealthy", "every member is reachable and planned", time.Minute)
			return topo
		},
		problems: []string{"Synced is False (Drifted)"},
	},
	{
		// Paused by a push: only Ready is set at the new generation.
		name: "paused",
		topo: func(t *testing.T) *v1alpha1.Topology {
			topo := reconciled(t)
			topo.Spec.Paused = true
			topo.Generation, topo.Status.ObservedGeneration = 4, 4
			setCond(topo, v1alpha1.ConditionReady, metav1.ConditionFalse, "Paused", "spec.paused is set: nothing is planned or applied", 5*time.Minute)
			return topo
		},
		problems: []string{"Ready is False (Paused)", "Synced was True at generation 3, not judged since", "Degraded was False at generation 3, not judged since"},
	},
	{
		// A spec the loader refuses, reconciled once: nothing planned.
		name: "invalid",
		topo: func(t *testing.T) *v1alpha1.Topology {
			topo := &v1alpha1.Topology{
				ObjectMeta: metav1.ObjectMeta{Namespace: "geofed-system", Name: "fleet", Generation: 1},
				Spec:       v1alpha1.TopologySpec{Spec: spec(t, document)},
			}
			topo.Spec.Workloads[0].Placement.Clusters = []string{"m3"}
			topo.Spec.Workloads[1].Source = ""
			doc, err := topo.Document()
			if err != nil {
				t.Fatal(err)
			}
			_, err = topology.Options{IsDir: func(string) bool { return true }}.Parse("topology.yaml", doc)
			if err == nil || !strings.Contains(err.Error(), "\n") {
				t.Fatalf("the invalid spec parsed with %v, want several errors", err)
			}
			topo.Status.ObservedGeneration = 1
			setCond(topo, v1alpha1.ConditionReady, metav1.ConditionFalse, "Invalid", err.Error(), time.Minute)
			setCond(topo, v1alpha1.ConditionSynced, metav1.ConditionUnknown, "Invalid", "not planned", time.Minute)
			return topo
		},
		problems: []string{"Ready is False (Invalid)", "Synced is Unknown (Invalid)"},
	},
	{
		// Pushed, and no controller has written a status.
		name: "never-reconciled",
		topo: func(t *testing.T) *v1alpha1.Topology {
			return &v1alpha1.Topology{
				ObjectMeta: metav1.ObjectMeta{Namespace: "geofed-system", Name: "fleet", Generation: 1},
				Spec:       v1alpha1.TopologySpec{Spec: spec(t, document)},
			}
		},
		problems: []string{"no status yet: the controller has not reconciled it"},
	},
	{
		// Pushed again (a cluster added) since the last reconcile.
		name: "stale",
		topo: func(t *testing.T) *v1alpha1.Topology {
			topo := reconciled(t)
			topo.Generation = 4
			topo.Spec.Regions[1].Clusters = append(topo.Spec.Regions[1].Clusters, topology.Cluster{Name: "m3", Kubeconfig: &topology.KubeconfigRef{Context: "m3"}})
			return topo
		},
		problems: []string{"the status is of generation 3, the spec is at 4: not reconciled since it changed"},
	},
}

// named is the fixture of that name.
func named(t *testing.T, name string) *v1alpha1.Topology {
	t.Helper()
	for _, f := range fixtures {
		if f.name == name {
			return f.topo(t)
		}
	}
	t.Fatalf("no fixture %q", name)
	return nil
}

func build(t *testing.T, topos ...*v1alpha1.Topology) *Status {
	t.Helper()
	in := make([]v1alpha1.Topology, len(topos))
	for i, topo := range topos {
		in[i] = *topo
	}
	return Build("hub", "geofed-system", now, in)
}

func TestGolden(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			s := build(t, f.topo(t))
			var text, js bytes.Buffer
			if err := Text(&text, s, TextOptions{}); err != nil {
				t.Fatal(err)
			}
			golden.Compare(t, f.name+".golden", text.Bytes(), *update)
			if err := JSON(&js, s); err != nil {
				t.Fatal(err)
			}
			golden.Compare(t, f.name+".json.golden", js.Bytes(), *update)
		})
	}
}

// Several Topologies are listed by name, a blank line apart; YAML is the
// JSON document; colour and the --watch stamp change nothing else.
func TestGoldenSeveral(t *testing.T) {
	other := reconciled(t)
	other.Name = "alpha"
	s := build(t, named(t, "failed-over"), other)
	if s.Topologies[0].Name != "alpha" {
		t.Fatalf("topologies in order %s, %s, want by name", s.Topologies[0].Name, s.Topologies[1].Name)
	}
	for _, tc := range []struct {
		golden string
		write  func(*bytes.Buffer) error
	}{
		{"several.golden", func(b *bytes.Buffer) error { return Text(b, s, TextOptions{}) }},
		{"several-stamp-color.golden", func(b *bytes.Buffer) error { return Text(b, s, TextOptions{Stamp: true, Color: true}) }},
		{"several.yaml.golden", func(b *bytes.Buffer) error { return YAML(b, s) }},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b); err != nil {
				t.Fatal(err)
			}
			golden.Compare(t, tc.golden, b.Bytes(), *update)
		})
	}
}

// The verdict: OK only when reconciled at its generation, Ready, Synced
// and not Degraded; otherwise every reason, in order.
func TestProblems(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			s := build(t, f.topo(t))
			got := s.Topologies[0]
			if d := cmp.Diff(f.problems, got.Problems); d != "" {
				t.Errorf("problems (-want +got):\n%s", d)
			}
			if got.OK != (len(f.problems) == 0) || s.OK() != got.OK {
				t.Errorf("OK = %v, Status.OK() = %v with problems %q", got.OK, s.OK(), got.Problems)
			}
		})
	}
	// One Topology not OK makes the whole status not OK.
	s := build(t, reconciled(t), named(t, "failed-over"))
	if s.OK() {
		t.Error("Status.OK() with a degraded Topology among healthy ones")
	}
	if s := build(t); !s.OK() || s.Topologies == nil {
		t.Errorf("no Topology: OK() = %v, topologies %v; want OK and an empty list (the caller decides what none means)", s.OK(), s.Topologies)
	}
}

// The failover clocks: a member in its grace loses its share at
// unreachableSince + failover.after, a recovering one gets it back at
// reachableSince + restoreAfter, with the spec's timings.
func TestFailoverTimes(t *testing.T) {
	grace := named(t, "failover-grace")
	grace.Spec.Failover = &v1alpha1.Failover{After: &metav1.Duration{Duration: 5 * time.Minute}}
	c := build(t, grace).Topologies[0].Regions[1].Clusters[0]
	if want := now.Add(-30 * time.Second).Add(5 * time.Minute); c.FailoverAt == nil || !c.FailoverAt.Equal(want) || c.RestoreAt != nil {
		t.Errorf("grace: failoverAt %v restoreAt %v, want failoverAt %v", c.FailoverAt, c.RestoreAt, want)
	}
	back := named(t, "recovering")
	back.Spec.Failover = &v1alpha1.Failover{RestoreAfter: &metav1.Duration{Duration: 10 * time.Minute}}
	c = build(t, back).Topologies[0].Regions[1].Clusters[0]
	if want := now.Add(-time.Minute).Add(10 * time.Minute); c.RestoreAt == nil || !c.RestoreAt.Equal(want) || c.FailoverAt != nil {
		t.Errorf("recovering: restoreAt %v failoverAt %v, want restoreAt %v", c.RestoreAt, c.FailoverAt, want)
	}
	out := build(t, named(t, "failed-over")).Topologies[0].Regions[1].Clusters[0]
	if out.FailoverAt != nil || out.RestoreAt != nil {
		t.Errorf("failed over and still down: failoverAt %v restoreAt %v, want neither (it returns only after restoreAfter reachable)", out.FailoverAt, out.RestoreAt)
	}
}

// Apply figures are shown only for an apply of the last reconcile: one
// that planned and then waited for failover reset them.
func TestApplyOfLastReconcile(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		want    bool
	}{
		{"healthy", true},         // applied after the plan
		{"failed-over", true},     // m1 was applied
		{"failover-grace", false}, // planned since, waiting
		{"plan-drift", false},     // Plan mode since
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			c := build(t, named(t, tc.fixture)).Topologies[0].Regions[0].Clusters[0]
			if got := c.Apply != nil; got != tc.want {
				t.Errorf("m1 apply %+v, want shown %v", c.Apply, tc.want)
			}
		})
	}
	c := build(t, named(t, "failed-over")).Topologies[0].Regions[1].Clusters[0]
	if c.Apply != nil {
		t.Errorf("excluded m2 apply %+v, want none: apply leaves it alone", c.Apply)
	}
}

// The JSON is the documented schema: it decodes into Status and back to
// the same bytes, and YAML says the same.
func TestJSONRoundTrip(t *testing.T) {
	s := build(t, named(t, "failover-grace"), named(t, "never-reconciled"))
	var js, y bytes.Buffer
	if err := JSON(&js, s); err != nil {
		t.Fatal(err)
	}
	var back Status
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(s, &back); d != "" {
		t.Errorf("decoded JSON differs (-built +decoded):\n%s", d)
	}
	if back.APIVersion != APIVersion {
		t.Errorf("apiVersion %q, want %q", back.APIVersion, APIVersion)
	}
	if err := YAML(&y, s); err != nil {
		t.Fatal(err)
	}
	var fromYAML Status
	if err := yaml.Unmarshal(y.Bytes(), &fromYAML); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(s, &fromYAML); d != "" {
		t.Errorf("YAML differs from the status (-built +decoded):\n%s", d)
	}
}

// Members are listed by region in the spec's order; those only the status
// names (removed from the spec since) come after, by region and name, and
// those only the spec names are not reported.
func TestRegionsOrder(t *testing.T) {
	topo := reconciled(t)
	topo.Spec.Regions = topo.Spec.Regions[:1] // us-west1: m1
	topo.Spec.Regions[0].Clusters = append(topo.Spec.Regions[0].Clusters, topology.Cluster{Name: "m9", Kubeconfig: &topology.KubeconfigRef{Context: "m9"}})
	topo.Status.Clusters = append(topo.Status.Clusters, v1alpha1.ClusterStatus{Name: "m0", Region: "us-west1", Reachable: true})
	var got []string
	for _, r := range build(t, topo).Topologies[0].Regions {
		for _, c := range r.Clusters {
			got = append(got, fmt.Sprintf("%s/%s reported=%v", r.Name, c.Name, c.Reported))
		}
	}
	want := []string{"us-west1/m1 reported=true", "us-west1/m9 reported=false", "us-west1/m0 reported=true", "europe-west1/m2 reported=true"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("members (-want +got):\n%s", d)
	}
}
