package gke

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/geofed-io/kubectl-geofed/internal/lab/gkeemu"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

// tlsProvisioner gives every emulated cluster the same control plane: a
// loopback TLS server that answers with the caller's identity (startServer).
// It lets the emulator's MasterAuth be checked end to end without a lab.
type tlsProvisioner struct{ cp gkeemu.ControlPlane }

func (p *tlsProvisioner) Provision(context.Context, string, []gkeemu.NodePoolNodes) (gkeemu.ControlPlane, error) {
	return p.cp, nil
}
func (p *tlsProvisioner) Resize(context.Context, string, []gkeemu.NodePoolNodes) error { return nil }
func (p *tlsProvisioner) Deprovision(context.Context, string) error                    { return nil }
func (p *tlsProvisioner) SetDark(context.Context, string, bool) error                  { return nil }

// startEmulator starts a GKE emulator whose clusters are served by a TLS
// server with pki's certificates, and a Client for it.
func startEmulator(t *testing.T, pki *testPKI) (*gkeemu.Server, *Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv := startServer(t, pki)
	prov := &tlsProvisioner{cp: gkeemu.ControlPlane{
		Endpoint: srv.URL, CAData: pki.caPEM, ClientCertData: pki.clientCertPEM, ClientKeyData: pki.clientKeyPEM,
	}}
	emu, addr, err := gkeemu.Start(ctx, gkeemu.Options{Provisioner: prov})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(ctx, ClientOptions{EmulatorHost: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return emu, c
}

// create creates desired in the emulator as apply will, and waits for the
// operation to end.
func create(t *testing.T, c *Client, desired *containerpb.Cluster) {
	t.Helper()
	ctx := context.Background()
	parent := "projects/" + Project(desired) + "/locations/" + desired.GetLocation()
	op, err := c.cm.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: desired})
	if err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	waitOperation(t, c, parent+"/operations/"+op.GetName())
}

