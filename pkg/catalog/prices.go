package catalog

import (
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Prices is a dated price list: the built-in one (BuiltinPrices), possibly
// with a user's file over it (Overlay). Prices change and a catalogue is a
// snapshot, so every figure a plan shows comes with the lists' dates and
// sources (Origins).
type Prices struct {
	// Origins are the lists the prices come from, the built-in one first;
	// a later list's entries replace an earlier one's.
	Origins     []Origin
	machines    map[priced]Rate // by machine type and region
	series      map[priced]Rate // per vCPU, by series and region
	accelerator map[priced]Rate // per GPU, by accelerator type and region
	egress      map[TransferClass]float64
}

// Origin is one price list.
type Origin struct {
	// File is the --price-catalog file, or "built-in".
	File string `json:"file"`
	// Date is when the list's prices were read, YYYY-MM-DD.
	Date string `json:"date"`
	// Source says where the list's prices come from.
	Source string `json:"source,omitempty"`
}

// Rate is the price of something per hour, in US dollars, on demand and as
// a spot VM. Spot is nil where spot VMs are not offered.
type Rate struct {
	OnDemand float64
	Spot     *float64
}

type priced struct{ name, region string }

//go:embed prices.txt
var builtinPrices string

// builtin parses the embedded list once; its tests guarantee it parses.
var builtin = sync.OnceValues(func() (*Prices, error) {
	p := &Prices{
		machines:    map[priced]Rate{},
		series:      map[priced]Rate{},
		accelerator: map[priced]Rate{},
		egress:      map[TransferClass]float64{},
	}
	return p, p.parse("built-in", builtinPrices)
})

// BuiltinPrices is the price list compiled into the plugin: a copy the
// caller may overlay.
func BuiltinPrices() *Prices {
	p, err := builtin()
	if err != nil {
		panic("the built-in price list does not parse: " + err.Error())
	}
	return p.clone()
}

// Overlay returns p with the entries of the price list in data (read from
// file) replacing p's for the same machine type, accelerator or class and
// region. Every malformed line is reported, each as file:line.
func (p *Prices) Overlay(file string, data []byte) (*Prices, error) {
	out := p.clone()
	if err := out.parse(file, string(data)); err != nil {
		return nil, err
	}
	return out, nil
}

func (p *Prices) clone() *Prices {
	out := &Prices{
		Origins:     append([]Origin(nil), p.Origins...),
		machines:    cloneMap(p.machines),
		series:      cloneMap(p.series),
		accelerator: cloneMap(p.accelerator),
		egress:      cloneMap(p.egress),
	}
	return out
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

var priceClasses = map[string]TransferClass{
	"same-region":      SameRegion,
	"same-continent":   SameContinent,
	"intercontinental": Intercontinental,
}

// parse reads a price list into p, reporting every bad line at once.
func (p *Prices) parse(file, text string) error {
	origin := Origin{File: file}
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, args...)))
	}
	seen := map[string]int{}
	for i, raw := range strings.Split(text, "\n") {
		n := i + 1
		line, _, _ := strings.Cut(raw, "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		kind, args := fields[0], fields[1:]
		key := kind + " " + strings.Join(args[:min(len(args), 2)], " ")
		if kind == "egress" && len(args) > 0 {
			key = kind + " " + args[0]
		}
		if first, ok := seen[key]; ok && kind != "source" {
			bad(n, "%s is already priced on line %d", key, first)
			continue
		}
		seen[key] = n
		switch kind {
		case "date":
			if len(args) != 1 || !isDate(args[0]) {
				bad(n, "date: want one date as YYYY-MM-DD, got %q", strings.Join(args, " "))
				continue
			}
			origin.Date = args[0]
		case "source":
			origin.Source = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "source"))
		case "machine", "accelerator":
			if len(args) != 4 {
				bad(n, "%s: want TYPE REGION ONDEMAND SPOT, got %d fields", kind, len(args))
				continue
			}
			name, region := args[0], args[1]
			rate, err := parseRate(args[2], args[3])
			if err != nil {
				bad(n, "%s %s %s: %v", kind, name, region, err)
				continue
			}
			if _, ok := LookupRegion(region); !ok {
				bad(n, "%s %s: unknown region %q%s", kind, name, region, didYouMean(region, RegionNames()))
				continue
			}
			if kind == "accelerator" {
				if _, ok := LookupAccelerator(name); !ok {
					bad(n, "accelerator: unknown type %q%s", name, didYouMean(name, AcceleratorNames()))
					continue
				}
				p.accelerator[priced{name, region}] = rate
				continue
			}
			m, ok := LookupMachine(name)
			if !ok {
				bad(n, "machine: unknown type %q%s", name, didYouMean(name, MachineNames()))
				continue
			}
			p.machines[priced{name, region}] = rate
			p.series[priced{seriesOf(name), region}] = perVCPU(rate, m.VCPUs)
		case "egress":
			if len(args) != 2 {
				bad(n, "egress: want CLASS USD_PER_GIB, got %d fields", len(args))
				continue
			}
			class, ok := priceClasses[args[0]]
			if !ok {
				bad(n, "egress: unknown class %q (want same-region, same-continent or intercontinental)", args[0])
				continue
			}
			v, err := parseAmount(args[1])
			if err != nil {
				bad(n, "egress %s: %v", args[0], err)
				continue
			}
			p.egress[class] = v
		default:
			bad(n, "unknown entry %q (want date, source, machine, accelerator or egress)", kind)
		}
	}
	if origin.Date == "" {
		errs = append(errs, fmt.Errorf("%s: no date line: a price list says when its prices were read", file))
	}
	p.Origins = append(p.Origins, origin)
	return errors.Join(errs...)
}

