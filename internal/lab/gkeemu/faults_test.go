package gkeemu

import (
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
)

// TestStallReconciling: a stalled cluster is RECONCILING under a RUNNING
// operation with the start time asked for, through the real client, and
// refuses other work until released or the server stops.
func TestStallReconciling(t *testing.T) {
	s, c := startServer(t, newFake(), Options{})
	ctx := t.Context()
	cl := clusterName("us-west1", "west")
	since := time.Date(2026, 12, 1, 20, 10, 0, 0, time.UTC)

	if _, _, err := s.StallReconciling("west", containerpb.Operation_UPGRADE_MASTER, since); err == nil || !strings.Contains(err.Error(), "no such cluster") {
		t.Errorf("StallReconciling of a missing cluster: %v", err)
	}
	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: gpuCluster("west")})
	mustSucceed(t, c, op, err)
	if _, _, err := s.StallReconciling("west", containerpb.Operation_TYPE_UNSPECIFIED, since); err == nil {
		t.Error("StallReconciling without an operation type: no error")
	}

	id, release, err := s.StallReconciling("west", containerpb.Operation_UPGRADE_MASTER, since)
	if err != nil {
		t.Fatal(err)
	}
	// Past PendingFor and MinRunning, it still runs.
	time.Sleep(50 * time.Millisecond)
	got, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: cl})
	if err != nil || got.GetStatus() != containerpb.Cluster_RECONCILING || got.GetEndpoint() == "" {
		t.Errorf("stalled cluster: %v %q, %v; want RECONCILING, still serving", got.GetStatus(), got.GetEndpoint(), err)
	}
	ops, err := c.ListOperations(ctx, &containerpb.ListOperationsRequest{Parent: parent("us-west1")})
	if err != nil {
		t.Fatal(err)
	}
	var stalled *containerpb.Operation
	for _, o := range ops.GetOperations() {
		if o.GetName() == id {
			stalled = o
		}
	}
	if stalled.GetStatus() != containerpb.Operation_RUNNING || stalled.GetOperationType() != containerpb.Operation_UPGRADE_MASTER ||
		stalled.GetStartTime() != "2026-12-01T20:10:00Z" || stalled.GetTargetLink() != got.GetSelfLink() {
		t.Errorf("listed stalled operation %s: %v", id, stalled)
	}

	busy := "Cluster is running incompatible operation " + id + "."
	_, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: cl + "/nodePools/cpu", NodeCount: 2})
	wantCode(t, err, codes.FailedPrecondition, busy)
	if _, _, err := s.StallReconciling("west", containerpb.Operation_UPGRADE_MASTER, since); err == nil || !strings.Contains(err.Error(), busy) {
		t.Errorf("StallReconciling of a busy cluster: %v", err)
	}

	release()
	release() // harmless
	done, err := c.GetOperation(ctx, &containerpb.GetOperationRequest{Name: parent("us-west1") + "/operations/" + id})
	if err != nil {
		t.Fatal(err)
	}
	if done, _ = waitOp(t, c, done); done.GetError() != nil || done.GetStartTime() != "2026-12-01T20:10:00Z" {
		t.Errorf("released operation: %v", done)
	}
	if got, _ = c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: cl}); got.GetStatus() != containerpb.Cluster_RUNNING {
		t.Errorf("after release: %v, want RUNNING", got.GetStatus())
	}
	op, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: cl + "/nodePools/cpu", NodeCount: 2})
	mustSucceed(t, c, op, err)

	// Stopping the server aborts a stall never released.
	id, _, err = s.StallReconciling("west", containerpb.Operation_UPGRADE_MASTER, since)
	if err != nil {
		t.Fatal(err)
	}
	s.Stop()
	s.mu.Lock()
	final := s.operations[id].pb
	s.mu.Unlock()
	if final.GetStatus() != containerpb.Operation_DONE || final.GetError().GetCode() != int32(codes.Aborted) {
		t.Errorf("stalled operation after Stop: %v", final)
	}
	if _, _, err := s.StallReconciling("west", containerpb.Operation_UPGRADE_MASTER, since); err == nil {
		t.Error("StallReconciling after Stop: no error")
	}
}
