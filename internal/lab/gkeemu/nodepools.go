package gkeemu

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"k8s.io/client-go/kubernetes"

	"github.com/geofed-io/kubectl-geofed/pkg/drain"
	"github.com/geofed-io/kubectl-geofed/pkg/gke/nodeshape"
)

// change is an operation that changes a running cluster: one of its node
// pools and/or its settings.
type change struct {
	kind   containerpb.Operation_Type
	target string
	// pool is the node pool changed, nil for a cluster-only change.
	pool *nodePool
	// created: pool is new and is added. remove: pool is deleted on success.
	created, remove bool
	// next replaces pool's record for the operation and after it; a failure
	// restores the old one. nil keeps the record.
	next *nodePool
	// commit records what else changes, on success only.
	commit func()
	// recreate says pool's nodes are made anew (next numbers them afresh):
	// the nodes there now are cordoned and drained first, as GKE's
	// upgrade does, when the emulator can reach the cluster (an
	// Autoscalable provisioner's).
	recreate bool
}

// upgradeDrainTimeout bounds the drain before nodes are recreated. GKE
// respects PodDisruptionBudgets for up to an hour in an upgrade, then
// deletes the nodes anyway; the lab waits a minute, then does the same.
const upgradeDrainTimeout = time.Minute

// startChangeLocked records ch and starts its operation, which reshapes the
// cluster's nodes through the provisioner when they differ. The cluster is
// RECONCILING meanwhile. On failure the pool is ERROR with the message and
// its old size, and the cluster RUNNING again, as in GKE.
func (s *Server) startChangeLocked(c *cluster, ch change) *containerpb.Operation {
	before := c.nodes()
	p := ch.pool
	var prev nodePool
	switch {
	case ch.created:
		p.pb.Status = containerpb.NodePool_PROVISIONING
		c.pools = append(c.pools, p)
	case p != nil:
		prev = *p
		if ch.next != nil {
			*p = *ch.next
		}
		p.pb.Status = containerpb.NodePool_RECONCILING
		if ch.remove {
			p.pb.Status = containerpb.NodePool_STOPPING
		}
	}
	var after []NodePoolNodes
	if ch.remove {
		after = c.nodesExcept(p)
	} else {
		after = c.nodes()
	}
	c.pb.Status = containerpb.Cluster_RECONCILING

	var work func(context.Context) error
	if !reflect.DeepEqual(before, after) {
		var drained string
		if ch.recreate {
			drained = p.pb.Name
		}
		work = func(ctx context.Context) error {
			if drained != "" {
				s.drainForUpgrade(ctx, c, drained)
			}
			return opError("resizing the cluster's nodes", s.opts.Provisioner.Resize(ctx, c.ref.cluster, after))
		}
	}
	return s.startLocked(opSpec{
		kind:    ch.kind,
		cluster: c,
		target:  ch.target,
		work:    work,
		finish: func(err error) {
			c.pb.Status = containerpb.Cluster_RUNNING
			if err != nil {
				if p == nil {
					return
				}
				if ch.created {
					p.perZone = 0
				} else {
					*p = prev
				}
				p.pb.Status = containerpb.NodePool_ERROR
				p.pb.StatusMessage = status.Convert(err).Message()
				return
			}
			if ch.commit != nil {
				ch.commit()
			}
			switch {
			case p == nil:
			case ch.remove:
				i, _ := c.pool(p.pb.Name)
				c.pools = slices.Delete(c.pools, i, i+1)
			default:
				p.pb.Status = containerpb.NodePool_RUNNING
				p.pb.StatusMessage = ""
			}
		},
	})
}

