package gkeemu

import (
	"fmt"
	"hash/fnv"
	"maps"
	"regexp"
	"slices"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
)

// GKE's defaults for fields a node pool request leaves empty.
const (
	defaultMachineType = "e2-medium"
	defaultDiskSizeGb  = 100
	defaultDiskType    = "pd-balanced"
	defaultImageType   = "COS_CONTAINERD"
)

// nameRE is GKE's rule for cluster and node pool names.
var nameRE = regexp.MustCompile(`^[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?$`)

func checkName(field, name string) error {
	if name == "" {
		return missing(fmt.Sprintf("%q", field))
	}
	if !nameRE.MatchString(name) {
		return status.Errorf(codes.InvalidArgument,
			"Invalid value for field %q: %q. Must be a match of regex '%s' (only alphanumerics and '-' allowed, must start with a letter and end with an alphanumeric, and must be no longer than 40 characters).",
			field, name, nameRE.String())
	}
	return nil
}

// nodeShape is what every node of a pool looks like.
type nodeShape struct {
	machine catalog.Machine
	gpus    int64
	gpuType string
}

// shapeOf sizes a node from its config, refusing what GKE refuses. GPUs
// come from one of two places: machine types with built-in GPUs (a2, a3,
// a4, g2) have them whether or not the pool lists accelerators (GKE requires
// listing them for a2; listing them again does not add GPUs); other
// machines get the listed accelerators attached, which Compute Engine allows
// only on N1 with the older GPU types. The accelerator rules are the
// catalogue's, checked in zone's region: shapeOf also sizes updated pools,
// whose zones may be the emulator's stand-in for a regional cluster's (see
// acceleratorLocations); newNodePool checks the zones themselves.
func shapeOf(cfg *containerpb.NodeConfig, zone string) (nodeShape, error) {
	region, _ := catalog.RegionOfZone(zone)
	return poolShape(cfg, zone, []string{region})
}

// poolShape is shapeOf checking the accelerators at each of locations, zones
// or regions; zone is for the machine type's message.
func poolShape(cfg *containerpb.NodeConfig, zone string, locations []string) (nodeShape, error) {
	m, ok := catalog.LookupMachine(cfg.GetMachineType())
	if !ok {
		return nodeShape{}, status.Errorf(codes.InvalidArgument,
			"Invalid machine type %q in zone %q: GCE_NOT_FOUND", cfg.GetMachineType(), zone)
	}
	shape := nodeShape{machine: m, gpus: m.GPUs, gpuType: m.GPUType}
	accs := make([]catalog.AcceleratorConfig, len(cfg.GetAccelerators()))
	for i, a := range cfg.GetAccelerators() {
		accs[i] = catalog.AcceleratorConfig{Type: a.GetAcceleratorType(), Count: a.GetAcceleratorCount()}
	}
	// GKE fills in its default machine type, and says so, before Compute
	// Engine sees the accelerators.
	if len(accs) > 0 && m.Name == defaultMachineType {
		return nodeShape{}, status.Errorf(codes.InvalidArgument,
			"Cannot use default machine type (%s) with GPUs; choose a different machine type.", defaultMachineType)
	}
	for _, loc := range locations {
		// GKE answers with one refusal: the first.
		if errs := catalog.AsAcceleratorErrors(catalog.CheckAccelerators(m.Name, loc, accs)); len(errs) > 0 {
			return nodeShape{}, status.Error(codes.InvalidArgument, errs[0].Msg)
		}
	}
	if m.GPUs == 0 && len(accs) > 0 {
		shape.gpus, shape.gpuType = accs[0].Count, accs[0].Type
	}
	return shape, nil
}

// acceleratorLocations are where a pool's accelerators must be offered: each
// of its zones, but the region for a pool of a regional cluster that names
// no zones of its own. GKE spreads such a pool over zones it picks, and the
// emulator's single stand-in zone (see nodeZones) says nothing about which;
// this keeps the emulator to topology validation's rule.
func acceleratorLocations(c *cluster, req *containerpb.NodePool, zones []string) []string {
	if c.place.zone == "" && len(req.GetLocations()) == 0 {
		return []string{c.place.region}
	}
	return zones
}

