package placement

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/geofed-io/kubectl-geofed/pkg/capacity"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// in returns clusters named names, all in one region, so shares list them
// by name.
func in(region string, names ...string) []Cluster {
	out := make([]Cluster, len(names))
	for i, n := range names {
		out[i] = Cluster{Name: n, Region: region}
	}
	return out
}

// withFit gives the clusters that many replicas that fit, now.
func withFit(cs []Cluster, fit ...int64) []Cluster {
	for i := range cs {
		cs[i].Capacity = fits(fit[i])
	}
	return cs
}

// fits is an estimate of n replicas on one node.
func fits(n int64) *capacity.Estimate {
	return &capacity.Estimate{Now: capacity.Fit{Replicas: n, Considered: 1}}
}

func unreachable(cs []Cluster, name, reason string) []Cluster {
	for i := range cs {
		if cs[i].Name == name {
			cs[i].Unreachable = reason
		}
	}
	return cs
}

func concat(parts ...[]Cluster) []Cluster {
	var out []Cluster
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func i32(v int32) *int32 { return &v }

// summary is a Result's shares in one line: "a=4 b=5(max) c=excluded".
func summary(r Result) string {
	parts := make([]string, 0, len(r.Shares))
	for _, s := range r.Shares {
		switch {
		case s.Excluded != "":
			parts = append(parts, s.Cluster+"=excluded")
		case s.Replicas == nil:
			parts = append(parts, s.Cluster+"=rendered")
		default:
			v := fmt.Sprintf("%s=%d", s.Cluster, *s.Replicas)
			if s.Clamped != "" {
				v += "(" + s.Clamped + ")"
			}
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, " ")
}

func TestDivide(t *testing.T) {
	weights := func(kv ...any) map[string]int32 {
		m := map[string]int32{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = int32(kv[i+1].(int))
		}
		return m
	}
	tests := []struct {
		name     string
		clusters []Cluster
		policy   topology.Replicas
		want     string
		wantErr  string
		// wantLine, if set, must be one of the explanation lines.
		wantLine string
		// wantWarning, if set, must be one of the warnings.
		wantWarning string
	}{
		// weight
		{
			name:     "equal weights",
			clusters: in("us-central1", "a", "b", "c"),
			policy:   topology.Replicas{Total: 12},
			want:     "a=4 b=4 c=4",
			wantLine: "12 replicas by weight (a 1, b 1, c 1) → a 4, b 4, c 4",
		},
		{
			name:     "divideBy weight spelled out",
			clusters: in("us-central1", "a", "b", "c"),
			policy:   topology.Replicas{Total: 12, DivideBy: topology.DivideByWeight},
			want:     "a=4 b=4 c=4",
		},
		{
			name:     "rounding tie goes to the first name",
			clusters: in("us-central1", "c", "b", "a"),
			policy:   topology.Replicas{Total: 10},
			want:     "a=4 b=3 c=3",
			wantLine: "before rounding: a 3.33, b 3.33, c 3.33; largest remainders round up: a (tied with b, c: first by name)",
		},
		{
			name:     "rounding tie, two left over",
			clusters: in("us-central1", "a", "b", "c"),
			policy:   topology.Replicas{Total: 11},
			want:     "a=4 b=4 c=3",
			wantLine: "before rounding: a 3.67, b 3.67, c 3.67; largest remainders round up: a, b (tied with c: first by name)",
		},
		{
			name:     "largest remainder beats name order",
			clusters: in("us-central1", "a", "b"),
			policy:   topology.Replicas{Total: 4, Weights: weights("b", 2)},
			want:     "a=1 b=3",
			wantLine: "before rounding: a 1.33, b 2.67; largest remainders round up: b",
		},
		{
			name:     "largest remainder among three",
			clusters: in("us-central1", "a", "b", "c"),
			policy:   topology.Replicas{Total: 6, Weights: weights("c", 3)},
			want:     "a=1 b=1 c=4",
		},
		{
			name:     "a cluster's own weight wins over its region's",
			clusters: concat(in("us-central1", "a", "b"), in("us-east1", "c")),
			policy:   topology.Replicas{Total: 10, Weights: weights("us-central1", 3, "a", 1)},
			want:     "a=2 b=6 c=2",
			wantLine: "10 replicas by weight (a 1, b 3, c 1) → a 2, b 6, c 2",
		},
		{
			name:        "weights entry naming nothing selected",
			clusters:    in("us-central1", "a", "b"),
			policy:      topology.Replicas{Total: 4, Weights: weights("us-centrall", 3, "a", 1)},
			want:        "a=2 b=2",
			wantWarning: `weights entry "us-centrall" names no selected cluster or region: ignored`,
		},
		{
			name:     "clamp to max, remainder divided again",
			clusters: concat(in("europe-west1", "euw"), in("us-central1", "usc"), in("us-east1", "use")),
			policy:   topology.Replicas{Total: 12, Weights: weights("us-central1", 2), Max: i32(5)},
			want:     "euw=4 usc=5(max) use=3",
			wantLine: "usc: share 6 clamped to max 5",
		},
		{
			name:     "clamp to min",
			clusters: in("us-central1", "a", "b", "c"),
			policy:   topology.Replicas{Total: 12, Weights: weights("a", 10), Min: i32(2)},
			want:     "a=8 b=2(min) c=2(min)",
			wantLine: "b: share 1 clamped to min 2",
		},
		{
			name:     "cascading max clamps",
			clusters: in("us-central1", "a", "b", "c", "d"),
			policy:   topology.Replicas{Total: 15, Weights: weights("a", 8, "b", 4, "c", 2), Max: i32(5)},
			want:     "a=5(max) b=5(max) c=3 d=2",
			wantLine: "b: share 5.71 clamped to max 5",
		},
		{
			name:     "cascading min clamps",
			clusters: in("us-central1", "a", "b", "c", "d"),
			policy:   topology.Replicas{Total: 16, Weights: weights("b", 2, "c", 3, "d", 10), Min: i32(2)},
			want:     "a=2(min) b=2(min) c=3 d=9",
			wantLine: "b: share 1.87 clamped to min 2",
		},
		{
			// Shares 10, 1, 1: a is 2 over max 8, b and c are 4 under min 3
			// together. Clamping both sides would hand out 8+3+3 = 14.
			name:     "only the larger side is clamped: min",
			clusters: in("us-central1", "a", "b", "c"),
			policy:   topology.Replicas{Total: 12, Weights: weights("a", 10), Min: i32(3), Max: i32(8)},
			want:     "a=6 b=3(min) c=3(min)",
		},
		{
			// Shares 20, 1, 3: a is 10 over max 10, b 1 under min 2.
			// Clamping b now would leave 12 for a and c, then 10 for a.
			name:     "only the larger side is clamped: max",
			clusters: in("us-central1", "a", "b", "c"),
			policy:   topology.Replicas{Total: 24, Weights: weights("a", 20, "c", 3), Min: i32(2), Max: i32(10)},
			want:     "a=10(max) b=4 c=10(max)",
			wantLine: "c: share 10.5 clamped to max 10",
		},
		{
			name:     "both sides clamped when their violations are equal",
			clusters: in("us-central1", "a", "b", "c"),
			policy:   topology.Replicas{Total: 12, Weights: weights("a", 10), Min: i32(2), Max: i32(8)},
			want:     "a=8(max) b=2(min) c=2(min)",
		},
		{
			name:     "min equals max",
			clusters: in("us-central1", "a", "b", "c"),
			policy:   topology.Replicas{Total: 9, Weights: weights("a", 5), Min: i32(3), Max: i32(3)},
			want:     "a=3(max) b=3(min) c=3(min)",
		},
		{
			name:     "weight 0 is a warm standby",
			clusters: in("us-central1", "a", "b", "c"),
			policy:   topology.Replicas{Total: 10, Weights: weights("c", 0)},
			want:     "a=5 b=5 c=0",
			wantLine: "warm standby at 0 replicas: c",
		},
		{
			name:        "every weight 0 divides equally",
			clusters:    in("us-central1", "a", "b", "c"),
			policy:      topology.Replicas{Total: 7, Weights: weights("us-central1", 0)},
			want:        "a=3 b=2 c=2",
			wantLine:    "every weight is 0: divided equally",
			wantWarning: "every weight is 0: replicas divided equally",
		},
		{
			name:     "clusters weighing 0 share what max leaves",
			clusters: in("us-central1", "a", "b", "c"),
			policy:   topology.Replicas{Total: 10, Weights: weights("b", 0, "c", 0), Max: i32(4)},
			want:     "a=4(max) b=3 c=3",
			wantLine: "6 left after clamping, divided equally among b, c (weight 0)",
		},
		{
			name:     "cluster weighing 0 raised to min",
			clusters: in("us-central1", "a", "b"),
			policy:   topology.Replicas{Total: 10, Weights: weights("b", 0), Min: i32(2)},
			want:     "a=8 b=2(min)",
		},
		{
			name:        "unreachable cluster's share redistributed",
			clusters:    unreachable(in("us-central1", "a", "b", "c"), "b", "dial tcp 10.0.0.2:443: connect: connection refused"),
			policy:      topology.Replicas{Total: 12},
			want:        "a=6 b=excluded c=6",
			wantLine:    "b excluded: unreachable (dial tcp 10.0.0.2:443: connect: connection refused)",
			wantWarning: "cluster b unreachable (dial tcp 10.0.0.2:443: connect: connection refused): excluded, its share redistributed",
		},
		{
			name:     "every cluster unreachable and nothing to place",
			clusters: unreachable(in("us-central1", "a"), "a", "timeout"),
			policy:   topology.Replicas{Total: 0},
			want:     "a=excluded",
			wantLine: "0 replicas by weight: no selected cluster is reachable",
		},
		{
			name:     "total 0",
			clusters: in("us-central1", "a", "b"),
			policy:   topology.Replicas{Total: 0},
			want:     "a=0 b=0",
		},
		{
			name:     "every cluster unreachable",
			clusters: unreachable(unreachable(in("us-central1", "a", "b"), "a", "timeout"), "b", "timeout"),
			policy:   topology.Replicas{Total: 5},
			want:     "a=excluded b=excluded",
			wantLine: "5 of 5 replicas cannot be placed while 2 selected clusters are unreachable",
		},
		{
			name:     "mins above total",
			clusters: in("us-central1", "a", "b", "c"),
			policy:   topology.Replicas{Total: 5, Min: i32(2)},
			wantErr:  "cannot divide 5 replicas among 3 clusters: min 2 each needs 6",
		},
		{
			name:     "mins above total once a cluster is unreachable",
			clusters: unreachable(in("us-central1", "a", "b", "c"), "c", "timeout"),
			policy:   topology.Replicas{Total: 5, Min: i32(3)},
			wantErr:  "cannot divide 5 replicas among 2 clusters (1 more selected but unreachable): min 3 each needs 6",
		},
		{
			name:     "maxes below total",
			clusters: in("us-central1", "a", "b", "c"),
			policy:   topology.Replicas{Total: 10, Max: i32(3)},
			wantErr:  "cannot divide 10 replicas among 3 clusters: max 3 each holds only 9",
		},
		{
			name:     "min above max",
			clusters: in("us-central1", "a"),
			policy:   topology.Replicas{Total: 3, Min: i32(4), Max: i32(3)},
			wantErr:  "replicas.min 4 exceeds replicas.max 3",
		},
		{
			name:     "negative total",
			clusters: in("us-central1", "a"),
			policy:   topology.Replicas{Total: -1},
			wantErr:  "replicas.total is negative (-1)",
		},
		{
			name:     "negative min",
			clusters: in("us-central1", "a"),
			policy:   topology.Replicas{Total: 1, Min: i32(-1)},
			wantErr:  "replicas.min is negative (-1)",
		},
		{
			name:     "negative max",
			clusters: in("us-central1", "a"),
			policy:   topology.Replicas{Total: 1, Max: i32(-1)},
			wantErr:  "replicas.max is negative (-1)",
		},
		{
			name:     "negative weight",
			clusters: in("us-central1", "a"),
			policy:   topology.Replicas{Total: 1, Weights: weights("a", -2)},
			wantErr:  "replicas.weights[a] is negative (-2)",
		},
		{
			name:     "unknown divideBy",
			clusters: in("us-central1", "a"),
			policy:   topology.Replicas{Total: 1, DivideBy: "latency"},
			wantErr:  `replicas.divideBy: unknown "latency" (want weight, capacity, locality or cost)`,
		},
		{
			name:     "duplicate cluster names",
			clusters: concat(in("us-central1", "a"), in("us-east1", "a")),
			policy:   topology.Replicas{Total: 1},
			wantErr:  `cluster "a" appears twice`,
		},

		// capacity
		{
			name:     "capacity proportional to the replicas that fit",
			clusters: withFit(in("us-central1", "a", "b", "c"), 8, 4, 0),
			policy:   topology.Replicas{Total: 6, DivideBy: topology.DivideByCapacity},
			want:     "a=4 b=2 c=0",
			wantLine: "6 replicas by replicas that fit after scale-up (a 8, b 4, c 0) → a 4, b 2, c 0",
		},
		{
			// Products of total and spare overflow int64; shares are exact.
			name:     "capacity in huge units",
			clusters: withFit(in("us-central1", "a", "b"), 1<<62, 1<<61),
			policy:   topology.Replicas{Total: 1<<31 - 1, DivideBy: topology.DivideByCapacity, Resource: "memory"},
			want:     "a=1431655765 b=715827882",
		},
		{
			name:     "capacity of another resource",
			clusters: withFit(in("us-central1", "a", "b"), 30, 10),
			policy:   topology.Replicas{Total: 8, DivideBy: topology.DivideByCapacity, Resource: "cpu"},
			want:     "a=6 b=2",
		},
		{
			name:     "capacity with max",
			clusters: withFit(in("us-central1", "a", "b", "c"), 16, 2, 2),
			policy:   topology.Replicas{Total: 12, DivideBy: topology.DivideByCapacity, Max: i32(6)},
			want:     "a=6(max) b=3 c=3",
			wantLine: "a: share 9.6 clamped to max 6",
		},
		{
			name:        "no room anywhere divides equally",
			clusters:    withFit(in("us-central1", "a", "b"), 0, 0),
			policy:      topology.Replicas{Total: 3, DivideBy: topology.DivideByCapacity},
			want:        "a=2 b=1",
			wantLine:    "no replica fits on any cluster: divided equally",
			wantWarning: "no replica fits on any cluster: replicas divided equally",
		},
		{
			name:     "overcommitted cluster has no spare",
			clusters: withFit(in("us-central1", "a", "b"), -3, 4),
			policy:   topology.Replicas{Total: 4, DivideBy: topology.DivideByCapacity},
			want:     "a=0 b=4",
		},
		{
			name:     "unreachable cluster needs no capacity",
			clusters: append(withFit(in("us-central1", "a"), 2), Cluster{Name: "b", Region: "us-central1", Unreachable: "timeout"}),
			policy:   topology.Replicas{Total: 4, DivideBy: topology.DivideByCapacity},
			want:     "a=4 b=excluded",
		},
		{
			name: "capacity unknown",
			clusters: []Cluster{
				{Name: "c", Region: "us-central1"},
				{Name: "b", Region: "us-central1"},
				{Name: "a", Region: "us-central1", Capacity: fits(4)},
			},
			policy:  topology.Replicas{Total: 4, DivideBy: topology.DivideByCapacity},
			wantErr: "dividing replicas by the replicas that fit, which is unknown for clusters b, c",
		},

		// locality
		{
			name:     "locality fills the nearest first up to max",
			clusters: concat(in("us-west1", "w"), in("us-central1", "c"), in("europe-west1", "e")),
			policy:   topology.Replicas{Total: 16, DivideBy: topology.DivideByLocality, Near: "us-west1", Max: i32(10)},
			want:     "e=0 c=6 w=10(max)",
			wantLine: "w: filled to max 10",
		},
		{
			name:     "locality without max: the nearest takes everything",
			clusters: concat(in("us-west1", "w"), in("us-central1", "c"), in("europe-west1", "e")),
			policy:   topology.Replicas{Total: 16, DivideBy: topology.DivideByLocality, Near: "us-west1"},
			want:     "e=0 c=0 w=16",
		},
		{
			name:     "locality gives every cluster min first",
			clusters: concat(in("us-west1", "w"), in("us-central1", "c"), in("europe-west1", "e")),
			policy:   topology.Replicas{Total: 16, DivideBy: topology.DivideByLocality, Near: "us-west1", Min: i32(1), Max: i32(10)},
			want:     "e=1 c=5 w=10(max)",
			wantLine: "each cluster first gets min 1; the remaining 13 go to the nearest first",
		},
		{
			name:     "locality from the other side of the world",
			clusters: concat(in("us-west1", "w"), in("us-central1", "c"), in("europe-west1", "e")),
			policy:   topology.Replicas{Total: 16, DivideBy: topology.DivideByLocality, Near: "europe-west4", Max: i32(7)},
			want:     "e=7(max) c=7(max) w=2",
		},
		{
			name:     "locality with nothing beyond min",
			clusters: concat(in("us-west1", "w"), in("us-central1", "c")),
			policy:   topology.Replicas{Total: 4, DivideBy: topology.DivideByLocality, Near: "us-west1", Min: i32(2), Max: i32(5)},
			want:     "c=2 w=2",
			wantLine: "each cluster gets min 2, which places all 4",
		},
		{
			name:     "locality ties by name",
			clusters: in("us-west1", "w2", "w1"),
			policy:   topology.Replicas{Total: 12, DivideBy: topology.DivideByLocality, Near: "us-west1", Max: i32(8)},
			want:     "w1=8(max) w2=4",
			wantLine: "12 replicas by locality near us-west1 (w1 0 km, w2 0 km), max 8 → w1 8, w2 4",
		},
		{
			name:     "locality: a cluster filled exactly to max is not clamped",
			clusters: concat(in("us-west1", "w"), in("us-central1", "c")),
			policy:   topology.Replicas{Total: 10, DivideBy: topology.DivideByLocality, Near: "us-west1", Max: i32(10)},
			want:     "c=0 w=10",
		},
		{
			name:     "locality skips the unreachable nearest",
			clusters: unreachable(concat(in("us-west1", "w"), in("us-central1", "c")), "w", "timeout"),
			policy:   topology.Replicas{Total: 10, DivideBy: topology.DivideByLocality, Near: "us-west1"},
			want:     "c=10 w=excluded",
		},
		{
			name:     "locality needs near",
			clusters: in("us-west1", "w"),
			policy:   topology.Replicas{Total: 1, DivideBy: topology.DivideByLocality},
			wantErr:  "replicas.near: divideBy locality needs the region to fill from",
		},
		{
			name:     "locality near an unknown region",
			clusters: in("us-west1", "w"),
			policy:   topology.Replicas{Total: 1, DivideBy: topology.DivideByLocality, Near: "us-wst1"},
			wantErr:  `replicas.near: unknown region "us-wst1" (did you mean "us-west1"?)`,
		},
		{
			name:     "locality from a cluster in an unknown region",
			clusters: in("mars-north1", "m"),
			policy:   topology.Replicas{Total: 1, DivideBy: topology.DivideByLocality, Near: "us-west1"},
			wantErr:  `cluster m: unknown region "mars-north1", so its distance to us-west1 is unknown`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Divide(tt.clusters, tt.policy)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Divide() error = %v\nwant %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Divide() error = %v", err)
			}
			if got := summary(res); got != tt.want {
				t.Errorf("Divide() = %s\nwant %s\nexplanation:\n%s", got, tt.want, strings.Join(res.Explanation, "\n"))
			}
			if tt.wantLine != "" && !contains(res.Explanation, tt.wantLine) {
				t.Errorf("explanation lacks %q:\n%s", tt.wantLine, strings.Join(res.Explanation, "\n"))
			}
			if tt.wantWarning != "" && !contains(res.Warnings, tt.wantWarning) {
				t.Errorf("warnings lack %q:\n%s", tt.wantWarning, strings.Join(res.Warnings, "\n"))
			}
		})
	}
}