func didYouMean(s string, candidates []string) string {
	if m := Suggest(s, candidates); m != "" {
		return fmt.Sprintf(" (did you mean %q?)", m)
	}
	return ""
}

func isDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for i, r := range s {
		if i != 4 && i != 7 && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func parseRate(onDemand, spot string) (Rate, error) {
	od, err := parseAmount(onDemand)
	if err != nil {
		return Rate{}, fmt.Errorf("on-demand price: %w", err)
	}
	r := Rate{OnDemand: od}
	if spot != "-" {
		s, err := parseAmount(spot)
		if err != nil {
			return Rate{}, fmt.Errorf("spot price: %w", err)
		}
		r.Spot = &s
	}
	return r, nil
}

// parseAmount reads a price: a finite number, not negative.
func parseAmount(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v != v || v > 1e9 {
		return 0, fmt.Errorf("%q is not a price in US dollars", s)
	}
	return v, nil
}

// seriesOf is a machine type's series: its name up to the last dash
// ("e2-standard" for e2-standard-8, "a2-highgpu" for a2-highgpu-4g).
func seriesOf(machine string) string {
	i := strings.LastIndex(machine, "-")
	if i < 0 {
		return machine
	}
	return machine[:i]
}

func perVCPU(r Rate, vcpus int64) Rate {
	out := Rate{OnDemand: r.OnDemand / float64(vcpus)}
	if r.Spot != nil {
		s := *r.Spot / float64(vcpus)
		out.Spot = &s
	}
	return out
}

// NoPriceError says which price a list lacks.
type NoPriceError struct {
	What   string // "machine type e2-highmem-4", "accelerator nvidia-tesla-t4"
	Region string
	Spot   bool
}

func (e *NoPriceError) Error() string {
	kind := "on-demand"
	if e.Spot {
		kind = "spot"
	}
	return fmt.Sprintf("no %s price for %s in %s (add it with --price-catalog)", kind, e.What, e.Region)
}

// Node is the price of one node per hour: the machine and the GPUs it has
// built in, or the accelerators attached to it. GPUs named in accelerators
// that the machine type has built in are those same GPUs, not more.
func (p *Prices) Node(machineType string, accelerators []AcceleratorConfig, region string, spot bool) (float64, error) {
	m, ok := LookupMachine(machineType)
	if !ok {
		return 0, fmt.Errorf("unknown machine type %q", machineType)
	}
	host, ok := p.machines[priced{machineType, region}]
	if !ok {
		perCPU, found := p.series[priced{seriesOf(machineType), region}]
		if !found {
			return 0, &NoPriceError{What: "machine type " + machineType, Region: region, Spot: spot}
		}
		host = Rate{OnDemand: perCPU.OnDemand * float64(m.VCPUs)}
		if perCPU.Spot != nil {
			s := *perCPU.Spot * float64(m.VCPUs)
			host.Spot = &s
		}
	}
	total, err := pick(host, "machine type "+machineType, region, spot)
	if err != nil {
		return 0, err
	}
	gpus := map[string]int64{}
	if m.GPUs > 0 {
		gpus[m.GPUType] = m.GPUs
	}
	for _, a := range accelerators {
		if a.Type == m.GPUType {
			continue
		}
		gpus[a.Type] += a.Count
	}
	for typ, n := range gpus {
		rate, ok := p.accelerator[priced{typ, region}]
		if !ok {
			return 0, &NoPriceError{What: "accelerator " + typ, Region: region, Spot: spot}
		}
		one, err := pick(rate, "accelerator "+typ, region, spot)
		if err != nil {
			return 0, err
		}
		total += one * float64(n)
	}
	return total, nil
}

func pick(r Rate, what, region string, spot bool) (float64, error) {
	if !spot {
		return r.OnDemand, nil
	}
	if r.Spot == nil {
		return 0, &NoPriceError{What: what, Region: region, Spot: true}
	}
	return *r.Spot, nil
}

// FormatUSD prints dollars for people: cents for a dollar or more, else up
// to four decimals (at least two), so a $0.0294 spot node does not read as
// $0.03.
func FormatUSD(v float64) string {
	if v >= 1 || v == 0 {
		return "$" + strconv.FormatFloat(v, 'f', 2, 64)
	}
	s := strings.TrimRight(strconv.FormatFloat(v, 'f', 4, 64), "0")
	if i := strings.IndexByte(s, '.'); len(s)-i-1 < 2 {
		s += strings.Repeat("0", 2-(len(s)-i-1))
	}
	return "$" + s
}
