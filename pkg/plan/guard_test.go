package plan

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

func TestParsePruneLimit(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    PruneLimit
		wantErr string
	}{
		{in: "50%,10", want: PruneLimit{Percent: 50, Count: 10}},
		{in: "10,50%", want: PruneLimit{Percent: 50, Count: 10}},
		{in: " 25% ", want: PruneLimit{Percent: 25}},
		{in: "100", want: PruneLimit{Count: 100}},
		{in: "0", want: PruneLimit{}},
		{in: "100%", want: PruneLimit{Percent: 100}},
		{in: "101%", wantErr: `"101%" is not a share from 0% to 100%`},
		{in: "-1", wantErr: `"-1" is neither a share nor a count`},
		{in: "half", wantErr: `"half" is neither a share nor a count`},
		{in: "50%,60%", wantErr: "two shares"},
		{in: "5,6", wantErr: "two counts"},
		{in: "1,2%,3", wantErr: "more than a share and a count"},
		{in: "", wantErr: `"" is neither`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePruneLimit(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParsePruneLimit(%q) = %v, %v; want error with %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParsePruneLimit(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
			// It reads back what it writes.
			again, err := ParsePruneLimit(got.String())
			if err != nil || again != got {
				t.Fatalf("ParsePruneLimit(%q.String() = %q) = %+v, %v", tc.in, got.String(), again, err)
			}
		})
	}
}

func limit(pct, n int) *PruneLimit { return &PruneLimit{Percent: pct, Count: n} }

// counts is one cluster's count for the tests: web and api are the
// topology's workloads.
func counts(name string, owned int, deleting, keeping map[string]int) PruneCount {
	return PruneCount{
		Cluster:  name,
		Owned:    owned,
		Deleting: deleting,
		Keeping:  keeping,
		Workloads: map[string]string{
			"web": "no longer selects it: clusterSelector tier=front, the cluster's labels tier=fornt",
			"api": "is placed on it but renders no object for it (its kustomize source or overlay for this cluster)",
		},
	}
}

