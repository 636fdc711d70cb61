package placement

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// serving is the fleet of the brief's example: three serving clusters in
// three regions, plus a training cluster that serving selectors skip.
func serving() []Cluster {
	return []Cluster{
		{Name: "serve-usc", Region: "us-central1", Labels: map[string]string{"role": "serving"}, Spare: map[string]int64{"nvidia.com/gpu": 12}},
		{Name: "serve-use", Region: "us-east1", Labels: map[string]string{"role": "serving"}, Spare: map[string]int64{"nvidia.com/gpu": 3}},
		{Name: "serve-euw", Region: "europe-west1", Labels: map[string]string{"role": "serving"}, Spare: map[string]int64{"nvidia.com/gpu": 5}},
		{Name: "training-us", Region: "us-west1", Labels: map[string]string{"role": "training"}},
	}
}

var servingSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"role": "serving"}}

// TestPlaceGolden pins the explanation, warnings and JSON of whole
// placements; run with -update after a deliberate change and review the diff.
func TestPlaceGolden(t *testing.T) {
	tests := []struct {
		name     string
		workload topology.Workload
		clusters []Cluster
	}{
		{
			name: "weight",
			workload: topology.Workload{Name: "api", Placement: topology.Placement{
				ClusterSelector: servingSelector,
				Replicas:        &topology.Replicas{Total: 12, Weights: map[string]int32{"us-central1": 2}},
			}},
		},
		{
			name: "weight-clamped",
			workload: topology.Workload{Name: "api", Placement: topology.Placement{
				ClusterSelector: servingSelector,
				Replicas:        &topology.Replicas{Total: 12, Weights: map[string]int32{"us-central1": 2}, Min: i32(1), Max: i32(5)},
			}},
		},
		{
			name: "weight-cascade",
			workload: topology.Workload{Name: "api", Placement: topology.Placement{
				ClusterSelector: servingSelector,
				Replicas: &topology.Replicas{Total: 20, DivideBy: topology.DivideByWeight, Max: i32(8), Min: i32(5),
					Weights: map[string]int32{"serve-usc": 10, "serve-use": 1, "europe-west1": 6}},
			}},
		},
		{
			name: "weight-standby",
			workload: topology.Workload{Name: "api", Placement: topology.Placement{
				Clusters: []string{"serve-usc", "serve-euw"},
				Replicas: &topology.Replicas{Total: 4, Weights: map[string]int32{"europe-west1": 0}},
			}},
		},
		{
			name: "weight-unreachable",
			workload: topology.Workload{Name: "api", Placement: topology.Placement{
				ClusterSelector: servingSelector,
				Replicas:        &topology.Replicas{Total: 12, Weights: map[string]int32{"us-central1": 2}},
			}},
			clusters: unreachable(serving(), "serve-euw", "dial tcp 10.0.3.1:443: connect: connection refused"),
		},
		{
			name: "capacity",
			workload: topology.Workload{Name: "api", Placement: topology.Placement{
				ClusterSelector: servingSelector,
				Replicas:        &topology.Replicas{Total: 10, DivideBy: topology.DivideByCapacity, Max: i32(5)},
			}},
		},
		{
			name: "capacity-none-spare",
			workload: topology.Workload{Name: "api", Placement: topology.Placement{
				Replicas: &topology.Replicas{Total: 5, DivideBy: topology.DivideByCapacity, Resource: "google.com/tpu"},
			}},
			clusters: withSpare("google.com/tpu", in("us-central1", "tpu-a", "tpu-b"), 0, 0),
		},
		{
			name: "locality",
			workload: topology.Workload{Name: "api", Placement: topology.Placement{
				Replicas: &topology.Replicas{Total: 14, DivideBy: topology.DivideByLocality, Near: "us-east4", Min: i32(1), Max: i32(6)},
			}},
		},
		{
			name: "duplicate",
			workload: topology.Workload{Name: "api", Placement: topology.Placement{
				ClusterSelector: servingSelector,
			}},
			clusters: unreachable(serving(), "serve-use", "context deadline exceeded"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clusters := tt.clusters
			if clusters == nil {
				clusters = serving()
			}
			res, err := Place(tt.workload, clusters)
			if err != nil {
				t.Fatalf("Place() error = %v", err)
			}
			js, err := json.MarshalIndent(res, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			b.WriteString("# explanation\n")
			for _, l := range res.Explanation {
				b.WriteString(l + "\n")
			}
			b.WriteString("# warnings\n")
			for _, l := range res.Warnings {
				b.WriteString(l + "\n")
			}
			b.WriteString("# json\n")
			b.Write(js)
			b.WriteString("\n")
			compareGolden(t, filepath.Join("testdata", tt.name+".golden"), b.String())
		})
	}
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update if the change is intended):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestPlaceErrorsNameTheWorkload(t *testing.T) {
	tests := []struct {
		name     string
		workload topology.Workload
		clusters []Cluster
		want     string
	}{
		{
			name: "selects nothing",
			workload: topology.Workload{Name: "trainer", Placement: topology.Placement{
				ClusterSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "inference"}},
			}},
			want: `workload "trainer": placement selects no cluster: clusterSelector role=inference matches none of the 4 clusters`,
		},
		{
			name: "infeasible",
			workload: topology.Workload{Name: "api", Placement: topology.Placement{
				ClusterSelector: servingSelector,
				Replicas:        &topology.Replicas{Total: 12, Max: i32(3)},
			}},
			want: `workload "api": cannot divide 12 replicas among 3 clusters: max 3 each holds only 9`,
		},
		{
			name: "capacity unknown",
			workload: topology.Workload{Name: "trainer", Placement: topology.Placement{
				Replicas: &topology.Replicas{Total: 4, DivideBy: topology.DivideByCapacity},
			}},
			want: `workload "trainer" divides its replicas by spare nvidia.com/gpu, which is unknown for cluster training-us`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Place(tt.workload, serving())
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Place() error = %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestPlaceCapacityUnknownIsTyped(t *testing.T) {
	_, err := Place(topology.Workload{Name: "trainer", Placement: topology.Placement{
		Replicas: &topology.Replicas{Total: 4, DivideBy: topology.DivideByCapacity},
	}}, serving())
	var capErr *CapacityUnknownError
	if !errors.As(err, &capErr) {
		t.Fatalf("Place() error = %v (%T), want *CapacityUnknownError", err, err)
	}
	if capErr.Workload != "trainer" || capErr.Resource != DefaultResource || strings.Join(capErr.Clusters, ",") != "training-us" {
		t.Errorf("error = %#v", capErr)
	}
}

func TestPlaceDuplicate(t *testing.T) {
	res, err := Place(topology.Workload{Name: "web"}, unreachable(serving(), "serve-use", "timeout"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := summary(res), "serve-euw=rendered serve-usc=rendered serve-use=excluded training-us=rendered"; got != want {
		t.Errorf("Place() = %s, want %s", got, want)
	}
	if res.Mode != ModeDuplicate || res.Workload != "web" || res.Total != nil {
		t.Errorf("Place() mode %q, workload %q, total %v; want duplicate, web, nil", res.Mode, res.Workload, res.Total)
	}
	if want := []string{"cluster serve-use unreachable (timeout): excluded"}; strings.Join(res.Warnings, "\n") != want[0] {
		t.Errorf("warnings = %q, want %q", res.Warnings, want)
	}
}
