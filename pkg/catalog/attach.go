package catalog

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// AcceleratorConfig is one accelerator entry of a node pool: a type and how
// many of it each node gets.
type AcceleratorConfig struct {
	Type  string
	Count int64
}

// AcceleratorError is one reason GKE refuses a node pool's accelerators.
type AcceleratorError struct {
	// Index is the offending entry of the configs checked, or -1 when the
	// machine type itself is the problem.
	Index int
	// Field is what to change: "type" or "count" of that entry, or
	// "machineType".
	Field string
	// Msg is the refusal as GKE or Compute Engine words it, where their
	// wording is known (see CheckAccelerators); it stands on its own.
	Msg string
	// Reason says why and what would work, when Msg does not; often "".
	Reason string
}

// Error is Msg, followed by the reason when there is one.
func (e *AcceleratorError) Error() string {
	if e.Reason == "" {
		return e.Msg
	}
	return strings.TrimSuffix(e.Msg, ".") + ": " + e.Reason
}

// AcceleratorErrors is every problem CheckAccelerators found, in the order
// of the configs.
type AcceleratorErrors []*AcceleratorError

// Error joins the problems' messages.
func (l AcceleratorErrors) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// n1Limit is how large an N1 machine may be for a number of attached GPUs.
type n1Limit struct {
	count, vcpus, memoryGiB int64
	// exceptZones have a different limit for this count, which the
	// catalogue does not record; nothing is refused there.
	exceptZones []string
}

// n1GPUs are the accelerator types Compute Engine attaches to N1 machine
// types, with the GPU counts it allows and the vCPUs and memory each count
// allows. Source: the tables of https://cloud.google.com/compute/docs/gpus,
// as transcribed in SkyPilot's GCP catalogue (sky/catalog/gcp_catalog.py,
// _NUM_ACC_TO_MAX_CPU_AND_MEMORY; GCP's "GB" is GiB). Real refusals agree
// where they could be found: "Number of accelerator cards attached to an
// instance must be one of [1, 2, 4]." for 8 P100s (google/deepvariant#136);
// "At most 8 vCPUs can be used along with 1 accelerator cards in an
// instance." (google/deepvariant#70); n1-standard-96 takes no fewer than 4
// T4s (NVIDIA/cudf-spark-tools#1386) and a 16-vCPU machine no fewer than 2
// V100s (iterative/cml#1175).
var n1GPUs = map[string][]n1Limit{
	"nvidia-tesla-t4":   {{count: 1, vcpus: 48, memoryGiB: 312}, {count: 2, vcpus: 48, memoryGiB: 312}, {count: 4, vcpus: 96, memoryGiB: 624}},
	"nvidia-tesla-p4":   {{count: 1, vcpus: 24, memoryGiB: 156}, {count: 2, vcpus: 48, memoryGiB: 312}, {count: 4, vcpus: 96, memoryGiB: 624}},
	"nvidia-tesla-v100": {{count: 1, vcpus: 12, memoryGiB: 78}, {count: 2, vcpus: 24, memoryGiB: 156}, {count: 4, vcpus: 48, memoryGiB: 312}, {count: 8, vcpus: 96, memoryGiB: 624}},
	"nvidia-tesla-p100": {{count: 1, vcpus: 16, memoryGiB: 104}, {count: 2, vcpus: 32, memoryGiB: 208},
		{count: 4, vcpus: 96, memoryGiB: 624, exceptZones: []string{"us-east1-c", "europe-west1-d", "europe-west1-b"}}},
	"nvidia-tesla-k80": {{count: 1, vcpus: 8, memoryGiB: 52}, {count: 2, vcpus: 16, memoryGiB: 104}, {count: 4, vcpus: 32, memoryGiB: 208},
		{count: 8, vcpus: 64, memoryGiB: 208, exceptZones: []string{"asia-east1-a", "us-east1-d"}}},
}