// nodePool is the emulator's record of a node pool: the resource as GKE
// returns it plus what the resource does not say.
type nodePool struct {
	pb    *containerpb.NodePool
	zones []string
	// perZone is the current node count in each zone; pb.InitialNodeCount
	// keeps the creation-time value, as in GKE.
	perZone int32
	// kept is, per zone, the node indexes the autoscaler left after it
	// removed idle nodes from the middle; nil numbers a zone's nodes from 0.
	// See zoneIndexes. The autoscaler replaces the map, never changes it,
	// so copies of the record (clone, an operation's undo) stay apart.
	kept  map[string][]int
	shape nodeShape
}

// newNodePool validates a node pool of a request and fills GKE's defaults.
// field prefixes messages ("node_pool", "cluster.node_pools[1]").
func newNodePool(req *containerpb.NodePool, c *cluster, field string) (*nodePool, error) {
	if err := checkName(field+".name", req.GetName()); err != nil {
		return nil, err
	}
	pb := proto.Clone(req).(*containerpb.NodePool)
	if pb.Config == nil {
		pb.Config = &containerpb.NodeConfig{}
	}
	fillConfigDefaults(pb.Config)
	if pb.Config.Spot && pb.Config.Preemptible {
		return nil, status.Errorf(codes.InvalidArgument,
			"%s.config: spot and preemptible cannot both be set.", field)
	}
	zones := c.zones
	if len(pb.Locations) > 0 {
		for _, z := range pb.Locations {
			if r, ok := catalog.RegionOfZone(z); !ok || r != c.place.region {
				return nil, status.Errorf(codes.InvalidArgument,
					"%s.locations: %q is not a zone of region %q.", field, z, c.place.region)
			}
		}
		zones = slices.Clone(pb.Locations)
	}
	pb.Locations = zones
	shape, err := poolShape(pb.Config, zones[0], acceleratorLocations(c, req, zones))
	if err != nil {
		return nil, err
	}
	if pb.InitialNodeCount < 0 {
		return nil, status.Errorf(codes.InvalidArgument,
			"%s.initial_node_count must be non-negative, got %d.", field, pb.InitialNodeCount)
	}
	if err := checkAutoscaling(pb.Autoscaling, field+".autoscaling"); err != nil {
		return nil, err
	}
	if pb.Management == nil {
		pb.Management = &containerpb.NodeManagement{AutoUpgrade: true, AutoRepair: true}
	}
	if pb.MaxPodsConstraint == nil {
		pb.MaxPodsConstraint = &containerpb.MaxPodsConstraint{MaxPodsPerNode: 110}
	}
	pb.PodIpv4CidrSize = 24
	pb.Version = MasterVersion
	pb.SelfLink = selfLink(poolRef{c.ref, pb.Name})
	pb.InstanceGroupUrls = nil
	for _, z := range zones {
		pb.InstanceGroupUrls = append(pb.InstanceGroupUrls, instanceGroupURL(c.ref, pb.Name, z))
	}
	pb.Status = containerpb.NodePool_PROVISIONING
	return &nodePool{pb: pb, zones: zones, perZone: boundedSize(pb.InitialNodeCount, pb.Autoscaling), shape: shape}, nil
}

func fillConfigDefaults(cfg *containerpb.NodeConfig) {
	if cfg.MachineType == "" {
		cfg.MachineType = defaultMachineType
	}
	if cfg.DiskSizeGb == 0 {
		cfg.DiskSizeGb = defaultDiskSizeGb
	}
	if cfg.DiskType == "" {
		cfg.DiskType = defaultDiskType
	}
	if cfg.ImageType == "" {
		cfg.ImageType = defaultImageType
	}
}