// drainForUpgrade cordons the nodes of pool and evicts their pods, with
// PodDisruptionBudgets respected for upgradeDrainTimeout, before the nodes
// are recreated. Where the lab is simpler than GKE: GKE's surge upgrade
// adds a new node before it drains an old one (maxSurge 1 by default), so
// that evicted pods find room in the pool; the lab makes a pool's nodes in
// a zone of one shape, so it drains every old node first and then
// recreates them all, as GKE does with maxSurge 0. Evicted pods wait
// Pending meanwhile unless another pool has room. A drain that gives up is
// logged, and the nodes recreated anyway, as GKE does.
func (s *Server) drainForUpgrade(ctx context.Context, c *cluster, pool string) {
	prov, ok := s.opts.Provisioner.(Autoscalable)
	if !ok {
		return
	}
	cfg, err := prov.RESTConfig(c.ref.cluster)
	var cs kubernetes.Interface
	if err == nil {
		cs, err = kubernetes.NewForConfig(cfg)
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, upgradeDrainTimeout)
		defer cancel()
		_, err = drain.Drain(ctx, cs, drain.Options{
			Selector: nodeshape.LabelNodePool + "=" + pool,
			Progress: func(line string) { s.logf("%s: upgrading node pool %s: %s", c.ref, pool, line) },
		})
	}
	if err != nil {
		s.logf("%s: upgrading node pool %s: gave up draining its nodes, recreating them anyway: %v", c.ref, pool, err)
	}
}

// renumbered is p with its nodes in each zone numbered after those there
// now: recreated nodes have new names, as GKE's new instances do, so that
// nothing of an old node is left.
func (p *nodePool) renumbered() map[string][]int {
	out := make(map[string][]int, len(p.zones))
	for _, z := range p.zones {
		next := 0
		if cur := allIndexes(p, z); len(cur) > 0 {
			next = slices.Max(cur) + 1
		}
		for i := range int(p.perZone) {
			out[z] = append(out[z], next+i)
		}
	}
	return out
}

func (p *nodePool) clone() *nodePool {
	n := *p
	n.pb = proto.Clone(p.pb).(*containerpb.NodePool)
	n.zones = slices.Clone(p.zones)
	return &n
}

// growth is how much more quota next needs than cur; shrinking needs none.
func growth(next, cur *nodePool) usage {
	var n, c usage
	n.add(next, next.nodeCount())
	c.add(cur, cur.nodeCount())
	return usage{cpus: max(0, n.cpus-c.cpus), gpus: max(0, n.gpus-c.gpus), gpuTypes: n.gpuTypes}
}

// lookupPoolLocked finds an idle cluster's node pool for a change.
func (s *Server) lookupPoolLocked(ref poolRef) (*cluster, *nodePool, error) {
	if s.stopped {
		return nil, nil, errStopping
	}
	c, err := s.lookupLocked(ref.clusterRef)
	if err != nil {
		return nil, nil, err
	}
	_, p := c.pool(ref.pool)
	if p == nil {
		return nil, nil, notFound(ref)
	}
	return c, p, c.checkIdle()
}

func parsePoolAt(name, project, zone, cluster, pool string) (poolRef, error) {
	ref, err := parsePool(name, project, zone, cluster, pool)
	if err != nil {
		return poolRef{}, err
	}
	if _, err := resolveLocation(ref.location); err != nil {
		return poolRef{}, err
	}
	return ref, nil
}

func parseClusterAt(field, name, project, zone, cluster string) (clusterRef, error) {
	ref, err := parseCluster(field, name, project, zone, cluster)
	if err != nil {
		return clusterRef{}, err
	}
	if _, err := resolveLocation(ref.location); err != nil {
		return clusterRef{}, err
	}
	return ref, nil
}

// CreateNodePool adds a node pool to a running cluster.
func (s *Server) CreateNodePool(_ context.Context, req *containerpb.CreateNodePoolRequest) (*containerpb.Operation, error) {
	ref, err := parseClusterAt("parent", req.GetParent(), req.GetProjectId(), req.GetZone(), req.GetClusterId())
	if err != nil {
		return nil, err
	}
	if req.GetNodePool() == nil {
		return nil, missing(`"node_pool"`)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil, errStopping
	}
	c, err := s.lookupLocked(ref)
	if err != nil {
		return nil, err
	}
	if err := c.checkIdle(); err != nil {
		return nil, err
	}
	p, err := newNodePool(req.GetNodePool(), c, "node_pool", c.poolProtos(nil))
	if err != nil {
		return nil, err
	}
	if _, dup := c.pool(p.pb.Name); dup != nil {
		return nil, status.Errorf(codes.AlreadyExists, "Already exists: %s.", poolRef{ref, p.pb.Name})
	}
	var ask usage
	ask.add(p, p.nodeCount())
	if err := s.checkQuotaLocked(ref.project, c.place.region, ask); err != nil {
		return nil, err
	}
	return s.startChangeLocked(c, change{
		kind: containerpb.Operation_CREATE_NODE_POOL, target: p.pb.SelfLink, pool: p, created: true,
	}), nil
}

