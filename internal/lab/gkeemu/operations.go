package gkeemu

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// operation is one long-running operation. Its pb.Name is the short id
// ("operation-7"), as in GKE; clients read it with GetOperation on
// "projects/P/locations/L/operations/operation-7".
type operation struct {
	ref operationRef
	seq int
	pb  *containerpb.Operation
}

// opSpec is what a long-running operation does. The emulator runs it as
// PENDING for Options.PendingFor, then RUNNING while work runs (at least
// Options.MinRunning), then DONE, with Error set if work failed.
type opSpec struct {
	kind    containerpb.Operation_Type
	cluster *cluster
	target  string // selfLink of the resource operated on
	// work does the operation's I/O without the server lock; nil if none.
	work func(ctx context.Context) error
	// finish records the outcome under the server lock; err is nil on
	// success. It runs before the cluster is released for the next operation.
	finish func(err error)
}

// startLocked registers an operation on spec.cluster and runs it in the
// background. The caller holds s.mu and has checked the cluster is idle.
func (s *Server) startLocked(spec opSpec) *containerpb.Operation {
	c := spec.cluster
	s.opSeq++
	id := "operation-" + strconv.Itoa(s.opSeq)
	op := &operation{
		ref: operationRef{c.ref.parentRef, id},
		seq: s.opSeq,
		pb: &containerpb.Operation{
			Name:          id,
			Zone:          c.ref.location,
			Location:      c.ref.location,
			OperationType: spec.kind,
			Status:        containerpb.Operation_PENDING,
			TargetLink:    spec.target,
			StartTime:     timestamp(time.Now()),
		},
	}
	op.pb.SelfLink = selfLink(op.ref)
	s.operations[id] = op
	c.busy = id
	injected := s.takeFailureLocked(c.ref.cluster, spec.kind)
	s.logf("%s %s %s: PENDING", id, spec.kind, c.ref)

	work := spec.work
	if work != nil {
		work = func(ctx context.Context) error {
			c.provisioning.Lock()
			defer c.provisioning.Unlock()
			return spec.work(ctx)
		}
	}
	s.ops.Add(1)
	go func() {
		defer s.ops.Done()
		err := s.runOp(op, injected, work)
		s.mu.Lock()
		defer s.mu.Unlock()
		spec.finish(err)
		c.busy = ""
		op.pb.Status = containerpb.Operation_DONE
		op.pb.EndTime = timestamp(time.Now())
		if err != nil {
			st := status.Convert(err)
			op.pb.Error = st.Proto()
			op.pb.StatusMessage = st.Message()
			op.pb.Detail = st.Message()
		}
		if err != nil {
			s.logf("%s %s %s: DONE with error: %s", id, spec.kind, c.ref, op.pb.StatusMessage)
		} else {
			s.logf("%s %s %s: DONE", id, spec.kind, c.ref)
		}
	}()
	return proto.Clone(op.pb).(*containerpb.Operation)
}

// runOp moves op to RUNNING after the pending delay and does its work; an
// injected failure replaces the work, so a failed create leaves nothing
// running. The error it returns is a gRPC status error.
func (s *Server) runOp(op *operation, injected error, work func(context.Context) error) error {
	ctx := s.ctx
	if err := sleep(ctx, s.opts.PendingFor); err != nil {
		return abortedErr()
	}
	s.mu.Lock()
	op.pb.Status = containerpb.Operation_RUNNING
	s.mu.Unlock()
	s.logf("%s: RUNNING", op.pb.Name)
	started := time.Now()

	err := injected
	if err == nil && work != nil {
		err = work(ctx)
	}
	if ctx.Err() != nil {
		return abortedErr()
	}
	if err := sleep(ctx, s.opts.MinRunning-time.Since(started)); err != nil {
		return abortedErr()
	}
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Internal, err.Error())
}

func abortedErr() error {
	return status.Error(codes.Aborted, "Operation aborted: the GKE emulator is stopping.")
}

// sleep waits d, or less if ctx ends first (then it returns ctx's error).
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// timestamp formats t as GKE does in operations: RFC 3339 UTC with nanos.
func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// GetOperation returns an operation by its resource name.
func (s *Server) GetOperation(_ context.Context, req *containerpb.GetOperationRequest) (*containerpb.Operation, error) {
	ref, err := parseOperation(req.GetName(), req.GetProjectId(), req.GetZone(), req.GetOperationId())
	if err != nil {
		return nil, err
	}
	if _, err := resolveLocation(ref.location); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	op := s.operations[ref.op]
	if op == nil || op.ref != ref {
		return nil, notFound(ref)
	}
	return proto.Clone(op.pb).(*containerpb.Operation), nil
}

// ListOperations lists a location's operations, oldest first; location "-"
// lists the whole project's.
func (s *Server) ListOperations(_ context.Context, req *containerpb.ListOperationsRequest) (*containerpb.ListOperationsResponse, error) {
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
	var ops []*operation
	for _, op := range s.operations {
		if op.ref.project == parent.project && (parent.location == "-" || op.ref.location == parent.location) {
			ops = append(ops, op)
		}
	}
	slices.SortFunc(ops, func(a, b *operation) int { return a.seq - b.seq })
	resp := &containerpb.ListOperationsResponse{}
	for _, op := range ops {
		resp.Operations = append(resp.Operations, proto.Clone(op.pb).(*containerpb.Operation))
	}
	return resp, nil
}

// opError turns a provisioner error into the status an operation reports.
func opError(doing string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return abortedErr()
	}
	return status.Error(codes.Internal, fmt.Sprintf("%s: %v", doing, err))
}
