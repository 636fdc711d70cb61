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

	"github.com/geofed-io/kubectl-geofed/pkg/capacity"
	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/gke/nodeshape"
)

// GKE's defaults for fields a node pool request leaves empty, beside those
// that size a node (nodeshape.DefaultMachineType and the rest).
const (
	defaultDiskType  = "pd-balanced"
	defaultImageType = "COS_CONTAINERD"
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

// nodeShape is what every node of a pool looks like: its machine, whose
// vCPUs and memory are a node's capacity, and, by zone, the node as GKE
// registers it (nodeshape.Of), which the provisioner makes and the
// autoscaler sizes new nodes by. gpus and gpuType, which quota counts, are
// those of the nodes.
type nodeShape struct {
	machine catalog.Machine
	gpus    int64
	gpuType string
	nodes   map[string]capacity.NodeShape
}

// shapeOf sizes the nodes of pool pb in each of zones of region, refusing
// what GKE refuses, with the accelerators checked at each of locations,
// zones or regions. GPUs come from one of two places (see nodeshape.Of):
// machine types with built-in GPUs (a2, a3, a4, g2) have them whether or
// not the pool lists accelerators (GKE requires listing them for a2);
// other machines get the listed accelerators attached, which Compute
// Engine allows only on N1 with the older GPU types. The accelerator rules
// are the catalogue's. An updated pool is checked in its region: its zones
// may be the emulator's stand-in for a regional cluster's (see
// acceleratorLocations); newNodePool checks the zones themselves.
func shapeOf(pb *containerpb.NodePool, region string, zones, locations []string) (nodeShape, error) {
	cfg := pb.GetConfig()
	m, ok := catalog.LookupMachine(cfg.GetMachineType())
	if !ok {
		return nodeShape{}, status.Errorf(codes.InvalidArgument,
			"Invalid machine type %q in zone %q: GCE_NOT_FOUND", cfg.GetMachineType(), zones[0])
	}
	accs := make([]catalog.AcceleratorConfig, len(cfg.GetAccelerators()))
	for i, a := range cfg.GetAccelerators() {
		accs[i] = catalog.AcceleratorConfig{Type: a.GetAcceleratorType(), Count: a.GetAcceleratorCount()}
	}
	// GKE fills in its default machine type, and says so, before Compute
	// Engine sees the accelerators.
	if len(accs) > 0 && m.Name == nodeshape.DefaultMachineType {
		return nodeShape{}, status.Errorf(codes.InvalidArgument,
			"Cannot use default machine type (%s) with GPUs; choose a different machine type.", nodeshape.DefaultMachineType)
	}
	for _, loc := range locations {
		// GKE answers with one refusal: the first.
		if errs := catalog.AsAcceleratorErrors(catalog.CheckAccelerators(m.Name, loc, accs)); len(errs) > 0 {
			return nodeShape{}, status.Error(codes.InvalidArgument, errs[0].Msg)
		}
	}
	shape := nodeShape{machine: m, nodes: make(map[string]capacity.NodeShape, len(zones))}
	for _, z := range zones {
		n, err := nodeshape.Of(pb, region, z)
		if err != nil {
			return nodeShape{}, status.Error(codes.Internal, err.Error())
		}
		shape.nodes[z] = n
	}
	n := shape.nodes[zones[0]]
	gpus := n.Allocatable[nodeshape.GPUResource]
	shape.gpus, shape.gpuType = gpus.Value(), n.Labels[nodeshape.LabelAccelerator]
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
// field prefixes messages ("node_pool", "cluster.node_pools[1]"). others
// are the cluster's other pools as the pool is created (for a cluster
// being created, the other pools of its request), which decide whether it
// gets GKE's GPU taint (nodeshape.Made, the rule plan predicts by).
func newNodePool(req *containerpb.NodePool, c *cluster, field string, others []*containerpb.NodePool) (*nodePool, error) {
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
	if pb.MaxPodsConstraint == nil {
		pb.MaxPodsConstraint = &containerpb.MaxPodsConstraint{MaxPodsPerNode: nodeshape.DefaultMaxPodsPerNode}
	}
	pb = nodeshape.Made(pb, nil, others)
	shape, err := shapeOf(pb, c.place.region, zones, acceleratorLocations(c, req, zones))
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
		cfg.MachineType = nodeshape.DefaultMachineType
	}
	if cfg.DiskSizeGb == 0 {
		cfg.DiskSizeGb = nodeshape.DefaultDiskSizeGb
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
func (p *nodePool) nodes() []NodePoolNodes {
	out := make([]NodePoolNodes, 0, len(p.zones))
	for _, z := range p.zones {
		n := p.shape.nodes[z]
		out = append(out, NodePoolNodes{
			Pool:      p.pb.Name,
			Zone:      z,
			Count:     int(p.perZone),
			Indexes:   p.zoneIndexes(z),
			MilliCPU:  p.shape.machine.VCPUs * 1000,
			MemoryMiB: p.shape.machine.MemoryMiB,
			Node: capacity.NodeShape{
				Allocatable: n.Allocatable.DeepCopy(),
				Labels:      maps.Clone(n.Labels),
				Taints:      slices.Clone(n.Taints),
			},
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
