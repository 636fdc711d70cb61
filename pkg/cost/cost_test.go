package cost

import (
	"math"
	"testing"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

func TestOfCluster(t *testing.T) {
	prices := catalog.BuiltinPrices()
	three := int32(3)
	ref := topology.ClusterRef{Region: "europe-west4", Cluster: &topology.Cluster{Name: "train-eu", GKE: &topology.GKECluster{
		NodePools: []topology.NodePool{
			{Name: "cpu", MachineType: "e2-standard-8", NodeCount: &three},
			{Name: "a100", MachineType: "a2-highgpu-1g", Spot: true, Autoscaling: &topology.Autoscaling{MinNodes: 0, MaxNodes: 2}},
			{Name: "n1", MachineType: "n1-standard-4"},
		},
	}}}
	zones := map[string]int{"cpu": 1, "a100": 3, "n1": 1}
	c := OfCluster(prices, ref, func(p string) int { return zones[p] })
	if len(c.Pools) != 3 {
		t.Fatalf("pools = %+v", c.Pools)
	}
	cpu, a100, n1 := c.Pools[0], c.Pools[1], c.Pools[2]
	near := func(got *float64, want float64) bool { return got != nil && math.Abs(*got-want) < 1e-9 }
	if cpu.Nodes != 3 || !near(cpu.USDPerNodeHour, 0.07377*4) || !near(cpu.USDPerHour, 3*0.07377*4) || cpu.USDPerHourMax != nil {
		t.Errorf("cpu = %+v", cpu)
	}
	spotNode := 0.31824 + 1.1691
	if a100.Nodes != 0 || a100.MaxNodes != 6 || !a100.Spot || !near(a100.USDPerNodeHour, spotNode) || !near(a100.USDPerHour, 0) || !near(a100.USDPerHourMax, 6*spotNode) {
		t.Errorf("a100 = %+v", a100)
	}
	if n1.Nodes != 1 || n1.USDPerNodeHour != nil || n1.NoPrice != "no on-demand price for machine type n1-standard-4 in europe-west4 (add it with --price-catalog)" {
		t.Errorf("n1 = %+v", n1)
	}
	if c.USDPerHour != nil || c.USDPerHourMax != nil {
		t.Errorf("a cluster with an unpriced pool has a total: %v %v", c.USDPerHour, c.USDPerHourMax)
	}

	ref.Cluster.GKE.NodePools = ref.Cluster.GKE.NodePools[:2]
	c = OfCluster(prices, ref, func(p string) int { return zones[p] })
	if !near(c.USDPerHour, 3*0.07377*4) || !near(c.USDPerHourMax, 3*0.07377*4+6*spotNode) {
		t.Errorf("totals = %v, %v", *c.USDPerHour, *c.USDPerHourMax)
	}

	joined := topology.ClusterRef{Region: "us-west1", Cluster: &topology.Cluster{Name: "lab", Kubeconfig: &topology.KubeconfigRef{Context: "lab"}}}
	if OfCluster(prices, joined, nil) != nil || NodePrices(prices, joined) != nil {
		t.Error("a joined cluster has no pools to price")
	}
}

func TestNodePrices(t *testing.T) {
	ref := topology.ClusterRef{Region: "us-central1", Cluster: &topology.Cluster{Name: "c", GKE: &topology.GKECluster{
		NodePools: []topology.NodePool{
			{Name: "l4", MachineType: "g2-standard-8", Spot: true},
			{Name: "t4", MachineType: "n1-standard-8", Accelerators: []topology.Accelerator{{Type: "nvidia-tesla-t4", Count: 1}}},
		},
	}}}
	got := NodePrices(catalog.BuiltinPrices(), ref)
	if l4 := got["l4"]; !l4.Spot || math.Abs(l4.USDPerNodeHour-(0.11747+0.2231)) > 1e-9 || l4.NoPrice != "" {
		t.Errorf("l4 = %+v", l4)
	}
	if t4 := got["t4"]; t4.NoPrice == "" {
		t.Errorf("t4 priced without an n1 price: %+v", t4)
	}
}

func TestLines(t *testing.T) {
	prices := catalog.BuiltinPrices()
	two := int32(2)
	ref := topology.ClusterRef{Region: "us-central1", Cluster: &topology.Cluster{Name: "c", GKE: &topology.GKECluster{
		NodePools: []topology.NodePool{
			{Name: "cpu", MachineType: "e2-standard-8", NodeCount: &two},
			{Name: "l4", MachineType: "g2-standard-8", Spot: true, Autoscaling: &topology.Autoscaling{MinNodes: 0, MaxNodes: 4}},
		},
	}}}
	c := OfCluster(prices, ref, func(string) int { return 1 })
	got := []string{c.Pools[0].Line(), c.Pools[1].Line(), c.Line()}
	want := []string{
		"node pool cpu: e2-standard-8, 2 nodes × $0.268/hour = $0.5361/hour",
		"node pool l4: g2-standard-8 spot, 0–4 nodes × $0.3406/hour = $0.00–$1.36/hour",
		"cost: $0.5361/hour, up to $1.90/hour with every pool at its maximum",
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %q\nwant %q", i, got[i], want[i])
		}
	}
	o := Origins([]catalog.Origin{{File: "built-in", Date: "2026-12-07", Source: "s"}, {File: "rates.txt", Date: "2027-01-15"}})
	if o != "built-in list of 2026-12-07 (s); rates.txt of 2027-01-15 over it" {
		t.Errorf("Origins = %q", o)
	}
}
