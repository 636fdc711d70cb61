package placement

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// Data is where data a workload reads lives, as package datasource reads
// it from the bucket's metadata before placing. It is part of the plan's
// JSON schema.
type Data struct {
	// URL is as the topology writes it: gs://bucket/prefix.
	URL string `json:"url"`
	// Location is Cloud Storage's name for where the bucket is:
	// "EUROPE-WEST4", "EUR4", "US".
	Location string `json:"location"`
	// Type is "region", "dual-region" or "multi-region".
	Type string `json:"type"`
	// Regions are the catalogued regions the data is stored in, sorted: a
	// distance to the data is the distance to the nearest of them.
	Regions []string `json:"regions"`
}

// Egress is what reading one data location costs a cluster. It is part of
// the plan's JSON schema.
type Egress struct {
	// URL is the data read, as the topology writes it.
	URL string `json:"url"`
	// Location is the bucket's location, as on Data.
	Location string `json:"location"`
	// From is the data's region the cluster reads from: the nearest of
	// Data.Regions.
	From string `json:"from"`
	// Class is the transfer class from From to the cluster's region:
	// "same region", "same continent" or "intercontinental".
	Class catalog.TransferClass `json:"class"`
	// USDPerGiB is the price of moving one GiB in that class, in US
	// dollars, from the dated price list (built in, or --price-catalog).
	USDPerGiB float64 `json:"usdPerGiB"`
}

// Inputs are what placement is told beyond the clusters.
type Inputs struct {
	// Data is where the data each gs:// URL of the topology names lives,
	// by URL. A workload naming a URL missing here cannot be placed:
	// placement never guesses where data is.
	Data map[string]Data
	// Prices price moving data between regions; catalog.BuiltinPrices()
	// when nil.
	Prices *catalog.Prices
}

func (in Inputs) prices() *catalog.Prices {
	if in.Prices == nil {
		return catalog.BuiltinPrices()
	}
	return in.Prices
}

// nearOf is where locality fills from: the region near names, or the
// regions of the data it names.
func nearOf(near string, in Inputs) (nearPoint, error) {
	if !topology.IsDataURL(near) {
		return nearPoint{label: near, regions: []string{near}}, nil
	}
	d, ok := in.Data[near]
	if !ok {
		return nearPoint{}, fmt.Errorf("replicas.near: %s: the bucket's location was not read", near)
	}
	return nearPoint{label: near + " in " + d.Location, regions: d.Regions}, nil
}

// nearPoint is what locality measures distances to.
type nearPoint struct {
	// label names it in the explanation.
	label   string
	regions []string
}

// distanceKm is the great-circle distance from region to the nearest of
// p's regions, and which of them that is.
func (p nearPoint) distanceKm(region string) (km float64, from string, ok bool) {
	km = math.Inf(1)
	for _, r := range p.regions {
		d, known := catalog.DistanceKm(region, r)
		if !known {
			return 0, "", false
		}
		if d < km {
			km, from = d, r
		}
	}
	return km, from, from != ""
}

// dataOf lists the data a workload reads, in the file's order: the data
// replicas.near names, then placement.data.
func dataOf(w topology.Workload, in Inputs) ([]Data, error) {
	var urls []string
	if r := w.Placement.Replicas; r != nil && topology.IsDataURL(r.Near) {
		urls = append(urls, r.Near)
	}
	for _, u := range w.Placement.Data {
		if !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	var out []Data
	for _, u := range urls {
		d, ok := in.Data[u]
		if !ok {
			return nil, fmt.Errorf("%s: the bucket's location was not read", u)
		}
		out = append(out, d)
	}
	return out, nil
}

// addEgress gives every share that runs the workload what reading its data
// costs, explains it per cluster, and warns where a cluster would read
// data from another continent.
func addEgress(res *Result, data []Data, prices *catalog.Prices) error {
	if len(data) == 0 {
		return nil
	}
	res.Data = data
	for _, d := range data {
		res.Explanation = append(res.Explanation, fmt.Sprintf("data %s in %s (%s: %s)", d.URL, d.Location, d.Type, strings.Join(d.Regions, ", ")))
	}
	for i := range res.Shares {
		s := &res.Shares[i]
		if s.Excluded != "" {
			continue
		}
		var lines []string
		for _, d := range data {
			e, err := egressOf(s.Region, d, prices)
			if err != nil {
				return fmt.Errorf("cluster %s: %w", s.Cluster, err)
			}
			s.Egress = append(s.Egress, e)
			lines = append(lines, fmt.Sprintf("%s from %s: %s, $%s/GiB", d.URL, e.From, e.Class, formatUSD(e.USDPerGiB)))
			runs := s.Replicas == nil || *s.Replicas > 0
			if runs && e.Class == catalog.Intercontinental {
				res.Warnings = append(res.Warnings, fmt.Sprintf("cluster %s (%s) reads %s (%s) from another continent: $%s/GiB",
					s.Cluster, s.Region, d.URL, d.Location, formatUSD(e.USDPerGiB)))
			}
		}
		res.Explanation = append(res.Explanation, fmt.Sprintf("%s (%s) reads %s", s.Cluster, s.Region, strings.Join(lines, "; ")))
	}
	return nil
}

// egressOf is what reading d costs from region: read from the nearest of
// the data's regions, priced by its transfer class.
func egressOf(region string, d Data, prices *catalog.Prices) (Egress, error) {
	_, from, ok := nearPoint{regions: d.Regions}.distanceKm(region)
	if !ok {
		return Egress{}, fmt.Errorf("unknown region %q, so what reading %s costs is unknown", region, d.URL)
	}
	t, ok := prices.Transfer(from, region)
	if !ok {
		return Egress{}, fmt.Errorf("no transfer price from %s to %s", from, region)
	}
	return Egress{URL: d.URL, Location: d.Location, From: from, Class: t.Class, USDPerGiB: t.USDPerGiB}, nil
}

// formatUSD prints a price without trailing zeros: 0, 0.02, 0.08.
func formatUSD(v float64) string {
	s := strings.TrimRight(fmt.Sprintf("%.4f", v), "0")
	return strings.TrimSuffix(s, ".")
}
