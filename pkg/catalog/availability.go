package catalog

import (
	"cmp"
	"slices"
)

// gpuZones says, for one region, which of its zones offer each accelerator
// type the availability table covers, as zone suffix letters ("ab" for
// <region>-a and <region>-b); "" means no zone of the region does.
type gpuZones struct {
	t4, p4, v100, p100 string // attached to N1 machines
	l4                 string // built into G2
	a100, a100x80      string // built into A2 standard and A2 ultra
}

// gpuZoneRow is one region's line of the availability table.
type gpuZoneRow struct {
	region string
	gpus   gpuZones
}

// gpuZoneTable is where Compute Engine offers the accelerator types GKE node
// pools use, for every catalogued region. It transcribes the per-zone rows
// of SkyPilot's GCP catalogue (skypilot-org/skypilot-catalog,
// catalogs/v8/gcp/vms.csv at 006059e0f18a), which that project generates
// from the Compute Engine accelerator-types and machine-types listings; the
// A100 columns are the zones offering a2-highgpu-1g and a2-ultragpu-1g.
// Spot checks against GKE's own refusals agree: "Accelerator type
// "nvidia-tesla-t4" does not exist in zone us-west4-c." and likewise for
// nvidia-l4 and nvidia-tesla-p4 in us-west4-b
// (GoogleCloudPlatform/kubernetes-engine-samples#1738), and GitLab's survey of
// us-east1-c and -d (gitlab-com/gl-infra/production-engineering#16345).
//
// Accelerator types without a column (the H100, H200 and B200 families) are
// not covered: where they are offered is unknown, and nothing is refused for
// it. Neither is anything in a region missing from the table.
var gpuZoneTable = []gpuZoneRow{
	{"africa-south1", gpuZones{}},
	{"asia-east1", gpuZones{t4: "ac", v100: "c", p100: "ac", l4: "abc"}},
	{"asia-east2", gpuZones{t4: "ac"}},
	{"asia-northeast1", gpuZones{t4: "ac", l4: "abc", a100: "ac"}},
	{"asia-northeast2", gpuZones{}},
	{"asia-northeast3", gpuZones{t4: "bc", l4: "ab", a100: "ab"}},
	{"asia-south1", gpuZones{t4: "ab", l4: "abc"}},
	{"asia-south2", gpuZones{}},
	{"asia-southeast1", gpuZones{t4: "abc", p4: "abc", l4: "abc", a100: "abc", a100x80: "c"}},
	{"asia-southeast2", gpuZones{t4: "ab"}},
	{"australia-southeast1", gpuZones{t4: "ac", p4: "ab", p100: "b"}},
	{"australia-southeast2", gpuZones{}},
	{"europe-central2", gpuZones{t4: "bc"}},
	{"europe-north1", gpuZones{}},
	{"europe-north2", gpuZones{}},
	{"europe-southwest1", gpuZones{}},
	{"europe-west1", gpuZones{t4: "bcd", p100: "bd", l4: "bc"}},
	{"europe-west10", gpuZones{}},
	{"europe-west12", gpuZones{}},
	{"europe-west2", gpuZones{t4: "ab", l4: "ab"}},
	{"europe-west3", gpuZones{t4: "b", l4: "ab"}},
	{"europe-west4", gpuZones{t4: "abc", p4: "bc", v100: "abc", p100: "a", l4: "abc", a100: "ab", a100x80: "a"}},
	{"europe-west6", gpuZones{l4: "bc"}},
	{"europe-west8", gpuZones{}},
	{"europe-west9", gpuZones{}},
	{"me-central1", gpuZones{}},
	{"me-central2", gpuZones{l4: "ac"}},
	{"me-west1", gpuZones{t4: "bc", a100: "ac"}},
	{"northamerica-northeast1", gpuZones{t4: "c", p4: "abc", l4: "bc"}},
	{"northamerica-northeast2", gpuZones{l4: "ab"}},
	{"northamerica-south1", gpuZones{}},
	{"southamerica-east1", gpuZones{t4: "abc"}},
	{"southamerica-west1", gpuZones{}},
	{"us-central1", gpuZones{t4: "abcf", p4: "ac", v100: "abcf", p100: "cf", l4: "abc", a100: "abcf", a100x80: "ac"}},
	{"us-east1", gpuZones{t4: "bcd", v100: "bc", p100: "bc", l4: "bcd", a100: "b"}},
	{"us-east4", gpuZones{t4: "abc", p4: "abc", l4: "ac", a100x80: "c"}},
	{"us-east5", gpuZones{a100x80: "ab"}},
	{"us-south1", gpuZones{}},
	{"us-west1", gpuZones{t4: "ab", v100: "ab", p100: "ab", l4: "abc", a100: "b"}},
	{"us-west2", gpuZones{t4: "bc", p4: "bc"}},
	{"us-west3", gpuZones{t4: "b", a100: "b"}},
	{"us-west4", gpuZones{t4: "ab", l4: "ac", a100: "b"}},
}

