package gkeemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// MasterVersion is the GKE version every emulated cluster reports: the lab
// runs one pinned Kubernetes version.
const MasterVersion = "1.37.2-gke.100"

// Default operation timing: short, so tests are quick, yet long enough that
// a polling client sees PENDING and RUNNING.
const (
	defaultPendingFor = 50 * time.Millisecond
	defaultMinRunning = 50 * time.Millisecond
)

// Options configure a Server.
type Options struct {
	// Provisioner runs the control planes behind emulated clusters. Required.
	Provisioner Provisioner
	// PendingFor is how long an operation stays PENDING before its work
	// starts; 0 means 50ms.
	PendingFor time.Duration
	// MinRunning is the least time an operation stays RUNNING even when its
	// work is instant; 0 means 50ms.
	MinRunning time.Duration
	// Log receives a line per operation transition and autoscaler step,
	// like the lab's own log; nil discards.
	Log io.Writer
	// ScaleUpDelay is how long a pod waits unschedulable before the cluster
	// autoscaler adds nodes for it; 0 means 2s. ScaleDownIdle is how long a
	// node of an autoscaled pool runs no pods (DaemonSets' aside) before it
	// is removed; 0 means 30s. The autoscaler runs only with an
	// Autoscalable provisioner (see autoscaler.go).
	ScaleUpDelay, ScaleDownIdle time.Duration
}

// Server is the emulated ClusterManager service. It is safe for concurrent
// use; its fault-injection methods may be called while it serves.
type Server struct {
	containerpb.UnimplementedClusterManagerServer

	opts  Options
	grpc  *grpc.Server
	logMu sync.Mutex

	// ctx bounds every operation goroutine; Stop cancels it and waits on ops.
	ctx    context.Context
	cancel context.CancelFunc
	ops    sync.WaitGroup
	stop   sync.Once

	mu         sync.Mutex
	stopped    bool
	clusters   map[string]*cluster // by short name, unique in the emulator
	operations map[string]*operation
	opSeq      int
	quotas     map[string]Quota
	failures   []failure
	// createCalls is the cluster name of every CreateCluster request, in
	// arrival order; see CreateClusterCalls.
	createCalls []string
}

// New returns a Server; call Serve to accept connections.
func New(opts Options) *Server {
	if opts.PendingFor == 0 {
		opts.PendingFor = defaultPendingFor
	}
	if opts.MinRunning == 0 {
		opts.MinRunning = defaultMinRunning
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.ScaleUpDelay == 0 {
		opts.ScaleUpDelay = defaultScaleUpDelay
	}
	if opts.ScaleDownIdle == 0 {
		opts.ScaleDownIdle = defaultScaleDownIdle
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:       opts,
		grpc:       grpc.NewServer(),
		ctx:        ctx,
		cancel:     cancel,
		clusters:   map[string]*cluster{},
		operations: map[string]*operation{},
		quotas:     map[string]Quota{},
	}
	containerpb.RegisterClusterManagerServer(s.grpc, s)
	s.startAutoscaler()
	return s
}

// Serve answers gRPC on lis until Stop; it returns nil after Stop.
func (s *Server) Serve(lis net.Listener) error {
	return s.grpc.Serve(lis)
}

// Stop cancels running operations and the autoscaler, waits for them to
// end and closes every connection. It does not deprovision clusters: their
// control planes belong to the provisioner (the lab stops them). Stop is
// idempotent.
func (s *Server) Stop() {
	s.stop.Do(func() {
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		s.cancel()
		s.ops.Wait()
		s.grpc.Stop()
	})
}

// Start serves a new Server on a free loopback port and returns the address
// to put in GKE_EMULATOR_HOST. The server stops when ctx ends or on Stop.
func Start(ctx context.Context, opts Options) (*Server, string, error) {
	if opts.Provisioner == nil {
		return nil, "", errors.New("starting GKE emulator: Options.Provisioner is required")
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("starting GKE emulator: %w", err)
	}
	s := New(opts)
	go func() {
		if err := s.Serve(lis); err != nil {
			s.logf("stopped serving: %v", err)
		}
	}()
	context.AfterFunc(ctx, s.Stop)
	return s, lis.Addr().String(), nil
}

func (s *Server) logf(format string, args ...any) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.opts.Log, "gkeemu: "+format+"\n", args...)
}

// cluster is the emulator's record of one cluster.
type cluster struct {
	ref   clusterRef
	place place
	// zones are the node locations; see defaultZones.
	zones []string
	// pb is the resource as GKE returns it, less NodePools (kept in pools)
	// and the fields derived from the control plane.
	pb    *containerpb.Cluster
	pools []*nodePool
	// busy is the id of the operation running on the cluster, "" if none:
	// GKE runs one operation per cluster at a time.
	busy string
	// provisioned is set once Provision was called, even if it failed, so
	// deleting the cluster cleans up whatever it left.
	provisioned bool
	cp          *ControlPlane
	// provisioning serialises the provisioner's calls for the cluster: an
	// operation's work and the autoscaler's resizes, which do not make the
	// cluster busy (GKE's autoscaler blocks no operation).
	provisioning sync.Mutex
}

func (c *cluster) pool(name string) (int, *nodePool) {
	for i, p := range c.pools {
		if p.pb.Name == name {
			return i, p
		}
	}
	return -1, nil
}

// poolProtos are the resources of the cluster's pools but skip (nil: all).
func (c *cluster) poolProtos(skip *nodePool) []*containerpb.NodePool {
	var out []*containerpb.NodePool
	for _, p := range c.pools {
		if p != skip {
			out = append(out, p.pb)
		}
	}
	return out
}

// nodes is every node the cluster's pools call for, in pool order.
func (c *cluster) nodes() []NodePoolNodes { return c.nodesExcept(nil) }

// nodesExcept is nodes without skip's, for a pool being deleted.
func (c *cluster) nodesExcept(skip *nodePool) []NodePoolNodes {
	var out []NodePoolNodes
	for _, p := range c.pools {
		if p != skip {
			out = append(out, p.nodes()...)
		}
	}
	return out
}

// checkIdle refuses an operation while another runs or the cluster is not
// RUNNING (still provisioning, stopping, or broken).
func (c *cluster) checkIdle() error {
	if c.busy != "" {
		return status.Errorf(codes.FailedPrecondition, "Cluster is running incompatible operation %s.", c.busy)
	}
	if c.pb.Status != containerpb.Cluster_RUNNING {
		return status.Errorf(codes.FailedPrecondition, "Cluster %q is in %s state.", c.ref.cluster, c.pb.Status)
	}
	return nil
}

// lookupLocked finds a cluster by reference after checking its location.
func (s *Server) lookupLocked(ref clusterRef) (*cluster, error) {
	c := s.clusters[ref.cluster]
	if c == nil || c.ref != ref {
		return nil, notFound(ref)
	}
	return c, nil
}

// errStopping answers requests that arrive while the server shuts down.
var errStopping = status.Error(codes.Unavailable, "GKE emulator is stopping")