// DeleteNodePool removes a node pool and its nodes.
func (s *Server) DeleteNodePool(_ context.Context, req *containerpb.DeleteNodePoolRequest) (*containerpb.Operation, error) {
	ref, err := parsePoolAt(req.GetName(), req.GetProjectId(), req.GetZone(), req.GetClusterId(), req.GetNodePoolId())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, p, err := s.lookupPoolLocked(ref)
	if err != nil {
		return nil, err
	}
	return s.startChangeLocked(c, change{
		kind: containerpb.Operation_DELETE_NODE_POOL, target: p.pb.SelfLink, pool: p, remove: true,
	}), nil
}

// GetNodePool returns one node pool.
func (s *Server) GetNodePool(_ context.Context, req *containerpb.GetNodePoolRequest) (*containerpb.NodePool, error) {
	ref, err := parsePoolAt(req.GetName(), req.GetProjectId(), req.GetZone(), req.GetClusterId(), req.GetNodePoolId())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.lookupLocked(ref.clusterRef)
	if err != nil {
		return nil, err
	}
	_, p := c.pool(ref.pool)
	if p == nil {
		return nil, notFound(ref)
	}
	return proto.Clone(p.pb).(*containerpb.NodePool), nil
}

// ListNodePools lists a cluster's node pools in creation order, as GKE does.
func (s *Server) ListNodePools(_ context.Context, req *containerpb.ListNodePoolsRequest) (*containerpb.ListNodePoolsResponse, error) {
	ref, err := parseClusterAt("parent", req.GetParent(), req.GetProjectId(), req.GetZone(), req.GetClusterId())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.lookupLocked(ref)
	if err != nil {
		return nil, err
	}
	return &containerpb.ListNodePoolsResponse{NodePools: c.proto().NodePools}, nil
}

// SetNodePoolSize sets a pool's node count per zone. An autoscaled pool's
// size is clamped into its bounds, where the autoscaler moves it from.
func (s *Server) SetNodePoolSize(_ context.Context, req *containerpb.SetNodePoolSizeRequest) (*containerpb.Operation, error) {
	ref, err := parsePoolAt(req.GetName(), req.GetProjectId(), req.GetZone(), req.GetClusterId(), req.GetNodePoolId())
	if err != nil {
		return nil, err
	}
	if req.GetNodeCount() < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "node_count must be non-negative, got %d.", req.GetNodeCount())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, p, err := s.lookupPoolLocked(ref)
	if err != nil {
		return nil, err
	}
	next := p.clone()
	next.perZone = boundedSize(req.GetNodeCount(), p.pb.Autoscaling)
	if err := s.checkQuotaLocked(ref.project, c.place.region, growth(next, p)); err != nil {
		return nil, err
	}
	return s.startChangeLocked(c, change{
		kind: containerpb.Operation_SET_NODE_POOL_SIZE, target: p.pb.SelfLink, pool: p, next: next,
	}), nil
}