// retiredAccelerators are catalogued types no zone offers any more: the K80
// reached end of life in 2024, after which GKE answers "Accelerator type
// "nvidia-tesla-k80" does not exist in zone us-east1-c."
// (GoogleCloudPlatform/k8s-config-connector#1902).
var retiredAccelerators = []string{"nvidia-tesla-k80"}

// offerings is gpuZoneTable indexed: region → accelerator type → zones,
// sorted. A region present with a type absent means no zone offers it.
var offerings = buildOfferings(gpuZoneTable)

func buildOfferings(rows []gpuZoneRow) map[string]map[string][]string {
	out := make(map[string]map[string][]string, len(rows))
	for _, row := range rows {
		byType := map[string][]string{}
		for typ, suffixes := range map[string]string{
			"nvidia-tesla-t4":   row.gpus.t4,
			"nvidia-tesla-p4":   row.gpus.p4,
			"nvidia-tesla-v100": row.gpus.v100,
			"nvidia-tesla-p100": row.gpus.p100,
			"nvidia-l4":         row.gpus.l4,
			"nvidia-tesla-a100": row.gpus.a100,
			"nvidia-a100-80gb":  row.gpus.a100x80,
		} {
			for _, s := range suffixes {
				byType[typ] = append(byType[typ], row.region+"-"+string(s))
			}
			slices.Sort(byType[typ])
		}
		out[row.region] = byType
	}
	return out
}

// coveredAccelerators are the types whose offering the table records.
var coveredAccelerators = append([]string{
	"nvidia-tesla-t4", "nvidia-tesla-p4", "nvidia-tesla-v100", "nvidia-tesla-p100",
	"nvidia-l4", "nvidia-tesla-a100", "nvidia-a100-80gb",
}, retiredAccelerators...)

// AcceleratorZones returns the zones of region that offer accelerator type
// typ, sorted. known is false when the catalogue does not know the region's
// offering of that type; callers must then not refuse anything for it.
func AcceleratorZones(typ, region string) (zones []string, known bool) {
	byType, ok := offerings[region]
	if !ok || !slices.Contains(coveredAccelerators, typ) {
		return nil, false
	}
	return slices.Clone(byType[typ]), true
}

// regionOffer is a region offering an accelerator type, with its zones.
type regionOffer struct {
	region string
	zones  []string
	km     float64
}

// nearestOffers returns up to n regions that offer typ, nearest to region
// first (by name when equally far), for "it is offered in ..." hints.
func nearestOffers(typ, region string, n int) []regionOffer {
	var out []regionOffer
	for r, byType := range offerings {
		if r == region || len(byType[typ]) == 0 {
			continue
		}
		km, ok := DistanceKm(region, r)
		if !ok {
			continue
		}
		out = append(out, regionOffer{region: r, zones: byType[typ], km: km})
	}
	slices.SortFunc(out, func(a, b regionOffer) int {
		return cmp.Or(cmp.Compare(a.km, b.km), cmp.Compare(a.region, b.region))
	})
	return out[:min(n, len(out))]
}
