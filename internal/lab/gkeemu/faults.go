package gkeemu

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Unlimited is a Quota value that sets no limit.
const Unlimited = -1

// Quota is what one project may run in one region, summed over the nodes of
// its clusters there. Regions without a quota are unlimited.
type Quota struct {
	CPUs int64 // vCPUs, or Unlimited
	GPUs int64 // GPUs of any type, or Unlimited
}

// SetQuota limits every project in region; requests that would exceed it
// fail at once with RESOURCE_EXHAUSTED, as GKE's do.
func (s *Server) SetQuota(region string, q Quota) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quotas[region] = q
}

// usage is an amount of quota: what a project uses or a request adds.
type usage struct {
	cpus, gpus int64
	gpuTypes   []string // of the GPUs counted, for the quota's name
}

func (u *usage) add(p *nodePool, nodes int64) {
	if nodes <= 0 {
		return
	}
	u.cpus += nodes * p.shape.machine.VCPUs
	if p.shape.gpus > 0 {
		u.gpus += nodes * p.shape.gpus
		if !slices.Contains(u.gpuTypes, p.shape.gpuType) {
			u.gpuTypes = append(u.gpuTypes, p.shape.gpuType)
		}
	}
}

// gpuQuotaNames are the Compute Engine quota metrics of accelerator types.
var gpuQuotaNames = map[string]string{
	"nvidia-tesla-k80":      "NVIDIA_K80_GPUS",
	"nvidia-tesla-p4":       "NVIDIA_P4_GPUS",
	"nvidia-tesla-p100":     "NVIDIA_P100_GPUS",
	"nvidia-tesla-v100":     "NVIDIA_V100_GPUS",
	"nvidia-tesla-t4":       "NVIDIA_T4_GPUS",
	"nvidia-l4":             "NVIDIA_L4_GPUS",
	"nvidia-tesla-a100":     "NVIDIA_A100_GPUS",
	"nvidia-a100-80gb":      "NVIDIA_A100_80GB_GPUS",
	"nvidia-h100-80gb":      "NVIDIA_H100_GPUS",
	"nvidia-h100-mega-80gb": "NVIDIA_H100_MEGA_GPUS",
	"nvidia-h200-141gb":     "NVIDIA_H200_GPUS",
	"nvidia-b200":           "NVIDIA_B200_GPUS",
}

// checkQuotaLocked fails if adding req to what project already runs in
// region exceeds the region's quota. The emulator's GPU quota covers all
// types; the message names the requested type's metric, as GKE's does.
func (s *Server) checkQuotaLocked(project, region string, req usage) error {
	q, ok := s.quotas[region]
	if !ok {
		return nil
	}
	var used usage
	for _, c := range s.clusters {
		if c.ref.project != project || c.place.region != region {
			continue
		}
		for _, p := range c.pools {
			used.add(p, p.nodeCount())
		}
	}
	gpuName := "GPUS"
	if len(req.gpuTypes) == 1 && gpuQuotaNames[req.gpuTypes[0]] != "" {
		gpuName = gpuQuotaNames[req.gpuTypes[0]]
	}
	var short []string
	for _, r := range []struct {
		name            string
		limit, use, ask int64
	}{
		{"CPUS", q.CPUs, used.cpus, req.cpus},
		{gpuName, q.GPUs, used.gpus, req.gpus},
	} {
		if r.limit == Unlimited || r.ask == 0 || r.use+r.ask <= r.limit {
			continue
		}
		short = append(short, fmt.Sprintf(
			"resource %q: request requires '%d.0' and is short '%d.0'. project has a quota of '%d.0' with '%d.0' available. View and manage quotas at https://console.cloud.google.com/iam-admin/quotas?usage=USED&project=%s",
			r.name, r.ask, r.use+r.ask-r.limit, r.limit, max(0, r.limit-r.use), project))
	}
	switch len(short) {
	case 0:
		return nil
	case 1:
		return status.Errorf(codes.ResourceExhausted, "Insufficient regional quota to satisfy request: %s.", short[0])
	}
	var b strings.Builder
	for i, m := range short {
		fmt.Fprintf(&b, "\n\t(%d) insufficient regional quota to satisfy request: %s", i+1, m)
	}
	return status.Error(codes.ResourceExhausted, b.String()+".")
}

