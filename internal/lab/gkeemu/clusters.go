package gkeemu

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
)

// CreateCluster validates the cluster, checks quota and starts a
// CREATE_CLUSTER operation that provisions its control plane and nodes.
func (s *Server) CreateCluster(_ context.Context, req *containerpb.CreateClusterRequest) (*containerpb.Operation, error) {
	s.mu.Lock()
	s.createCalls = append(s.createCalls, req.GetCluster().GetName())
	s.mu.Unlock()
	parent, err := parseParent(req.GetParent(), req.GetProjectId(), req.GetZone())
	if err != nil {
		return nil, err
	}
	pl, err := resolveLocation(parent.location)
	if err != nil {
		return nil, err
	}
	in := req.GetCluster()
	if in == nil {
		return nil, missing(`"cluster"`)
	}
	if err := checkName("cluster.name", in.GetName()); err != nil {
		return nil, err
	}
	if in.GetAutopilot().GetEnabled() {
		return nil, status.Error(codes.Unimplemented, "The GKE emulator does not emulate Autopilot clusters.")
	}
	c := &cluster{ref: clusterRef{parent, in.GetName()}, place: pl}
	if c.zones, err = nodeZones(pl, in.GetLocations()); err != nil {
		return nil, err
	}
	if err := c.addRequestedPools(in); err != nil {
		return nil, err
	}
	now := time.Now()
	c.pb = proto.Clone(in).(*containerpb.Cluster)
	c.pb.NodePools = nil
	c.pb.NodeConfig = proto.Clone(c.pools[0].pb.Config).(*containerpb.NodeConfig)
	c.pb.Location = parent.location
	c.pb.Zone = parent.location
	c.pb.Locations = slices.Clone(c.zones)
	c.pb.SelfLink = selfLink(c.ref)
	c.pb.Status = containerpb.Cluster_PROVISIONING
	c.pb.InitialClusterVersion = MasterVersion
	c.pb.CurrentMasterVersion = MasterVersion
	c.pb.CurrentNodeVersion = MasterVersion
	c.pb.CreateTime = now.UTC().Format(time.RFC3339)
	id := sha256.Sum256([]byte(c.ref.String() + c.pb.CreateTime))
	c.pb.Id = hex.EncodeToString(id[:16])
	if c.pb.ReleaseChannel == nil {
		c.pb.ReleaseChannel = &containerpb.ReleaseChannel{Channel: containerpb.ReleaseChannel_REGULAR}
	}
	if c.pb.Network == "" {
		c.pb.Network = "default"
	}
	if c.pb.Subnetwork == "" {
		c.pb.Subnetwork = "default"
	}
	if c.pb.LoggingService == "" {
		c.pb.LoggingService = "logging.googleapis.com/kubernetes"
	}
	if c.pb.MonitoringService == "" {
		c.pb.MonitoringService = "monitoring.googleapis.com/kubernetes"
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return nil, errStopping
	}
	if other := s.clusters[c.ref.cluster]; other != nil {
		if other.ref == c.ref {
			return nil, status.Errorf(codes.AlreadyExists, "Already exists: %s.", c.ref)
		}
		return nil, status.Errorf(codes.FailedPrecondition,
			"Lab limitation: cluster names are unique across the GKE emulator, and %s exists.", other.ref)
	}
	var ask usage
	for _, p := range c.pools {
		ask.add(p, p.nodeCount())
	}
	if err := s.checkQuotaLocked(parent.project, pl.region, ask); err != nil {
		return nil, err
	}
	s.clusters[c.ref.cluster] = c

	nodes := c.nodes()
	var cp ControlPlane
	attempted := false
	return s.startLocked(opSpec{
		kind:    containerpb.Operation_CREATE_CLUSTER,
		cluster: c,
		target:  c.pb.SelfLink,
		work: func(ctx context.Context) error {
			attempted = true
			var err error
			cp, err = s.opts.Provisioner.Provision(ctx, c.ref.cluster, nodes)
			return opError("provisioning the control plane", err)
		},
		finish: func(err error) {
			c.provisioned = attempted
			if err != nil {
				c.pb.Status = containerpb.Cluster_ERROR
				c.pb.StatusMessage = status.Convert(err).Message()
				for _, p := range c.pools {
					p.pb.Status = containerpb.NodePool_ERROR
					p.perZone = 0 // no nodes were made; frees the quota
				}
				return
			}
			c.cp = &cp
			c.pb.Status = containerpb.Cluster_RUNNING
			for _, p := range c.pools {
				p.pb.Status = containerpb.NodePool_RUNNING
			}
		},
	}), nil
}

