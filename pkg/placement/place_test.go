package placement

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/geofed-io/kubectl-geofed/pkg/capacity"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// serving is the fleet of the brief's example: three serving clusters in
// three regions, plus a training cluster that serving selectors skip.
func serving() []Cluster {
	return []Cluster{
		{Name: "serve-usc", Region: "us-central1", Labels: map[string]string{"role": "serving"}, Capacity: fits(12)},
		{Name: "serve-use", Region: "us-east1", Labels: map[string]string{"role": "serving"}, Capacity: fits(3)},
		{Name: "serve-euw", Region: "europe-west1", Labels: map[string]string{"role": "serving"}, Capacity: fits(5)},
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
		in       Inputs
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
			clusters: withFit(in("us-central1", "tpu-a", "tpu-b"), 0, 0),
		},
		{
			name: "locality",
			workload: topology.Workload{Name: "api", Placement: topology.Placement{
				Replicas: &topology.Replicas{Total: 14, DivideBy: topology.DivideByLocality, Near: "us-east4", Min: i32(1), Max: i32(6)},
			}},
		},
		{
			// Every policy warns about a cluster given more than fit; the
			// estimates are counted from nodes and pools as plan counts them.
			name: "fit-warning",
			workload: topology.Workload{Name: "trainer", Placement: topology.Placement{
				Replicas: &topology.Replicas{Total: 12},
			}},
			clusters: gpuFleet(),
		},
		{
			name: "capacity-scale-up",
			workload: topology.Workload{Name: "trainer", Placement: topology.Placement{
				Replicas: &topology.Replicas{Total: 12, DivideBy: topology.DivideByCapacity, Capacity: topology.CapacityScaleUp},
			}},
			clusters: gpuFleet(),
		},
		{
			name: "capacity-current",
			workload: topology.Workload{Name: "trainer", Placement: topology.Placement{
				Replicas: &topology.Replicas{Total: 12, DivideBy: topology.DivideByCapacity, Capacity: topology.CapacityCurrent},
			}},
			clusters: gpuFleet(),
		},
		{
			// The spot pool in europe-west4 costs less per replica than
			// the on-demand one in us-central1, though us-central1 is
			// nearer: cost fills it first, up to what fits.
			name: "cost",
			workload: topology.Workload{Name: "trainer", Placement: topology.Placement{
				Clusters: []string{"training-eu", "training-us"},
				Replicas: &topology.Replicas{Total: 4, DivideBy: topology.DivideByCost, Near: "us-east1"},
			}},
			clusters: pricedGPUFleet(),
		},
		{
			name: "cost-capped",
			workload: topology.Workload{Name: "trainer", Placement: topology.Placement{
				Clusters: []string{"training-eu", "training-us"},
				Replicas: &topology.Replicas{Total: 4, DivideBy: topology.DivideByCost, MaxCostPerHour: new(13.0)},
			}},
			clusters: pricedGPUFleet(),
		},
		{
			// Every division shows what its shares cost when the pools
			// are priced.
			name: "weight-priced",
			workload: topology.Workload{Name: "trainer", Placement: topology.Placement{
				Clusters: []string{"training-eu", "training-us"},
				Replicas: &topology.Replicas{Total: 3},
			}},
			clusters: pricedGPUFleet(),
		},
		{
			name: "locality-spill-fit",
			workload: topology.Workload{Name: "trainer", Placement: topology.Placement{
				Replicas: &topology.Replicas{Total: 6, DivideBy: topology.DivideByLocality, Near: "europe-west1", Spill: topology.SpillFit},
			}},
			clusters: gpuFleet(),
		},
		{
			name: "duplicate",
			workload: topology.Workload{Name: "api", Placement: topology.Placement{
				ClusterSelector: servingSelector,
			}},
			clusters: unreachable(serving(), "serve-use", "context deadline exceeded"),
		},
		{
			// A bucket in one region: the nearest cluster fills first, and
			// each cluster's reading of the data is priced by its class.
			name: "locality-bucket",
			workload: topology.Workload{Name: "trainer", Placement: topology.Placement{
				ClusterSelector: servingSelector,
				Replicas:        &topology.Replicas{Total: 8, DivideBy: topology.DivideByLocality, Near: "gs://ckpt/run1", Max: i32(5)},
			}},
			in: Inputs{Data: map[string]Data{"gs://ckpt/run1": {URL: "gs://ckpt/run1", Location: "EUROPE-WEST4", Type: "region", Regions: []string{"europe-west4"}}}},
		},
		{
			// A multi-region bucket is as near as its nearest region: the
			// US clusters tie at 0 km and share by name; the European one
			// reads it from another continent, so the plan warns.
			name: "locality-multi-region",
			workload: topology.Workload{Name: "trainer", Placement: topology.Placement{
				ClusterSelector: servingSelector,
				Replicas:        &topology.Replicas{Total: 8, DivideBy: topology.DivideByLocality, Near: "gs://corpus/en", Min: i32(1), Max: i32(5)},
			}},
			in: Inputs{Data: map[string]Data{"gs://corpus/en": {URL: "gs://corpus/en", Location: "US", Type: "multi-region", Regions: []string{"us-central1", "us-east1", "us-west1"}}}},
		},
		{
			// No replicas policy: placement.data still prices every
			// cluster's reads, and warns for the one across an ocean.
			name: "duplicate-data",
			workload: topology.Workload{Name: "eval", Placement: topology.Placement{
				ClusterSelector: servingSelector,
				Data:            []string{"gs://ckpt/run1"},
			}},
			in: Inputs{Data: map[string]Data{"gs://ckpt/run1": {URL: "gs://ckpt/run1", Location: "NAM4", Type: "dual-region", Regions: []string{"us-central1", "us-east1"}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clusters := tt.clusters
			if clusters == nil {
				clusters = serving()
			}
			res, err := Place(tt.workload, clusters, tt.in)
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
			want: `workload "trainer" divides its replicas by the replicas that fit, which is unknown for cluster training-us`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Place(tt.workload, serving(), Inputs{})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Place() error = %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestPlaceNeedsDataLocation: a workload naming data whose location was
// not read is an error naming the workload and the URL, never a guess.
func TestPlaceNeedsDataLocation(t *testing.T) {
	for _, w := range []topology.Workload{
		{Name: "trainer", Placement: topology.Placement{Replicas: &topology.Replicas{Total: 2, DivideBy: topology.DivideByLocality, Near: "gs://gone/x"}}},
		{Name: "trainer", Placement: topology.Placement{Data: []string{"gs://gone/x"}}},
	} {
		_, err := Place(w, serving(), Inputs{Data: map[string]Data{"gs://other/y": {URL: "gs://other/y", Regions: []string{"us-east1"}}}})
		if err == nil || !strings.Contains(err.Error(), `workload "trainer"`) || !strings.Contains(err.Error(), "gs://gone/x") {
			t.Errorf("Place(%+v) error = %v, want one naming the workload and gs://gone/x", w.Placement, err)
		}
	}
	if _, err := Divide(serving(), topology.Replicas{Total: 2, DivideBy: topology.DivideByLocality, Near: "gs://gone/x"}); err == nil || !strings.Contains(err.Error(), "gs://gone/x") {
		t.Errorf("Divide() with a gs:// near error = %v, want one naming it", err)
	}
}

func TestPlaceCapacityUnknownIsTyped(t *testing.T) {
	_, err := Place(topology.Workload{Name: "trainer", Placement: topology.Placement{
		Replicas: &topology.Replicas{Total: 4, DivideBy: topology.DivideByCapacity},
	}}, serving(), Inputs{})
	var capErr *CapacityUnknownError
	if !errors.As(err, &capErr) {
		t.Fatalf("Place() error = %v (%T), want *CapacityUnknownError", err, err)
	}
	if capErr.Workload != "trainer" || capErr.Resource != DefaultResource || strings.Join(capErr.Clusters, ",") != "training-us" {
		t.Errorf("error = %#v", capErr)
	}
}

func TestPlaceDuplicate(t *testing.T) {
	res, err := Place(topology.Workload{Name: "web"}, unreachable(serving(), "serve-use", "timeout"), Inputs{})
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

// pricedGPUFleet is gpuFleet with its GKE pools priced: training-eu's a100
// pool of a2-highgpu-2g spot nodes in europe-west4, training-us's on-demand
// in us-central1, at the built-in catalogue's prices.
func pricedGPUFleet() []Cluster {
	fleet := gpuFleet()
	fleet[0].Prices = map[string]PoolPrice{"a100": {USDPerNodeHour: 2.97468, Spot: true}}
	fleet[1].Prices = map[string]PoolPrice{"a100": {USDPerNodeHour: 7.34678}}
	return fleet
}

// gpuFleet is three clusters whose capacity for a replica needing 2 GPUs is
// counted from nodes: training-eu has a pool of 2 nodes × 2 GPUs that does
// not autoscale, training-us one node × 2 GPUs that autoscales to 5, and
// the joined lab-gpu 3 nodes × 4 GPUs, one not Ready and one tainted.
func gpuFleet() []Cluster {
	tmpl := capacity.Template{Requests: corev1.ResourceList{
		"nvidia.com/gpu": resource.MustParse("2"), corev1.ResourceCPU: resource.MustParse("4"),
	}}
	shape := func(gpus string) capacity.NodeShape {
		return capacity.NodeShape{
			Labels: map[string]string{"cloud.google.com/gke-nodepool": "a100"},
			Taints: []corev1.Taint{{Key: "nvidia.com/gpu", Value: "present", Effect: corev1.TaintEffectNoSchedule}},
			Allocatable: corev1.ResourceList{
				"nvidia.com/gpu": resource.MustParse(gpus), corev1.ResourceCPU: resource.MustParse("11"),
				corev1.ResourceMemory: resource.MustParse("80Gi"), corev1.ResourcePods: resource.MustParse("110"),
			},
		}
	}
	node := func(name string, s capacity.NodeShape, ready bool) corev1.Node {
		n := corev1.Node{}
		n.Name, n.Labels, n.Spec.Taints, n.Status.Allocatable = name, s.Labels, s.Taints, s.Allocatable
		status := corev1.ConditionTrue
		if !ready {
			status = corev1.ConditionFalse
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}
		return n
	}
	pool := func(s capacity.NodeShape, maxNodes int) capacity.Pool {
		return capacity.Pool{Name: "a100", Label: "cloud.google.com/gke-nodepool", Value: "a100", Shape: s, MaxNodes: maxNodes}
	}
	eu := capacity.Cluster{
		Nodes:                      []corev1.Node{node("eu-1", shape("2"), true), node("eu-2", shape("2"), true)},
		Pools:                      []capacity.Pool{pool(shape("2"), 0)},
		ExtendedResourceToleration: true,
	}
	us := capacity.Cluster{
		Nodes:                      []corev1.Node{node("us-1", shape("2"), true)},
		Pools:                      []capacity.Pool{pool(shape("2"), 5)},
		ExtendedResourceToleration: true,
	}
	joined := shape("4")
	joined.Labels, joined.Taints = nil, nil
	tainted := joined
	tainted.Taints = []corev1.Taint{{Key: "dedicated", Value: "inference", Effect: corev1.TaintEffectNoSchedule}}
	lab := capacity.Cluster{Nodes: []corev1.Node{node("lab-1", joined, true), node("lab-2", joined, false), node("lab-3", tainted, true)}}
	estimate := func(c capacity.Cluster) *capacity.Estimate {
		e := capacity.EstimateOf(tmpl, c, nil)
		return &e
	}
	return []Cluster{
		{Name: "training-eu", Region: "europe-west4", Capacity: estimate(eu)},
		{Name: "training-us", Region: "us-central1", Capacity: estimate(us)},
		{Name: "lab-gpu", Region: "us-central1", Capacity: estimate(lab)},
	}
}