func waitOperation(t *testing.T, c *Client, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		op, err := c.cm.GetOperation(ctx, &containerpb.GetOperationRequest{Name: name})
		if err != nil {
			t.Fatalf("GetOperation: %v", err)
		}
		if op.GetStatus() == containerpb.Operation_DONE {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("operation %s not done: %v", name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestClientAgainstEmulator(t *testing.T) {
	pki := newTestPKI(t)
	_, c := startEmulator(t, pki)
	ctx := context.Background()
	tp := exampleTopology()
	desired := Desired(tp, tp.Clusters()[0])

	got, err := c.GetCluster(ctx, "acme-ml", "us-west1", "training-us")
	if err != nil || got != nil {
		t.Fatalf("GetCluster(missing) = %v, %v; want nil, nil", got, err)
	}
	list, err := c.ListClusters(ctx, "acme-ml")
	if err != nil || len(list) != 0 {
		t.Fatalf("ListClusters(empty project) = %v, %v; want none", list, err)
	}

	create(t, c, desired)

	live, err := c.GetCluster(ctx, "acme-ml", "us-west1", "training-us")
	if err != nil {
		t.Fatalf("GetCluster: %v", err)
	}
	if live.GetStatus() != containerpb.Cluster_RUNNING {
		t.Fatalf("status = %s, want RUNNING", live.GetStatus())
	}
	if Project(live) != "acme-ml" {
		t.Errorf("Project(live) = %q, want acme-ml", Project(live))
	}

	// What Desired asks for is what GKE then reports: the plan after an
	// apply is empty. The nodes are those the pools were created with, in
	// the zone the emulator put them.
	zone := live.GetNodePools()[0].GetLocations()[0]
	nodes := NodeCounts{"cpu": {zone: 1}, "a100": {zone: 0}}
	if ch := Diff(desired, live, nodes); ch.Action != object.ActionNoop {
		t.Errorf("Diff(desired, created) = %+v, want noop", ch)
	}

	// The emulator's MasterAuth reaches the control plane with its client
	// certificate.
	cfg, err := RESTConfig(live, nil)
	if err != nil {
		t.Fatalf("RESTConfig: %v", err)
	}
	if who := whoAmI(t, cfg); who != "cert:admin" {
		t.Errorf("control plane saw %q, want cert:admin", who)
	}

	// A zonal cluster of another topology, and one in another project.
	other := exampleDesired()
	other.Name, other.Location = "inference", "europe-west4-a"
	other.SelfLink = selfLinkPrefix + ResourceName("acme-ml", other.Location, other.Name)
	other.ResourceLabels[LabelTopology] = "other-platform"
	create(t, c, other)
	elsewhere := exampleDesired()
	elsewhere.Name = "research"
	elsewhere.SelfLink = selfLinkPrefix + ResourceName("acme-research", "us-west1", "research")
	create(t, c, elsewhere)

	list, err = c.ListClusters(ctx, "acme-ml")
	if err != nil {
		t.Fatalf("ListClusters: %v", err)
	}
	var names []string
	for _, cl := range list {
		names = append(names, Project(cl)+"/"+cl.GetLocation()+"/"+cl.GetName())
	}
	if d := cmp.Diff([]string{"acme-ml/europe-west4-a/inference", "acme-ml/us-west1/training-us"}, names); d != "" {
		t.Errorf("ListClusters mismatch (-want +got):\n%s", d)
	}
	if orphans := Orphans(tp, list); len(orphans) != 0 {
		t.Errorf("Orphans = %+v, want none", orphans)
	}
	tp.Spec.Regions[0].Clusters = nil
	want := []ClusterChange{{
		Region: "us-west1", Project: "acme-ml", Location: "us-west1", Cluster: "training-us",
		Action: object.ActionAttention, Reasons: []string{ReasonOrphan},
	}}
	if d := cmp.Diff(want, Orphans(tp, list)); d != "" {
		t.Errorf("Orphans after removing training-us from the file (-want +got):\n%s", d)
	}
}

// TestClientFailedCreate: a create GKE failed leaves the cluster in ERROR,
// which the plan shows as needing attention with GKE's message.
func TestClientFailedCreate(t *testing.T) {
	emu, c := startEmulator(t, newTestPKI(t))
	tp := exampleTopology()
	desired := Desired(tp, tp.Clusters()[0])
	emu.FailNextOperation("training-us", containerpb.Operation_CREATE_CLUSTER, "insufficient regional capacity for a2-highgpu-1g")
	create(t, c, desired)

	live, err := c.GetCluster(context.Background(), "acme-ml", "us-west1", "training-us")
	if err != nil {
		t.Fatal(err)
	}
	ch := Diff(desired, live, nil)
	if ch.Action != object.ActionAttention || len(ch.Reasons) != 1 ||
		!strings.HasPrefix(ch.Reasons[0], "GKE reports status ERROR: ") ||
		!strings.Contains(ch.Reasons[0], "insufficient regional capacity for a2-highgpu-1g") {
		t.Errorf("Diff(desired, failed) = %+v, want attention with GKE's message", ch)
	}
}

func TestClientErrors(t *testing.T) {
	_, c := startEmulator(t, newTestPKI(t))
	_, err := c.GetCluster(context.Background(), "acme-ml", "mars-north1", "training-us")
	if err == nil {
		t.Fatal("GetCluster in an unknown location succeeded")
	}
	const prefix = "getting GKE cluster projects/acme-ml/locations/mars-north1/clusters/training-us: "
	if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), `"mars-north1"`) {
		t.Errorf("error = %q, want it to start %q and carry GKE's message", err, prefix)
	}
	if code := status.Code(err); code != codes.InvalidArgument {
		t.Errorf("status.Code = %s, want InvalidArgument", code)
	}
	var ae *apierror.APIError
	if !errors.As(err, &ae) {
		t.Errorf("errors.As(*apierror.APIError) failed on %T", err)
	}
}

// TestAPIErrorHints: the codes people act on get a hint, and the code stays
// inspectable.
func TestAPIErrorHints(t *testing.T) {
	tests := []struct {
		code     codes.Code
		emulator string
		want     string
	}{
		{codes.ResourceExhausted, "", "creating GKE cluster projects/p/locations/l/clusters/c: GKE quota or rate limit exceeded " +
			"(RESOURCE_EXHAUSTED); raise the quota in the Cloud console or retry later: the message"},
		{codes.PermissionDenied, "", "creating GKE cluster projects/p/locations/l/clusters/c: permission denied (PERMISSION_DENIED); " +
			"the credentials need GKE permissions on the project (roles/container.viewer to plan, roles/container.admin to apply): the message"},
		{codes.Unauthenticated, "", "creating GKE cluster projects/p/locations/l/clusters/c: not authenticated (UNAUTHENTICATED); " +
			"run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS: the message"},
		{codes.Unavailable, "", "creating GKE cluster projects/p/locations/l/clusters/c: the GKE API is unavailable (UNAVAILABLE); " +
			"check the network and retry: the message"},
		{codes.Unavailable, "127.0.0.1:4000", "creating GKE cluster projects/p/locations/l/clusters/c: the GKE emulator at " +
			"127.0.0.1:4000 is unavailable (UNAVAILABLE); is the lab running?: the message"},
		{codes.AlreadyExists, "", "creating GKE cluster projects/p/locations/l/clusters/c: the message"},
	}
	for _, tt := range tests {
		t.Run(tt.code.String(), func(t *testing.T) {
			// As the client returns it: a gRPC status inside an apierror.
			grpcErr, _ := apierror.FromError(status.Error(tt.code, "the message"))
			err := (&Client{emulatorHost: tt.emulator}).apiError("creating GKE cluster projects/p/locations/l/clusters/c", grpcErr)
			if err.Error() != tt.want {
				t.Errorf("error = %q\nwant      %q", err, tt.want)
			}
			if got := status.Code(err); got != tt.code {
				t.Errorf("status.Code = %s, want %s", got, tt.code)
			}
			if s, ok := status.FromError(err); !ok || s.Code() != tt.code {
				t.Errorf("status.FromError = %v, %v; want code %s", s, ok, tt.code)
			}
		})
	}
	// An error with no gRPC status keeps its own text.
	err := (&Client{}).apiError("listing GKE clusters in projects/p/locations/-", context.DeadlineExceeded)
	if got, want := err.Error(), "listing GKE clusters in projects/p/locations/-: context deadline exceeded"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("errors.Is(context.DeadlineExceeded) failed")
	}
}

func TestTokenSourceUnderEmulator(t *testing.T) {
	ts, err := TokenSource(context.Background(), ClientOptions{EmulatorHost: "127.0.0.1:1"})
	if ts != nil || err != nil {
		t.Errorf("TokenSource(emulator) = %v, %v; want nil, nil", ts, err)
	}
}