func contains(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

func TestCapacityUnknownErrorIsTyped(t *testing.T) {
	_, err := Divide(in("us-central1", "b", "a"), topology.Replicas{Total: 2, DivideBy: topology.DivideByCapacity, Resource: "google.com/tpu"})
	var capErr *CapacityUnknownError
	if !errors.As(err, &capErr) {
		t.Fatalf("Divide() error = %v (%T), want *CapacityUnknownError", err, err)
	}
	want := &CapacityUnknownError{Resource: "google.com/tpu", Clusters: []string{"a", "b"}}
	if !reflect.DeepEqual(capErr, want) {
		t.Errorf("error = %#v, want %#v", capErr, want)
	}
}

func TestCapacityUnknownErrorMessage(t *testing.T) {
	tests := []struct {
		err  CapacityUnknownError
		want string
	}{
		{
			CapacityUnknownError{Workload: "trainer", Resource: "nvidia.com/gpu", Clusters: []string{"training-us"}},
			`workload "trainer" divides its replicas by the replicas that fit, which is unknown for cluster training-us`,
		},
		{
			CapacityUnknownError{Resource: "nvidia.com/gpu", Clusters: []string{"a", "b"}},
			"dividing replicas by the replicas that fit, which is unknown for clusters a, b",
		},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %s\nwant %s", got, tt.want)
		}
	}
}