// CreateClusterCalls returns the cluster name of every CreateCluster call
// the server received, in arrival order, whether it was accepted or refused
// (a name is "" if the request had no cluster). A client that must ask GKE
// to create a cluster only once — an apply re-run after one that was killed
// while the create was in flight — is checked by counting its name here.
func (s *Server) CreateClusterCalls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.createCalls)
}

// nodeZones picks a cluster's node locations: the requested ones, else the
// cluster's zone. GKE spreads a regional cluster over three zones by default;
// the emulator gives it only the region's first zone, a deliberate lab
// simplification that keeps a regional cluster as small as a zonal one (node
// counts stay per zone, as in GKE).
func nodeZones(pl place, requested []string) ([]string, error) {
	if len(requested) == 0 {
		if pl.zone != "" {
			return []string{pl.zone}, nil
		}
		r, _ := catalog.LookupRegion(pl.region)
		return r.Zones[:1], nil
	}
	for i, z := range requested {
		if r, ok := catalog.RegionOfZone(z); !ok || r != pl.region {
			return nil, status.Errorf(codes.InvalidArgument,
				"cluster.locations[%d]: %q is not a zone of region %q.", i, z, pl.region)
		}
		if slices.Contains(requested[:i], z) {
			return nil, status.Errorf(codes.InvalidArgument, "cluster.locations lists %q twice.", z)
		}
	}
	if pl.zone != "" && !slices.Contains(requested, pl.zone) {
		return nil, status.Errorf(codes.InvalidArgument,
			"cluster.locations must include the cluster's zone %q.", pl.zone)
	}
	return slices.Clone(requested), nil
}

// addRequestedPools validates the node pools of a create request: either
// node_pools, or the legacy initial_node_count and node_config that make a
// "default-pool".
func (c *cluster) addRequestedPools(in *containerpb.Cluster) error {
	reqPools := in.GetNodePools()
	switch {
	case len(reqPools) > 0 && (in.GetInitialNodeCount() != 0 || in.GetNodeConfig() != nil):
		return status.Error(codes.InvalidArgument,
			"Cluster.initial_node_count and Cluster.node_config must not be set together with Cluster.node_pools.")
	case len(reqPools) == 0 && in.GetInitialNodeCount() <= 0:
		return status.Error(codes.InvalidArgument, "Cluster.initial_node_count must be greater than zero.")
	case len(reqPools) == 0:
		reqPools = []*containerpb.NodePool{{
			Name:             "default-pool",
			Config:           in.GetNodeConfig(),
			InitialNodeCount: in.GetInitialNodeCount(),
		}}
	}
	for i, rp := range reqPools {
		others := slices.Delete(slices.Clone(reqPools), i, i+1)
		p, err := newNodePool(rp, c, fmt.Sprintf("cluster.node_pools[%d]", i), others)
		if err != nil {
			return err
		}
		if _, dup := c.pool(p.pb.Name); dup != nil {
			return status.Errorf(codes.InvalidArgument, "cluster.node_pools: node pool %q is listed twice.", p.pb.Name)
		}
		c.pools = append(c.pools, p)
	}
	return nil
}

// proto is the cluster as GetCluster returns it.
func (c *cluster) proto() *containerpb.Cluster {
	pb := proto.Clone(c.pb).(*containerpb.Cluster)
	var n int64
	for _, p := range c.pools {
		pb.NodePools = append(pb.NodePools, proto.Clone(p.pb).(*containerpb.NodePool))
		n += p.nodeCount()
	}
	pb.CurrentNodeCount = int32(n)
	if c.cp != nil {
		pb.Endpoint = endpointHost(c.cp.Endpoint)
		if pb.MasterAuth == nil {
			pb.MasterAuth = &containerpb.MasterAuth{}
		}
		pb.MasterAuth.ClusterCaCertificate = base64.StdEncoding.EncodeToString(c.cp.CAData)
		pb.MasterAuth.ClientCertificate = base64.StdEncoding.EncodeToString(c.cp.ClientCertData)
		pb.MasterAuth.ClientKey = base64.StdEncoding.EncodeToString(c.cp.ClientKeyData)
	}
	return pb
}

