package catalog

import (
	"errors"
	"flag"
	"math"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestBuiltinPricesParse(t *testing.T) {
	p, err := builtin()
	if err != nil {
		t.Fatalf("built-in price list: %v", err)
	}
	if len(p.Origins) != 1 || p.Origins[0].File != "built-in" || p.Origins[0].Date == "" || p.Origins[0].Source == "" {
		t.Errorf("origins = %+v, want one dated, sourced built-in list", p.Origins)
	}
	// Every GPU machine type priced must have its GPU priced in the same
	// region, or its nodes would price as hosts alone.
	for k := range p.machines {
		m, _ := LookupMachine(k.name)
		if m.GPUs == 0 {
			continue
		}
		if _, ok := p.accelerator[priced{m.GPUType, k.region}]; !ok {
			t.Errorf("%s priced in %s without its %s", k.name, k.region, m.GPUType)
		}
	}
}

func TestNodePrice(t *testing.T) {
	p := BuiltinPrices()
	tests := []struct {
		name         string
		machine      string
		accelerators []AcceleratorConfig
		region       string
		spot         bool
		want         float64
		wantErr      string
	}{
		{name: "the row itself", machine: "e2-standard-2", region: "us-central1", want: 0.06701},
		{name: "spot", machine: "e2-standard-2", region: "us-central1", spot: true, want: 0.0294},
		{name: "a size of the series, per vCPU", machine: "e2-standard-8", region: "europe-west4", want: 0.07377 * 4},
		{name: "n2-standard, the row itself", machine: "n2-standard-8", region: "us-central1", want: 0.38847},
		{name: "n2-standard spot, another size", machine: "n2-standard-2", region: "europe-west4", spot: true, want: 0.1488 / 4},
		{name: "n2d-highmem, a smaller size", machine: "n2d-highmem-8", region: "us-central1", want: 5.47104 / 12},
		{name: "n2d-highmem left out where the source row is suspect", machine: "n2d-highmem-8", region: "asia-south1",
			wantErr: "no on-demand price for machine type n2d-highmem-8 in asia-south1 (add it with --price-catalog)"},
		{name: "n2d-standard spot, a smaller size", machine: "n2d-standard-16", region: "europe-west4", spot: true, want: 1.04346 / 8},
		{name: "GPUs built in", machine: "g2-standard-8", region: "us-central1", want: 0.29358 + 0.56004},
		{name: "built-in GPUs named again are the same GPUs", machine: "a2-highgpu-2g", region: "europe-west4",
			accelerators: []AcceleratorConfig{{Type: "nvidia-tesla-a100", Count: 2}}, want: 0.81406*2 + 1.61365*2},
		{name: "spot GPUs", machine: "a2-highgpu-1g", region: "europe-west4", spot: true, want: 0.31824 + 1.1691},
		{name: "series not priced", machine: "n1-standard-8", region: "us-central1",
			wantErr: "no on-demand price for machine type n1-standard-8 in us-central1 (add it with --price-catalog)"},
		{name: "GPU not priced in the region", machine: "g2-standard-4", region: "asia-east2",
			wantErr: "no on-demand price for machine type g2-standard-4 in asia-east2 (add it with --price-catalog)"},
		{name: "attached T4, spot", machine: "e2-standard-4", region: "us-central1", spot: true,
			accelerators: []AcceleratorConfig{{Type: "nvidia-tesla-t4", Count: 2}}, want: 0.0294*2 + 0.175*2},
		{name: "attached V100", machine: "e2-standard-4", region: "europe-west4",
			accelerators: []AcceleratorConfig{{Type: "nvidia-tesla-v100", Count: 1}}, want: 0.07377*2 + 2.604},
		{name: "attached GPU not priced in the region", machine: "e2-standard-4", region: "asia-east2", spot: true,
			accelerators: []AcceleratorConfig{{Type: "nvidia-tesla-v100", Count: 1}},
			wantErr:      "no spot price for accelerator nvidia-tesla-v100 in asia-east2 (add it with --price-catalog)"},
		{name: "unknown machine", machine: "e9-standard-2", region: "us-central1", wantErr: `unknown machine type "e9-standard-2"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Node(tt.machine, tt.accelerators, tt.region, tt.spot)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Node() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Node(): %v", err)
			}
			if math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("Node() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOverlay(t *testing.T) {
	base := BuiltinPrices()
	file := "date 2027-01-15\nsource our negotiated rates\n" +
		"machine n1-standard-4 us-central1 0.19 -\n" +
		"accelerator nvidia-l4 us-central1 0.40 0.15 # the discount\n" +
		"egress intercontinental 0.05\n"
	p, err := base.Overlay("rates.txt", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Origins) != 2 || p.Origins[1] != (Origin{File: "rates.txt", Date: "2027-01-15", Source: "our negotiated rates"}) {
		t.Errorf("origins = %+v", p.Origins)
	}
	for _, c := range []struct {
		machine string
		region  string
		spot    bool
		want    float64
		wantErr bool
	}{
		{"n1-standard-8", "us-central1", false, 0.38, false},
		{"n1-standard-8", "us-central1", true, 0, true}, // "-": no spot
		{"g2-standard-8", "us-central1", false, 0.29358 + 0.40, false},
		{"g2-standard-8", "us-east1", false, 0.29358 + 0.56004, false}, // untouched
	} {
		got, err := p.Node(c.machine, nil, c.region, c.spot)
		if (err != nil) != c.wantErr || math.Abs(got-c.want) > 1e-9 {
			t.Errorf("Node(%s, %s, spot %v) = %v, %v; want %v (error: %v)", c.machine, c.region, c.spot, got, err, c.want, c.wantErr)
		}
	}
	if tr, _ := p.Transfer("us-central1", "europe-west4"); tr.USDPerGiB != 0.05 {
		t.Errorf("intercontinental = %v, want the overlay's 0.05", tr.USDPerGiB)
	}
	// The base is not changed by an overlay.
	if got, _ := base.Node("g2-standard-8", nil, "us-central1", false); math.Abs(got-(0.29358+0.56004)) > 1e-9 {
		t.Errorf("base changed: %v", got)
	}
}

// TestOverlayErrors pins that every bad line is reported, each as
// file:line with what is wrong and a suggestion where one exists.
func TestOverlayErrors(t *testing.T) {
	data, err := os.ReadFile("testdata/prices-bad.txt")
	if err != nil {
		t.Fatal(err)
	}
	_, err = BuiltinPrices().Overlay("testdata/prices-bad.txt", data)
	if err == nil {
		t.Fatal("no error")
	}
	var lines []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		lines = append(lines, e.Error())
	}
	got := strings.Join(lines, "\n") + "\n"
	const golden = "testdata/prices-bad.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("errors:\n%s\nwant:\n%s", got, want)
	}
	var noPrice *NoPriceError
	if errors.As(err, &noPrice) {
		t.Errorf("a malformed list is not a missing price: %v", noPrice)
	}
}

func TestFormatUSD(t *testing.T) {
	for v, want := range map[float64]string{0: "$0.00", 0.0294: "$0.0294", 0.5: "$0.50", 0.1: "$0.10", 0.12345: "$0.1235", 1: "$1.00", 7.34678: "$7.35", 1234.5: "$1234.50"} {
		if got := FormatUSD(v); got != want {
			t.Errorf("FormatUSD(%v) = %s, want %s", v, got, want)
		}
	}
}