func TestGuardPrunes(t *testing.T) {
	const webGone = "workload web no longer selects it: clusterSelector tier=front, the cluster's labels tier=fornt"
	for _, tc := range []struct {
		name      string
		counts    []PruneCount
		opts      GuardOptions
		want      map[string]*ClusterGuard
		wantFleet PruneGuard
	}{{
		name: "nothing deleted",
		counts: []PruneCount{
			counts("a", 40, nil, map[string]int{"web": 40}),
		},
		want:      map[string]*ClusterGuard{},
		wantFleet: PruneGuard{MaxPrune: "50%,10", MaxPruneFleet: "50%,10", Owned: 40},
	}, {
		name: "half and more than 10, but a workload stays: not held",
		counts: []PruneCount{
			counts("a", 40, map[string]int{"web": 20}, map[string]int{"web": 20}),
			counts("b", 40, nil, map[string]int{"web": 40}),
		},
		want:      map[string]*ClusterGuard{},
		wantFleet: PruneGuard{MaxPrune: "50%,10", MaxPruneFleet: "50%,10", Deleting: 20, Owned: 80},
	}, {
		name: "more than half and more than 10: held",
		counts: []PruneCount{
			counts("a", 40, map[string]int{"web": 21}, map[string]int{"web": 19}),
			counts("b", 100, nil, map[string]int{"web": 100}),
		},
		want: map[string]*ClusterGuard{
			"a": {Deleting: 21, Owned: 40, Reasons: []string{"past --max-prune=50%,10"}},
		},
		wantFleet: PruneGuard{MaxPrune: "50%,10", MaxPruneFleet: "50%,10", Deleting: 21, Owned: 140},
	}, {
		name: "more than half but only 10: not held",
		counts: []PruneCount{
			counts("a", 12, map[string]int{"web": 10}, map[string]int{"web": 2}),
			counts("b", 100, nil, map[string]int{"web": 100}),
		},
		want:      map[string]*ClusterGuard{},
		wantFleet: PruneGuard{MaxPrune: "50%,10", MaxPruneFleet: "50%,10", Deleting: 10, Owned: 112},
	}, {
		name: "a label typo takes every object of a workload off the cluster: held, however few",
		counts: []PruneCount{
			counts("a", 10, map[string]int{"web": 3}, map[string]int{"api": 7}),
			counts("b", 10, nil, map[string]int{"web": 3, "api": 7}),
		},
		want: map[string]*ClusterGuard{
			"a": {Deleting: 3, Owned: 10, Reasons: []string{webGone}},
		},
		wantFleet: PruneGuard{MaxPrune: "50%,10", MaxPruneFleet: "50%,10", Deleting: 3, Owned: 20},
	}, {
		name: "a workload removed from the topology: not the workload rule",
		counts: []PruneCount{
			counts("a", 10, map[string]int{"old": 3}, map[string]int{"web": 7}),
		},
		want:      map[string]*ClusterGuard{},
		wantFleet: PruneGuard{MaxPrune: "50%,10", MaxPruneFleet: "50%,10", Deleting: 3, Owned: 10},
	}, {
		name: "an overlay that renders nothing, and the count: both reasons",
		counts: []PruneCount{
			counts("a", 30, map[string]int{"api": 20}, map[string]int{"web": 10}),
			counts("b", 100, nil, map[string]int{"api": 100}),
		},
		want: map[string]*ClusterGuard{
			"a": {Deleting: 20, Owned: 30, Reasons: []string{
				"workload api is placed on it but renders no object for it (its kustomize source or overlay for this cluster)",
				"past --max-prune=50%,10",
			}},
		},
		wantFleet: PruneGuard{MaxPrune: "50%,10", MaxPruneFleet: "50%,10", Deleting: 20, Owned: 130},
	}, {
		name: "an absolute --max-prune",
		counts: []PruneCount{
			counts("a", 1000, map[string]int{"web": 6}, map[string]int{"web": 994}),
			counts("b", 1000, map[string]int{"web": 5}, map[string]int{"web": 995}),
		},
		opts: GuardOptions{MaxPrune: limit(0, 5)},
		want: map[string]*ClusterGuard{
			"a": {Deleting: 6, Owned: 1000, Reasons: []string{"past --max-prune=5"}},
		},
		wantFleet: PruneGuard{MaxPrune: "5", MaxPruneFleet: "50%,10", Deleting: 11, Owned: 2000},
	}, {
		name: "a share alone",
		counts: []PruneCount{
			counts("a", 10, map[string]int{"web": 3}, map[string]int{"web": 7}),
		},
		opts: GuardOptions{MaxPrune: limit(25, 0), MaxPruneFleet: limit(100, 0)},
		want: map[string]*ClusterGuard{
			"a": {Deleting: 3, Owned: 10, Reasons: []string{"past --max-prune=25%"}},
		},
		wantFleet: PruneGuard{MaxPrune: "25%", MaxPruneFleet: "100%", Deleting: 3, Owned: 10},
	}, {
		name: "allowed by name: still shown, allowed; the other held",
		counts: []PruneCount{
			counts("a", 43, map[string]int{"web": 43}, nil),
			counts("b", 43, map[string]int{"web": 43}, nil),
			counts("c", 43, nil, map[string]int{"web": 43}),
		},
		opts: GuardOptions{Allow: []string{"a"}},
		want: map[string]*ClusterGuard{
			"a": {Deleting: 43, Owned: 43, Allowed: true, Reasons: []string{webGone, "past --max-prune=50%,10",
				"the fleet would lose 86 of 129 objects geofed applied, past --max-prune-fleet=50%,10"}},
			"b": {Deleting: 43, Owned: 43, Reasons: []string{webGone, "past --max-prune=50%,10",
				"the fleet would lose 86 of 129 objects geofed applied, past --max-prune-fleet=50%,10"}},
		},
		wantFleet: PruneGuard{MaxPrune: "50%,10", MaxPruneFleet: "50%,10", AllowPrune: []string{"a"}, Deleting: 86, Owned: 129, Fleet: true},
	}, {
		name: "allow all",
		counts: []PruneCount{
			counts("a", 43, map[string]int{"web": 43}, nil),
		},
		opts: GuardOptions{Allow: []string{AllowAll}, MaxPruneFleet: limit(100, 0)},
		want: map[string]*ClusterGuard{
			"a": {Deleting: 43, Owned: 43, Allowed: true, Reasons: []string{webGone, "past --max-prune=50%,10"}},
		},
		wantFleet: PruneGuard{MaxPrune: "50%,10", MaxPruneFleet: "100%", AllowPrune: []string{"all"}, Deleting: 43, Owned: 43},
	}, {
		name: "many small clusters emptied at once: no cluster's limit, the fleet's",
		counts: []PruneCount{
			counts("e1", 8, map[string]int{"old": 8}, nil),
			counts("e2", 8, map[string]int{"old": 8}, nil),
			counts("e3", 8, nil, map[string]int{"web": 8}),
		},
		want: map[string]*ClusterGuard{
			"e1": {Deleting: 8, Owned: 8, Reasons: []string{"the fleet would lose 16 of 24 objects geofed applied, past --max-prune-fleet=50%,10"}},
			"e2": {Deleting: 8, Owned: 8, Reasons: []string{"the fleet would lose 16 of 24 objects geofed applied, past --max-prune-fleet=50%,10"}},
		},
		wantFleet: PruneGuard{MaxPrune: "50%,10", MaxPruneFleet: "50%,10", Deleting: 16, Owned: 24, Fleet: true},
	}, {
		name: "the fleet's own limit, stricter than the clusters'",
		counts: []PruneCount{
			counts("a", 100, map[string]int{"old": 40}, map[string]int{"web": 60}),
			counts("b", 100, map[string]int{"old": 40}, map[string]int{"web": 60}),
		},
		opts: GuardOptions{MaxPruneFleet: limit(30, 50)},
		want: map[string]*ClusterGuard{
			"a": {Deleting: 40, Owned: 100, Reasons: []string{"the fleet would lose 80 of 200 objects geofed applied, past --max-prune-fleet=30%,50"}},
			"b": {Deleting: 40, Owned: 100, Reasons: []string{"the fleet would lose 80 of 200 objects geofed applied, past --max-prune-fleet=30%,50"}},
		},
		wantFleet: PruneGuard{MaxPrune: "50%,10", MaxPruneFleet: "30%,50", Deleting: 80, Owned: 200, Fleet: true},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, fleet := GuardPrunes(tc.counts, tc.opts)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("guards (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantFleet, *fleet); diff != "" {
				t.Errorf("fleet (-want +got):\n%s", diff)
			}
			for name, g := range got {
				if g.Held() == g.Allowed {
					t.Errorf("%s: Held() = %v with Allowed = %v", name, g.Held(), g.Allowed)
				}
			}
		})
	}
}

