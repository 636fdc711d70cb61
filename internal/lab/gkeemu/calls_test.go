package gkeemu

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
)

// TestCreateClusterCalls: every CreateCluster call is recorded in arrival
// order, the refused ones too, since a client that asks twice has asked
// twice whatever GKE answered; other calls are not; the record may be read
// while calls arrive.
func TestCreateClusterCalls(t *testing.T) {
	s, c := startServer(t, newFake(), Options{})
	ctx := t.Context()
	s.SetQuota("europe-west4", Quota{CPUs: Unlimited, GPUs: 0})
	if got := s.CreateClusterCalls(); len(got) != 0 {
		t.Fatalf("CreateClusterCalls of a new server: %q, want none", got)
	}

	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: gpuCluster("west")})
	if err != nil {
		t.Fatal(err)
	}
	// Asked again while the first create runs, and once it is done.
	_, err = c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: gpuCluster("west")})
	wantCode(t, err, codes.AlreadyExists, "Already exists")
	mustSucceed(t, c, op, nil)
	_, err = c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-west1"), Cluster: gpuCluster("west")})
	wantCode(t, err, codes.AlreadyExists, "Already exists")
	// Refused for quota, as invalid, and without a cluster at all.
	_, err = c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("europe-west4"), Cluster: gpuCluster("eu")})
	wantCode(t, err, codes.ResourceExhausted, "Insufficient regional quota")
	_, err = c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-west9"), Cluster: gpuCluster("nowhere")})
	wantCode(t, err, codes.InvalidArgument, `Location "us-west9" does not exist.`)
	_, err = c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-west1")})
	wantCode(t, err, codes.InvalidArgument, `Required "cluster" not specified.`)
	// Not a create: not recorded.
	op, err = c.DeleteCluster(ctx, &containerpb.DeleteClusterRequest{Name: clusterName("us-west1", "west")})
	mustSucceed(t, c, op, err)

	want := []string{"west", "west", "west", "eu", "nowhere", ""}
	if diff := cmp.Diff(want, s.CreateClusterCalls()); diff != "" {
		t.Errorf("CreateClusterCalls (-want +got):\n%s", diff)
	}

	// The caller owns the slice returned.
	s.CreateClusterCalls()[0] = "changed"
	if got := s.CreateClusterCalls()[0]; got != "west" {
		t.Errorf("changing a returned slice changed the record: first call %q", got)
	}

	// Concurrent creates are all recorded; reading meanwhile is safe
	// (go test -race).
	const n = 8
	ops := make([]*containerpb.Operation, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			var err error
			ops[i], err = c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent("us-east1"), Cluster: gpuCluster(fmt.Sprintf("c%d", i))})
			if err != nil {
				t.Errorf("creating c%d: %v", i, err)
			}
		}()
		go func() {
			defer wg.Done()
			_ = s.CreateClusterCalls()
		}()
	}
	wg.Wait()
	for _, op := range ops {
		if op != nil {
			mustSucceed(t, c, op, nil)
		}
	}
	got := s.CreateClusterCalls()[len(want):]
	slices.Sort(got)
	var wantConcurrent []string
	for i := range n {
		wantConcurrent = append(wantConcurrent, fmt.Sprintf("c%d", i))
	}
	if diff := cmp.Diff(wantConcurrent, got); diff != "" {
		t.Errorf("CreateClusterCalls of concurrent creates (-want +got):\n%s", diff)
	}
}
