package placement

import (
	"strings"
	"testing"

	"github.com/geofed-io/kubectl-geofed/pkg/capacity"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// pooled is a cluster with one node pool "p" of nodes nodes, perNode
// replicas fitting on each, every node costing usd per hour; fit is
// nodes × perNode.
func pooled(name, region string, nodes int, perNode int64, usd float64) Cluster {
	return Cluster{
		Name: name, Region: region,
		Capacity: &capacity.Estimate{
			Now:   capacity.Fit{Replicas: int64(nodes) * perNode, Considered: nodes},
			Pools: []capacity.PoolEstimate{{Name: "p", Nodes: nodes, PerNode: perNode}},
		},
		Prices: map[string]PoolPrice{"p": {USDPerNodeHour: usd}},
	}
}

func f64(v float64) *float64 { return &v }

func TestDivideCost(t *testing.T) {
	tests := []struct {
		name     string
		clusters []Cluster
		policy   topology.Replicas
		want     string
		wantWarn string // a substring of the warnings, "" for none
		wantUSD  float64
		wantErr  string
	}{
		{
			name:     "cheapest per replica first, each up to what fits",
			clusters: []Cluster{pooled("a", "us-central1", 2, 1, 3), pooled("b", "us-central1", 3, 2, 2), pooled("c", "us-central1", 4, 1, 1.5)},
			// per replica: b $1, a $3, c $1.5 → b 6, c 2
			policy:  topology.Replicas{Total: 8, DivideBy: topology.DivideByCost},
			want:    "a=0 b=6 c=2",
			wantUSD: 6*1 + 2*1.5,
		},
		{
			name:     "max caps each cluster",
			clusters: []Cluster{pooled("a", "us-central1", 2, 1, 3), pooled("b", "us-central1", 3, 2, 2), pooled("c", "us-central1", 4, 1, 1.5)},
			policy:   topology.Replicas{Total: 8, DivideBy: topology.DivideByCost, Max: i32(3)},
			want:     "a=2 b=3(max) c=3(max)",
			wantUSD:  2*3 + 3*1 + 3*1.5,
		},
		{
			name:     "min first everywhere",
			clusters: []Cluster{pooled("a", "us-central1", 2, 1, 3), pooled("b", "us-central1", 3, 2, 2)},
			policy:   topology.Replicas{Total: 5, DivideBy: topology.DivideByCost, Min: i32(1)},
			want:     "a=1 b=4",
		},
		{
			name:     "ties by distance to near, then name",
			clusters: []Cluster{pooled("far", "europe-west4", 4, 1, 1), pooled("near-b", "us-east4", 4, 1, 1), pooled("near-a", "us-east4", 4, 1, 1)},
			policy:   topology.Replicas{Total: 6, DivideBy: topology.DivideByCost, Near: "us-east1"},
			want:     "far=0 near-a=4 near-b=2",
		},
		{
			name:     "ties by name without near",
			clusters: []Cluster{pooled("far", "europe-west4", 4, 1, 1), pooled("near", "us-east4", 4, 1, 1)},
			policy:   topology.Replicas{Total: 6, DivideBy: topology.DivideByCost},
			want:     "far=4 near=2",
		},
		{
			name:     "more than fits anywhere: the cheapest overfilled, warned",
			clusters: []Cluster{pooled("a", "us-central1", 1, 1, 3), pooled("b", "us-central1", 1, 1, 2)},
			policy:   topology.Replicas{Total: 5, DivideBy: topology.DivideByCost},
			want:     "a=1 b=4",
			wantWarn: "b: 4 replicas × 1 pod slot placed, 1 fits",
		},
		{
			name:     "maxCostPerHour stops at the replica that would exceed it",
			clusters: []Cluster{pooled("a", "us-central1", 4, 1, 3), pooled("b", "us-central1", 4, 1, 2)},
			policy:   topology.Replicas{Total: 6, DivideBy: topology.DivideByCost, MaxCostPerHour: f64(11)},
			want:     "a=1 b=4",
			wantWarn: "1 of 6 replicas cannot be placed under maxCostPerHour $11.00: the next replica, on a, would cost $3.00/hour and bring the total to $14.00",
			wantUSD:  11,
		},
		{
			name:     "min alone over the cap: placed anyway, warned",
			clusters: []Cluster{pooled("a", "us-central1", 4, 1, 3), pooled("b", "us-central1", 4, 1, 2)},
			policy:   topology.Replicas{Total: 4, DivideBy: topology.DivideByCost, Min: i32(1), MaxCostPerHour: f64(4)},
			want:     "a=1 b=1",
			wantWarn: "min 1 on every cluster alone costs $5.00/hour, over maxCostPerHour $4.00",
			wantUSD:  5,
		},
		{
			name: "spot pool beats on-demand in the same cluster",
			clusters: []Cluster{func() Cluster {
				c := pooled("a", "us-central1", 2, 1, 3)
				c.Capacity.Pools = append(c.Capacity.Pools, capacity.PoolEstimate{Name: "spot", Nodes: 1, MaxNodes: 3, PerNode: 1})
				c.Capacity.Now.Replicas = 5
				c.Prices["spot"] = PoolPrice{USDPerNodeHour: 1, Spot: true}
				return c
			}(), pooled("b", "us-central1", 4, 1, 2)},
			// a's first 3 replicas cost $1 on its spot pool: a fills to
			// what fits (5), then b takes the rest.
			policy:  topology.Replicas{Total: 6, DivideBy: topology.DivideByCost},
			want:    "a=5 b=1",
			wantUSD: 3*1 + 2*3 + 1*2,
		},
		{
			name:     "a pool without a price is refused, named",
			clusters: []Cluster{pooled("a", "us-central1", 2, 1, 3), {Name: "b", Region: "us-central1", Capacity: &capacity.Estimate{Pools: []capacity.PoolEstimate{{Name: "n1", PerNode: 1}}}, Prices: map[string]PoolPrice{"n1": {NoPrice: "no on-demand price for machine type n1-standard-8 in us-central1 (add it with --price-catalog)"}}}},
			policy:   topology.Replicas{Total: 2, DivideBy: topology.DivideByCost},
			wantErr:  "cluster b: node pool n1: no on-demand price for machine type n1-standard-8 in us-central1 (add it with --price-catalog)",
		},
		{
			name:     "a cluster without node pools cannot be priced",
			clusters: []Cluster{pooled("a", "us-central1", 2, 1, 3), {Name: "joined", Region: "us-central1", Capacity: fits(4)}},
			policy:   topology.Replicas{Total: 2, DivideBy: topology.DivideByCost},
			wantErr:  "cluster joined: no node pools in the topology, so what a replica costs there is unknown (divideBy: cost prices GKE node pools)",
		},
		{
			name:     "capacity unknown",
			clusters: []Cluster{pooled("a", "us-central1", 2, 1, 3), {Name: "b", Region: "us-central1"}},
			policy:   topology.Replicas{Total: 2, DivideBy: topology.DivideByCost},
			wantErr:  "dividing replicas by the replicas that fit, which is unknown for cluster b",
		},
		{
			name:     "spill fit: the nearest up to what fits, then the next",
			clusters: []Cluster{pooled("use", "us-east1", 2, 1, 3), pooled("usc", "us-central1", 3, 1, 3), pooled("euw", "europe-west1", 9, 1, 3)},
			policy:   topology.Replicas{Total: 7, DivideBy: topology.DivideByLocality, Near: "us-east4", Spill: topology.SpillFit},
			want:     "euw=2 usc=3 use=2",
		},
		{
			name:     "spill max (the default): the nearest up to max, fit or not",
			clusters: []Cluster{pooled("use", "us-east1", 2, 1, 3), pooled("usc", "us-central1", 3, 1, 3), pooled("euw", "europe-west1", 9, 1, 3)},
			policy:   topology.Replicas{Total: 7, DivideBy: topology.DivideByLocality, Near: "us-east4", Max: i32(5)},
			want:     "euw=0 usc=2 use=5(max)",
			wantWarn: "use: 5 replicas × 1 pod slot placed, 2 fit",
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
				t.Fatalf("Divide(): %v", err)
			}
			if got := summary(res); got != tt.want {
				t.Errorf("Divide() = %s, want %s\n%s", got, tt.want, strings.Join(res.Explanation, "\n"))
			}
			warnings := strings.Join(res.Warnings, "\n")
			if (tt.wantWarn == "") != (warnings == "") || !strings.Contains(warnings, tt.wantWarn) {
				t.Errorf("warnings = %q, want %q", warnings, tt.wantWarn)
			}
			if tt.wantUSD != 0 && (res.USDPerHour == nil || *res.USDPerHour != tt.wantUSD) {
				t.Errorf("cost = %v, want %v", res.USDPerHour, tt.wantUSD)
			}
		})
	}
}