// endpointHost turns a control plane endpoint into GKE's form: GKE returns
// a bare IP; the lab's apiservers need their port, so it is "host:port".
func endpointHost(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		return u.Host
	}
	return endpoint
}

// GetCluster returns a cluster, in any state.
func (s *Server) GetCluster(_ context.Context, req *containerpb.GetClusterRequest) (*containerpb.Cluster, error) {
	ref, err := parseClusterAt("name", req.GetName(), req.GetProjectId(), req.GetZone(), req.GetClusterId())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.lookupLocked(ref)
	if err != nil {
		return nil, err
	}
	return c.proto(), nil
}

// ListClusters lists the clusters of one location, or of every location of
// the project with location "-", sorted by name. A region lists only the
// clusters whose location is that region, not zonal clusters in it.
func (s *Server) ListClusters(_ context.Context, req *containerpb.ListClustersRequest) (*containerpb.ListClustersResponse, error) {
	parent, err := parseParent(req.GetParent(), req.GetProjectId(), req.GetZone())
	if err != nil {
		return nil, err
	}
	if parent.location != "-" {
		if _, err := resolveLocation(parent.location); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := &containerpb.ListClustersResponse{}
	for _, c := range s.clusters {
		if c.ref.project == parent.project && (parent.location == "-" || c.ref.location == parent.location) {
			resp.Clusters = append(resp.Clusters, c.proto())
		}
	}
	slices.SortFunc(resp.Clusters, func(a, b *containerpb.Cluster) int {
		return strings.Compare(a.Name+"/"+a.Location, b.Name+"/"+b.Location)
	})
	return resp, nil
}

// DeleteCluster starts a DELETE_CLUSTER operation; the cluster is STOPPING
// until its control plane is gone, then GetCluster answers NOT_FOUND.
func (s *Server) DeleteCluster(_ context.Context, req *containerpb.DeleteClusterRequest) (*containerpb.Operation, error) {
	ref, err := parseClusterAt("name", req.GetName(), req.GetProjectId(), req.GetZone(), req.GetClusterId())
	if err != nil {
		return nil, err
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
	// GKE deletes clusters in ERROR too; only a running operation blocks.
	if c.busy != "" {
		return nil, status.Errorf(codes.FailedPrecondition, "Cluster is running incompatible operation %s.", c.busy)
	}
	c.pb.Status = containerpb.Cluster_STOPPING
	for _, p := range c.pools {
		p.pb.Status = containerpb.NodePool_STOPPING
	}
	provisioned := c.provisioned
	return s.startLocked(opSpec{
		kind:    containerpb.Operation_DELETE_CLUSTER,
		cluster: c,
		target:  c.pb.SelfLink,
		work: func(ctx context.Context) error {
			if !provisioned {
				return nil
			}
			return opError("deprovisioning the control plane", s.opts.Provisioner.Deprovision(ctx, c.ref.cluster))
		},
		finish: func(err error) {
			if err != nil {
				c.pb.Status = containerpb.Cluster_ERROR
				c.pb.StatusMessage = status.Convert(err).Message()
				return
			}
			delete(s.clusters, c.ref.cluster)
		},
	}), nil
}

// UpdateCluster applies the ClusterUpdate fields the emulator models: the
// release channel, a node pool's autoscaling, and versions (the lab runs
// one Kubernetes version, so only that version is accepted). Any other
// field is refused as UNIMPLEMENTED rather than silently ignored.
func (s *Server) UpdateCluster(_ context.Context, req *containerpb.UpdateClusterRequest) (*containerpb.Operation, error) {
	ref, err := parseClusterAt("name", req.GetName(), req.GetProjectId(), req.GetZone(), req.GetClusterId())
	if err != nil {
		return nil, err
	}
	u := req.GetUpdate()
	if u == nil {
		return nil, missing(`"update"`)
	}
	if err := onlyFields(u, "ClusterUpdate", "desired_release_channel", "desired_node_pool_id",
		"desired_node_pool_autoscaling", "desired_node_version", "desired_master_version", "etag"); err != nil {
		return nil, err
	}
	if u.GetDesiredReleaseChannel() == nil && u.GetDesiredNodePoolAutoscaling() == nil &&
		u.GetDesiredNodeVersion() == "" && u.GetDesiredMasterVersion() == "" {
		return nil, status.Error(codes.InvalidArgument, "Update has no desired change.")
	}
	if err := checkVersion("update.desired_master_version", u.GetDesiredMasterVersion()); err != nil {
		return nil, err
	}
	if err := checkVersion("update.desired_node_version", u.GetDesiredNodeVersion()); err != nil {
		return nil, err
	}
	if err := checkAutoscaling(u.GetDesiredNodePoolAutoscaling(), "update.desired_node_pool_autoscaling"); err != nil {
		return nil, err
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
	kind := containerpb.Operation_UPDATE_CLUSTER
	switch {
	case u.GetDesiredMasterVersion() != "":
		kind = containerpb.Operation_UPGRADE_MASTER
	case u.GetDesiredNodeVersion() != "":
		kind = containerpb.Operation_UPGRADE_NODES
	}
	ch := change{kind: kind, target: c.pb.SelfLink}
	if u.GetDesiredNodePoolAutoscaling() != nil || u.GetDesiredNodeVersion() != "" {
		p, err := c.updatedPool(u.GetDesiredNodePoolId())
		if err != nil {
			return nil, err
		}
		next := p.clone()
		if a := u.GetDesiredNodePoolAutoscaling(); a != nil {
			next.pb.Autoscaling = proto.Clone(a).(*containerpb.NodePoolAutoscaling)
			next.perZone = boundedSize(p.perZone, a)
		}
		if err := s.checkQuotaLocked(c.ref.project, c.place.region, growth(next, p)); err != nil {
			return nil, err
		}
		ch.pool, ch.next = p, next
	}
	if rc := u.GetDesiredReleaseChannel(); rc != nil {
		ch.commit = func() { c.pb.ReleaseChannel = proto.Clone(rc).(*containerpb.ReleaseChannel) }
	}
	return s.startChangeLocked(c, ch), nil
}

// updatedPool is the pool a ClusterUpdate names; GKE lets a single-pool
// cluster leave desired_node_pool_id empty.
func (c *cluster) updatedPool(id string) (*nodePool, error) {
	if id == "" {
		if len(c.pools) != 1 {
			return nil, missing(`"update.desired_node_pool_id"`)
		}
		return c.pools[0], nil
	}
	_, p := c.pool(id)
	if p == nil {
		return nil, notFound(poolRef{c.ref, id})
	}
	return p, nil
}

// checkVersion accepts the versions a client may ask for when the lab runs
// only MasterVersion: empty (no change), "-" and "latest" (GKE's aliases for
// the default and newest), and MasterVersion or a prefix of it ("1.37").
func checkVersion(field, v string) error {
	if v == "" || v == "-" || v == "latest" || v == MasterVersion ||
		strings.HasPrefix(MasterVersion, v+".") || strings.HasPrefix(MasterVersion, v+"-") {
		return nil
	}
	return status.Errorf(codes.InvalidArgument,
		"%s: version %q is not available; the lab runs %s only.", field, v, MasterVersion)
}

// onlyFields refuses a message that sets fields outside allowed, naming them,
// so a client never believes the emulator applied a change it ignored.
func onlyFields(m proto.Message, what string, allowed ...string) error {
	var bad []string
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		if !slices.Contains(allowed, string(fd.Name())) {
			bad = append(bad, string(fd.Name()))
		}
		return true
	})
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	return status.Errorf(codes.Unimplemented, "The GKE emulator does not emulate %s fields %s.",
		what, strings.Join(bad, ", "))
}