// failure is an injected failure waiting for its operation.
type failure struct {
	cluster string
	kind    containerpb.Operation_Type
	message string
}

// FailNextOperation makes the next operation of kind on the named cluster
// (short name) fail with message instead of doing its work; kind
// TYPE_UNSPECIFIED matches any operation. The operation still goes PENDING,
// RUNNING, then DONE with Error set (code INTERNAL). A failed create leaves
// the cluster in ERROR with no control plane, a failed delete leaves it in
// ERROR still running; a failed node pool or cluster update leaves the
// cluster RUNNING, and its node pool in ERROR, as GKE does when resizing
// fails, so the apiserver keeps serving.
func (s *Server) FailNextOperation(cluster string, kind containerpb.Operation_Type, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, failure{cluster, kind, message})
}

func (s *Server) takeFailureLocked(cluster string, kind containerpb.Operation_Type) error {
	for i, f := range s.failures {
		if f.cluster == cluster && (f.kind == containerpb.Operation_TYPE_UNSPECIFIED || f.kind == kind) {
			s.failures = slices.Delete(s.failures, i, i+1)
			return status.Error(codes.Internal, f.message)
		}
	}
	return nil
}

// StallReconciling puts the named cluster (short name) into RECONCILING
// with an operation of kind that GKE began at since and that does not end,
// as when GKE's upgrade of a control plane hangs: ListOperations and
// GetOperation report it RUNNING with that start time, and the cluster
// refuses other operations. The control plane keeps serving, as a regional
// cluster's does through an upgrade. release ends the operation (DONE, the
// cluster RUNNING again); stopping the server aborts it. A failure injected
// with FailNextOperation for the same kind ends it at once instead, as it
// would any operation. It fails unless the cluster is RUNNING and idle.
func (s *Server) StallReconciling(cluster string, kind containerpb.Operation_Type, since time.Time) (op string, release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clusters[cluster]
	switch {
	case s.stopped:
		err = errStopping
	case c == nil:
		err = errors.New("no such cluster")
	case kind == containerpb.Operation_TYPE_UNSPECIFIED:
		err = errors.New("the operation needs a type")
	default:
		err = c.checkIdle()
	}
	if err != nil {
		return "", nil, fmt.Errorf("stalling cluster %q in RECONCILING: %w", cluster, err)
	}
	released := make(chan struct{})
	c.pb.Status = containerpb.Cluster_RECONCILING
	pb := s.startLocked(opSpec{
		kind:    kind,
		cluster: c,
		target:  c.pb.SelfLink,
		work: func(ctx context.Context) error {
			select {
			case <-released:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		finish: func(error) { c.pb.Status = containerpb.Cluster_RUNNING },
	})
	// Begun long ago, it is past PENDING.
	stalled := s.operations[pb.Name].pb
	stalled.StartTime = timestamp(since)
	stalled.Status = containerpb.Operation_RUNNING
	var once sync.Once
	return pb.Name, func() { once.Do(func() { close(released) }) }, nil
}

// SetDark stops (dark) or restarts the apiserver of the named cluster (short
// name) through the provisioner. GKE keeps reporting the cluster RUNNING
// meanwhile, which is the point: clients must cope with a cluster the API
// says is fine but that does not answer. It fails while an operation runs on
// the cluster.
func (s *Server) SetDark(ctx context.Context, cluster string, dark bool) error {
	s.mu.Lock()
	c := s.clusters[cluster]
	var err error
	switch {
	case c == nil:
		err = errors.New("no such cluster")
	case c.cp == nil:
		err = fmt.Errorf("it has no control plane (status %s)", c.pb.Status)
	case c.busy != "":
		err = fmt.Errorf("%s is running on it", c.busy)
	}
	s.mu.Unlock()
	if err == nil {
		c.provisioning.Lock()
		err = s.opts.Provisioner.SetDark(ctx, cluster, dark)
		c.provisioning.Unlock()
	}
	if err != nil {
		return fmt.Errorf("setting cluster %q dark=%t: %w", cluster, dark, err)
	}
	return nil
}