func TestDivideReportsInputsPerShare(t *testing.T) {
	clusters := withFit(in("us-central1", "a", "b"), 6, 2)
	res, err := Divide(clusters, topology.Replicas{
		Total: 4, DivideBy: topology.DivideByCapacity, Min: i32(0), Max: i32(3),
	})
	if err != nil {
		t.Fatal(err)
	}
	w6, w2 := 6.0, 2.0
	want := Result{
		Mode: ModeCapacity, Total: i32(4), Min: i32(0), Max: i32(3), Resource: "nvidia.com/gpu", Capacity: "scaleUp",
		Shares: []Share{
			{Cluster: "a", Region: "us-central1", Replicas: i32(3), Weight: &w6, Fit: clusters[0].Capacity},
			{Cluster: "b", Region: "us-central1", Replicas: i32(1), Weight: &w2, Fit: clusters[1].Capacity},
		},
		Explanation: []string{
			"4 replicas by replicas that fit after scale-up (a 6, b 2), max 3 → a 3, b 1",
			"a: 1 node considered · now: 6 fit",
			"b: 1 node considered · now: 2 fit",
		},
	}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("Divide() =\n%#v\nwant\n%#v", res, want)
	}

	res, err = Divide(concat(in("us-west1", "w"), in("us-central1", "c")), topology.Replicas{
		Total: 4, DivideBy: topology.DivideByLocality, Near: "us-west1",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Shares {
		if s.DistanceKm == nil || s.Weight != nil {
			t.Fatalf("locality share %s: DistanceKm = %v, Weight = %v; want a distance and no weight", s.Cluster, s.DistanceKm, s.Weight)
		}
	}
	if km := *res.Shares[0].DistanceKm; res.Shares[0].Cluster != "c" || km < 1500 || km > 2500 || km != float64(int(km)) {
		t.Errorf("us-central1 is %v km from us-west1, want a whole number between 1500 and 2500", km)
	}
	if km := *res.Shares[1].DistanceKm; km != 0 {
		t.Errorf("us-west1 is %v km from itself", km)
	}
}

func TestFormatRat(t *testing.T) {
	tests := []struct {
		num, den int64
		want     string
	}{
		{6, 1, "6"},
		{0, 1, "0"},
		{7, 2, "3.5"},
		{10, 3, "3.33"},
		{20, 3, "6.67"},
		{2999, 1000, "~3"},
		{1, 1000, "~0"},
	}
	for _, tt := range tests {
		if got := formatRat(big.NewRat(tt.num, tt.den)); got != tt.want {
			t.Errorf("formatRat(%d/%d) = %s, want %s", tt.num, tt.den, got, tt.want)
		}
	}
}