func TestGuardOptionsRoundTrip(t *testing.T) {
	// A saved plan's guard gives the options that compute it again.
	in := GuardOptions{MaxPrune: limit(0, 20), MaxPruneFleet: limit(40, 0), Allow: []string{"serving-us"}}
	_, fleet := GuardPrunes(nil, in)
	out, err := fleet.Options()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestGuardValidate(t *testing.T) {
	o := GuardOptions{Allow: []string{"serving-us", "all", "serving-eu"}}
	err := o.validate([]string{"serving-us", "serving-asia"})
	if err == nil || err.Error() != `--allow-prune: the topology has no cluster "serving-eu" (clusters: serving-us, serving-asia)` {
		t.Fatalf("validate = %v", err)
	}
}

func TestGuardLine(t *testing.T) {
	g := &ClusterGuard{Deleting: 412, Owned: 430, Reasons: []string{"workload model-server no longer selects it: clusterSelector role=serving, the cluster's labels role=servign"}}
	want := "prune guard: serving-us would lose 412 of 430 objects geofed applied (workload model-server no longer selects it: clusterSelector role=serving, the cluster's labels role=servign): apply deletes nothing there without --allow-prune=serving-us"
	if got := GuardLine("serving-us", g); got != want {
		t.Fatalf("GuardLine =\n%s\nwant\n%s", got, want)
	}
	g.Allowed = true
	if got := GuardLine("serving-us", g); !strings.Contains(got, "allowed by --allow-prune, apply deletes them") {
		t.Fatalf("allowed GuardLine = %s", got)
	}
}

func TestHeldIDAndAllowPrune(t *testing.T) {
	del := func(name, uid string) Object {
		return Object{Action: object.ActionDelete, Version: "v1", Kind: "ConfigMap", Namespace: "web", Name: name, UID: uid}
	}
	mk := func(objs ...Object) *Plan {
		return &Plan{PruneGuard: &PruneGuard{}, Regions: []Region{{Name: "r", Clusters: []Cluster{
			{Name: "a", Objects: objs, PruneGuard: &ClusterGuard{Deleting: len(objs), Owned: len(objs)}},
			{Name: "b", Objects: []Object{del("x", "9")}},
		}}}}
	}
	base := HeldID(mk(del("flags", "1"), del("notes", "2")))
	if !strings.HasPrefix(base, "prune-") {
		t.Fatalf("HeldID = %q", base)
	}
	for _, tc := range []struct {
		name string
		p    *Plan
		same bool
	}{
		{"the same deletions, in another order", mk(del("notes", "2"), del("flags", "1")), true},
		{"a deletion more", mk(del("flags", "1"), del("notes", "2"), del("more", "3")), false},
		{"an object re-created since (another UID)", mk(del("flags", "1"), del("notes", "7")), false},
	} {
		if got := HeldID(tc.p); (got == base) != tc.same {
			t.Errorf("%s: HeldID %s, base %s, want same = %v", tc.name, got, base, tc.same)
		}
	}

	p := mk(del("flags", "1"))
	p.Summary = summarize(p)
	if p.Summary.Guarded != 1 {
		t.Fatalf("guarded = %d, want 1", p.Summary.Guarded)
	}
	p.AllowPrune([]string{"b"})
	if HeldID(p) == "" || p.Summary.Guarded != 1 {
		t.Errorf("allowing b, which is not held, changed a: %s, %+v", HeldID(p), p.Summary)
	}
	p.AllowPrune([]string{AllowAll})
	if HeldID(p) != "" || p.Summary.Guarded != 0 || !p.Regions[0].Clusters[0].PruneGuard.Allowed {
		t.Errorf("allowing all: HeldID %q, summary %+v", HeldID(p), p.Summary)
	}
	if HeldID(&Plan{}) != "" {
		t.Errorf("a plan holding nothing has an ID")
	}
}