func checkAutoscaling(a *containerpb.NodePoolAutoscaling, field string) error {
	if !a.GetEnabled() {
		return nil
	}
	if a.GetTotalMinNodeCount() != 0 || a.GetTotalMaxNodeCount() != 0 {
		return status.Errorf(codes.Unimplemented,
			"%s: the emulator supports per-zone min_node_count/max_node_count only, not total_*_node_count.", field)
	}
	if a.GetMinNodeCount() < 0 || a.GetMaxNodeCount() < 1 || a.GetMaxNodeCount() < a.GetMinNodeCount() {
		return status.Errorf(codes.InvalidArgument,
			"%s: need 0 <= min_node_count <= max_node_count and max_node_count >= 1, got min %d, max %d.",
			field, a.GetMinNodeCount(), a.GetMaxNodeCount())
	}
	return nil
}

// boundedSize is the per-zone node count a request sets: for an autoscaled
// pool, the requested size clamped into [min, max], where the autoscaler
// (autoscaler.go) then moves it.
func boundedSize(n int32, a *containerpb.NodePoolAutoscaling) int32 {
	if !a.GetEnabled() {
		return n
	}
	return min(max(n, a.GetMinNodeCount()), a.GetMaxNodeCount())
}

// nodes is what the provisioner must run for this pool, one entry per zone.
func (p *nodePool) nodes(region string) []NodePoolNodes {
	out := make([]NodePoolNodes, 0, len(p.zones))
	for _, z := range p.zones {
		out = append(out, NodePoolNodes{
			Pool:        p.pb.Name,
			Zone:        z,
			Count:       int(p.perZone),
			Indexes:     p.zoneIndexes(z),
			MachineType: p.shape.machine.Name,
			MilliCPU:    p.shape.machine.VCPUs * 1000,
			MemoryMiB:   p.shape.machine.MemoryMiB,
			GPUs:        p.shape.gpus,
			GPUType:     p.shape.gpuType,
			Labels:      p.nodeLabels(region, z),
		})
	}
	return out
}

// zoneIndexes numbers the pool's nodes in zone: the kept indexes, less the
// highest when the pool shrank since, plus the lowest free ones when it
// grew; nil when that is 0 to perZone-1, the provisioner's default.
func (p *nodePool) zoneIndexes(zone string) []int {
	n := int(p.perZone)
	kept := slices.Sorted(slices.Values(p.kept[zone]))
	if len(kept) > n {
		kept = kept[:n]
	}
	out := slices.Clone(kept)
	for i := 0; len(out) < n; i++ {
		if !slices.Contains(kept, i) {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	for i, x := range out {
		if x != i {
			return out
		}
	}
	return nil
}

// nodeLabels are the configured labels plus the ones GKE puts on every node,
// which win on conflict as GKE rejects configuring them.
func (p *nodePool) nodeLabels(region, zone string) map[string]string {
	l := maps.Clone(p.pb.Config.GetLabels())
	if l == nil {
		l = map[string]string{}
	}
	l["cloud.google.com/gke-nodepool"] = p.pb.Name
	l["cloud.google.com/machine-family"] = p.shape.machine.Family
	l["node.kubernetes.io/instance-type"] = p.shape.machine.Name
	l["topology.kubernetes.io/region"] = region
	l["topology.kubernetes.io/zone"] = zone
	if p.shape.gpus > 0 {
		l["cloud.google.com/gke-accelerator"] = p.shape.gpuType
	}
	if p.pb.Config.GetSpot() {
		l["cloud.google.com/gke-spot"] = "true"
	}
	if p.pb.Config.GetPreemptible() {
		l["cloud.google.com/gke-preemptible"] = "true"
	}
	return l
}

// nodeCount is the pool's current total over its zones.
func (p *nodePool) nodeCount() int64 { return int64(p.perZone) * int64(len(p.zones)) }

func selfLink(ref fmt.Stringer) string {
	return "https://container.googleapis.com/v1/" + ref.String()
}

// instanceGroupURL mimics the managed instance group GKE creates per pool
// and zone; the hash keeps names of equal pools in different clusters apart.
func instanceGroupURL(c clusterRef, pool, zone string) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%s", c, pool)
	return fmt.Sprintf("https://www.googleapis.com/compute/v1/projects/%s/zones/%s/instanceGroupManagers/gke-%s-%s-%08x-grp",
		c.project, zone, c.cluster, pool, h.Sum32())
}