// CheckAccelerators reports why GKE would refuse a node pool of machineType
// whose nodes get accs, in location: a zone, a region (a regional cluster,
// whose node zones GKE picks), or "" to skip where things are offered. It
// returns nil or AcceleratorErrors, every problem at once. A machineType the
// catalogue does not know is someone else's error: only the accelerators'
// own problems are reported then.
//
// The rules, from Compute Engine's GPU documentation ("GPUs are not
// compatible with other machine types", About GPU instances):
//   - machine types with built-in GPUs (A2, A3, A4, G2) take only an entry
//     naming those GPUs, in that number;
//   - N1 machine types take the older GPUs of n1GPUs, in the counts and up to
//     the machine sizes listed there;
//   - every other machine type (E2, N2, C3, ...) takes no GPUs;
//   - a node pool lists one accelerator entry;
//   - an accelerator type (or a machine type's built-in one) must be offered
//     in the zone, or for a region in at least one of its zones, as far as
//     the availability table knows.
//
// Messages quote GKE's and Compute Engine's own where those were found:
// "Accelerator type "nvidia-tesla-t4" does not exist in zone us-west4-c."
// (GoogleCloudPlatform/kubernetes-engine-samples#1738), "[e2-standard-2,
// nvidia-tesla-t4] features are not compatible for creating instance."
// (kubernetes/test-infra#35205), "[nvidia-tesla-a100, n1-highmem-8] ..."
// (skypilot-org/skypilot#212) and the guestAccelerators ones cited at n1GPUs.
// The others (built-in mismatches, memory limits, regions, machine types not
// offered in a zone) are written in the same manner.
func CheckAccelerators(machineType, location string, accs []AcceleratorConfig) error {
	m, machineKnown := LookupMachine(machineType)
	var errs AcceleratorErrors
	add := func(i int, field, reason, format string, args ...any) {
		errs = append(errs, &AcceleratorError{Index: i, Field: field, Msg: fmt.Sprintf(format, args...), Reason: reason})
	}
	if len(accs) > 1 {
		add(1, "type", "", "Only one accelerator config per node pool is supported, got %d.", len(accs))
	}
	listsBuiltIn := false
	for i, acc := range accs {
		if acc.Count <= 0 {
			add(i, "count", "", "Accelerator count must be positive, got %d for %q.", acc.Count, acc.Type)
		}
		if _, known := LookupAccelerator(acc.Type); !known {
			add(i, "type", "", "Accelerator type %q does not exist%s.", acc.Type, where(location))
			continue
		}
		listsBuiltIn = listsBuiltIn || acc.Type == m.GPUType
		if machineKnown && !checkAttach(m, i, acc, location, add) {
			continue
		}
		if reason, offered := offeredIn(acc.Type, location, "it"); !offered {
			add(i, "type", reason, "Accelerator type %q does not exist%s.", acc.Type, where(location))
		}
	}
	if machineKnown && m.GPUs > 0 && !listsBuiltIn {
		if reason, offered := offeredIn(m.GPUType, location, "its "+m.GPUType+" GPUs"); !offered {
			add(-1, "machineType", reason, "Machine type %q does not exist%s.", m.Name, where(location))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// checkAttach applies the machine family's rules to one entry and reports
// whether its type is one the machine can take.
func checkAttach(m Machine, i int, acc AcceleratorConfig, location string,
	add func(i int, field, reason, format string, args ...any)) bool {
	limits, attachable := n1GPUs[acc.Type]
	switch {
	case m.GPUs > 0:
		if acc.Type != m.GPUType {
			add(i, "type", "", "Machine type %q comes with %d %s GPU(s) built in; the accelerator type must be %q, got %q.",
				m.Name, m.GPUs, m.GPUType, m.GPUType, acc.Type)
		}
		if acc.Count > 0 && acc.Count != m.GPUs {
			add(i, "count", "", "Machine type %q comes with %d %s GPU(s) built in; the accelerator count must be %d, got %d.",
				m.Name, m.GPUs, m.GPUType, m.GPUs, acc.Count)
		}
		return acc.Type == m.GPUType
	case m.Family != "n1":
		add(i, "type", "only N1 machine types take attached GPUs; "+strings.ToUpper(m.Family)+" machine types take none",
			"[%s, %s] features are not compatible for creating instance.", m.Name, acc.Type)
		return false
	case !attachable:
		add(i, "type", acc.Type+" comes only built into its own machine types: "+strings.Join(builtInto(acc.Type, acc.Count), ", "),
			"[%s, %s] features are not compatible for creating instance.", acc.Type, m.Name)
		return false
	}
	if acc.Count <= 0 {
		return true
	}
	field := fmt.Sprintf("Invalid value for field 'resource.guestAccelerators[%d].acceleratorCount': '%d'.", i, acc.Count)
	at := slices.IndexFunc(limits, func(l n1Limit) bool { return l.count == acc.Count })
	if at < 0 {
		counts := make([]string, len(limits))
		for j, l := range limits {
			counts[j] = strconv.FormatInt(l.count, 10)
		}
		add(i, "count", "", "%s Number of accelerator cards attached to an instance must be one of [%s].", field, strings.Join(counts, ", "))
		return true
	}
	l := limits[at]
	if exempt(l, location) {
		return true
	}
	if m.VCPUs > l.vcpus {
		add(i, "count", sizeHint(m, acc.Type, limits, location),
			"%s At most %d vCPUs can be used along with %d accelerator cards in an instance.", field, l.vcpus, acc.Count)
	} else if m.MemoryMiB > l.memoryGiB*1024 {
		add(i, "count", sizeHint(m, acc.Type, limits, location),
			"%s At most %d GB of memory can be used along with %d accelerator cards in an instance.", field, l.memoryGiB, acc.Count)
	}
	return true
}

// exempt reports whether the nodes may go to one of a limit's exception
// zones: location is one, is a region with one, or is not a known place.
func exempt(l n1Limit, location string) bool {
	if len(l.exceptZones) == 0 {
		return false
	}
	if _, ok := RegionOfZone(location); ok {
		return slices.Contains(l.exceptZones, location)
	}
	if _, ok := LookupRegion(location); !ok {
		return true
	}
	return slices.ContainsFunc(l.exceptZones, func(z string) bool {
		r, _ := RegionOfZone(z)
		return r == location
	})
}

// sizeHint says which GPU count would take machine m, if any does.
func sizeHint(m Machine, typ string, limits []n1Limit, location string) string {
	gib := strings.TrimRight(strings.TrimRight(strconv.FormatFloat(float64(m.MemoryMiB)/1024, 'f', 2, 64), "0"), ".")
	size := fmt.Sprintf("%s has %d vCPUs and %s GB", m.Name, m.VCPUs, gib)
	for _, l := range limits {
		if exempt(l, location) || (m.VCPUs <= l.vcpus && m.MemoryMiB <= l.memoryGiB*1024) {
			return fmt.Sprintf("%s, which takes %d or more %s GPUs", size, l.count, typ)
		}
	}
	return fmt.Sprintf("%s, more than any number of %s GPUs allows; use a smaller machine type", size, typ)
}

// builtInto lists the machine types with typ built in, smallest first: those
// with count of them if any machine has that many, else all of them.
func builtInto(typ string, count int64) []string {
	var all, exact []Machine
	for _, m := range machines {
		if m.GPUType != typ {
			continue
		}
		all = append(all, m)
		if m.GPUs == count {
			exact = append(exact, m)
		}
	}
	if len(exact) > 0 {
		all = exact
	}
	slices.SortFunc(all, func(a, b Machine) int {
		return cmp.Or(cmp.Compare(a.GPUs, b.GPUs), cmp.Compare(a.VCPUs, b.VCPUs), cmp.Compare(a.Name, b.Name))
	})
	names := make([]string, len(all))
	for i, m := range all {
		names[i] = m.Name
	}
	return names
}

// where is " in zone Z" or " in any zone of region R" for messages, or ""
// for an unknown location.
func where(location string) string {
	if _, ok := RegionOfZone(location); ok {
		return " in zone " + location
	}
	if _, ok := LookupRegion(location); ok {
		return " in any zone of region " + location
	}
	return ""
}

// offeredIn reports whether typ is offered in location, as far as the
// availability table knows (an unknown offering counts as offered); when it
// is not, reason says where it is, naming typ as it.
func offeredIn(typ, location, it string) (reason string, offered bool) {
	region, zone := location, ""
	if r, ok := RegionOfZone(location); ok {
		region, zone = r, location
	}
	zones, known := AcceleratorZones(typ, region)
	if !known || (zone == "" && len(zones) > 0) || slices.Contains(zones, zone) {
		return "", true
	}
	if len(zones) > 0 {
		return region + " offers " + it + " only in " + strings.Join(zones, ", "), false
	}
	r, _ := LookupRegion(region)
	if zone != "" {
		reason = "none of the zones of " + region + " (" + strings.Join(r.Zones, ", ") + ") offers " + it
	} else {
		reason = "its zones are " + strings.Join(r.Zones, ", ")
	}
	near := nearestOffers(typ, region, 3)
	if len(near) == 0 {
		return reason + "; no catalogued region has " + it, false
	}
	parts := make([]string, len(near))
	for i, o := range near {
		parts[i] = o.region + " (" + strings.Join(o.zones, ", ") + ")"
	}
	return reason + "; the nearest regions with " + it + " are " + strings.Join(parts, ", "), false
}

// AsAcceleratorErrors returns the problems in an error from
// CheckAccelerators, or nil.
func AsAcceleratorErrors(err error) AcceleratorErrors {
	var errs AcceleratorErrors
	if errors.As(err, &errs) {
		return errs
	}
	return nil
}