// SetNodePoolAutoscaling replaces a pool's autoscaling bounds; the pool's
// size moves into them.
func (s *Server) SetNodePoolAutoscaling(_ context.Context, req *containerpb.SetNodePoolAutoscalingRequest) (*containerpb.Operation, error) {
	ref, err := parsePoolAt(req.GetName(), req.GetProjectId(), req.GetZone(), req.GetClusterId(), req.GetNodePoolId())
	if err != nil {
		return nil, err
	}
	a := req.GetAutoscaling()
	if a == nil {
		return nil, missing(`"autoscaling"`)
	}
	if err := checkAutoscaling(a, "autoscaling"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, p, err := s.lookupPoolLocked(ref)
	if err != nil {
		return nil, err
	}
	next := p.clone()
	next.pb.Autoscaling = proto.Clone(a).(*containerpb.NodePoolAutoscaling)
	next.perZone = boundedSize(p.perZone, a)
	if err := s.checkQuotaLocked(ref.project, c.place.region, growth(next, p)); err != nil {
		return nil, err
	}
	return s.startChangeLocked(c, change{
		kind: containerpb.Operation_UPDATE_CLUSTER, target: p.pb.SelfLink, pool: p, next: next,
	}), nil
}

// UpdateNodePool changes a pool's nodes in place, which GKE does by a surge
// upgrade: machine type (vertical scaling), accelerators, node labels and
// disks. Changing the machine type without listing accelerators drops the
// listed ones, so a pool can move off a GPU machine type; built-in GPUs
// follow the machine type either way. A new machine, accelerators, disk or
// image recreates the nodes under new names, drained first (see
// drainForUpgrade); labels change on the nodes there. Fields the emulator
// does not model are refused as UNIMPLEMENTED.
func (s *Server) UpdateNodePool(_ context.Context, req *containerpb.UpdateNodePoolRequest) (*containerpb.Operation, error) {
	ref, err := parsePoolAt(req.GetName(), req.GetProjectId(), req.GetZone(), req.GetClusterId(), req.GetNodePoolId())
	if err != nil {
		return nil, err
	}
	if err := onlyFields(req, "UpdateNodePoolRequest", "name", "project_id", "zone", "cluster_id", "node_pool_id",
		"node_version", "image_type", "machine_type", "accelerators", "labels", "resource_labels",
		"disk_type", "disk_size_gb", "etag"); err != nil {
		return nil, err
	}
	if err := checkVersion("node_version", req.GetNodeVersion()); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, p, err := s.lookupPoolLocked(ref)
	if err != nil {
		return nil, err
	}
	next := p.clone()
	cfg := next.pb.Config
	was := proto.Clone(cfg).(*containerpb.NodeConfig)
	if mt := req.GetMachineType(); mt != "" && mt != cfg.MachineType {
		cfg.MachineType = mt
		cfg.Accelerators = nil
	}
	if len(req.GetAccelerators()) > 0 {
		cfg.Accelerators = nil
		for _, a := range req.GetAccelerators() {
			cfg.Accelerators = append(cfg.Accelerators, proto.Clone(a).(*containerpb.AcceleratorConfig))
		}
	}
	if l := req.GetLabels(); l != nil {
		cfg.Labels = maps.Clone(l.GetLabels())
	}
	if l := req.GetResourceLabels(); l != nil {
		cfg.ResourceLabels = maps.Clone(l.GetLabels())
	}
	if v := req.GetImageType(); v != "" {
		cfg.ImageType = v
	}
	if v := req.GetDiskType(); v != "" {
		cfg.DiskType = v
	}
	if v := req.GetDiskSizeGb(); v != 0 {
		cfg.DiskSizeGb = int32(v)
	}
	next.pb = nodeshape.Made(next.pb, p.pb, c.poolProtos(p))
	if next.shape, err = shapeOf(next.pb, c.place.region, next.zones, []string{c.place.region}); err != nil {
		return nil, err
	}
	if err := s.checkQuotaLocked(ref.project, c.place.region, growth(next, p)); err != nil {
		return nil, err
	}
	// GKE changes labels in place; a new machine, accelerators, disk or
	// image make new nodes.
	recreate := cfg.MachineType != was.MachineType || cfg.DiskType != was.DiskType || cfg.DiskSizeGb != was.DiskSizeGb ||
		cfg.ImageType != was.ImageType || !slices.EqualFunc(cfg.Accelerators, was.Accelerators, func(a, b *containerpb.AcceleratorConfig) bool {
		return proto.Equal(a, b)
	})
	if recreate {
		next.kept = p.renumbered()
	}
	return s.startChangeLocked(c, change{
		kind: containerpb.Operation_UPGRADE_NODES, target: p.pb.SelfLink, pool: p, next: next, recreate: recreate,
	}), nil
}
