package observe

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"

	"github.com/geofed-io/kubectl-geofed/internal/lab/gkeemu"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

func TestReconcilingTooLong(t *testing.T) {
	start := time.Date(2026, 12, 1, 20, 10, 0, 0, time.UTC)
	op := func(startTime string) *containerpb.Operation {
		return &containerpb.Operation{Name: "operation-12", OperationType: containerpb.Operation_UPGRADE_MASTER,
			Status: containerpb.Operation_RUNNING, StartTime: startTime}
	}
	const stamp = "2026-12-01T20:10:00Z"
	tests := []struct {
		name  string
		op    *containerpb.Operation
		after time.Duration // now, after start
		limit time.Duration
		want  string
	}{
		{name: "no operation: not judged", op: nil, after: 5 * time.Hour, limit: 30 * time.Minute},
		{name: "within the limit", op: op(stamp), after: 29 * time.Minute, limit: 30 * time.Minute},
		{name: "at the limit", op: op(stamp), after: 30 * time.Minute, limit: 30 * time.Minute},
		{
			name: "past the limit", op: op(stamp), after: 47 * time.Minute, limit: 30 * time.Minute,
			want: "GKE has been RECONCILING the cluster for 47m (operation operation-12 UPGRADE_MASTER, since 2026-12-01T20:10:00Z)",
		},
		{
			name: "fractional seconds, as the emulator writes them: to the minute, down",
			op:   op("2026-12-01T20:10:00.25Z"), after: 47 * time.Minute, limit: 30 * time.Minute,
			want: "GKE has been RECONCILING the cluster for 46m (operation operation-12 UPGRADE_MASTER, since 2026-12-01T20:10:00Z)",
		},
		{
			name: "an offset other than Z is shown in UTC",
			op:   op("2026-12-01T21:10:00+01:00"), after: 2*time.Hour + 5*time.Minute + 30*time.Second, limit: 30 * time.Minute,
			want: "GKE has been RECONCILING the cluster for 2h5m (operation operation-12 UPGRADE_MASTER, since 2026-12-01T20:10:00Z)",
		},
		{
			name: "whole hours", op: op(stamp), after: 3 * time.Hour, limit: 30 * time.Minute,
			want: "GKE has been RECONCILING the cluster for 3h (operation operation-12 UPGRADE_MASTER, since 2026-12-01T20:10:00Z)",
		},
		{
			name: "a limit under a minute counts seconds", op: op(stamp), after: 45 * time.Second, limit: 30 * time.Second,
			want: "GKE has been RECONCILING the cluster for 45s (operation operation-12 UPGRADE_MASTER, since 2026-12-01T20:10:00Z)",
		},
		{name: "no start time: not judged", op: op(""), after: 5 * time.Hour, limit: 30 * time.Minute},
		{name: "unreadable start time: not judged", op: op("yesterday"), after: 5 * time.Hour, limit: 30 * time.Minute},
		{name: "a start time in the future (clock skew)", op: op(stamp), after: -time.Minute, limit: 30 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reconcilingTooLong(tt.op, start.Add(tt.after), tt.limit); got != tt.want {
				t.Errorf("reconcilingTooLong = %q\nwant %q", got, tt.want)
			}
		})
	}
}

// fakeOperations is fakeGKE that also answers RunningOperation, by cluster
// name, and records what it was asked.
type fakeOperations struct {
	fakeGKE
	running map[string]*containerpb.Operation
	errs    map[string]error

	mu    sync.Mutex
	asked []string
}

func (f *fakeOperations) RunningOperation(_ context.Context, project, location, cluster string) (*containerpb.Operation, error) {
	f.mu.Lock()
	f.asked = append(f.asked, project+"/"+location+"/"+cluster)
	f.mu.Unlock()
	return f.running[cluster], f.errs[cluster]
}

const reconcilingTopology = `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: t}
spec:
  gke: {project: p}
  regions:
  - name: us-west1
    clusters:
    - name: stuck
      gke: {location: us-west1-b, nodePools: [{name: cpu, machineType: e2-standard-4, nodeCount: 1}]}
    - name: fresh
      gke: {location: us-west1-b, nodePools: [{name: cpu, machineType: e2-standard-4, nodeCount: 1}]}
    - name: steady
      gke: {location: us-west1-b, nodePools: [{name: cpu, machineType: e2-standard-4, nodeCount: 1}]}
    - name: unreadable
      gke: {location: us-west1, nodePools: [{name: cpu, machineType: e2-standard-4, nodeCount: 1}]}
    - name: idle
      gke: {location: us-west1, nodePools: [{name: cpu, machineType: e2-standard-4, nodeCount: 1}]}
    - name: starting
      gke: {location: us-west1, nodePools: [{name: cpu, machineType: e2-standard-4, nodeCount: 1}]}
`

func parseTopology(t *testing.T, file string) *topology.Topology {
	t.Helper()
	topo, err := topology.Options{IsDir: func(string) bool { return true }}.Parse("t.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// TestStuckReconciling: only clusters GKE reports RECONCILING and serving
// are asked about, in their own project and location; an operation that
// cannot be read, or none, leaves the cluster in.
func TestStuckReconciling(t *testing.T) {
	topo := parseTopology(t, reconcilingTopology)
	now := time.Date(2026, 12, 1, 20, 57, 0, 0, time.UTC)
	live := func(name, location string, s containerpb.Cluster_Status, endpoint string) *containerpb.Cluster {
		return &containerpb.Cluster{Name: name, Location: location, Status: s, Endpoint: endpoint,
			SelfLink: "https://container.googleapis.com/v1/" + gke.ResourceName("p", location, name)}
	}
	upgrade := func(since time.Time) *containerpb.Operation {
		return &containerpb.Operation{Name: "operation-12", OperationType: containerpb.Operation_UPGRADE_MASTER,
			Status: containerpb.Operation_RUNNING, StartTime: since.Format(time.RFC3339Nano)}
	}
	client := &fakeOperations{
		fakeGKE: fakeGKE{live: []*containerpb.Cluster{
			live("stuck", "us-west1-b", containerpb.Cluster_RECONCILING, "10.0.0.1"),
			live("fresh", "us-west1-b", containerpb.Cluster_RECONCILING, "10.0.0.2"),
			live("steady", "us-west1-b", containerpb.Cluster_RUNNING, "10.0.0.3"),
			live("unreadable", "us-west1", containerpb.Cluster_RECONCILING, "10.0.0.4"),
			live("idle", "us-west1", containerpb.Cluster_RECONCILING, "10.0.0.5"),
			// Reconciling without an endpoint is left out already.
			live("starting", "us-west1", containerpb.Cluster_RECONCILING, ""),
		}},
		running: map[string]*containerpb.Operation{
			"stuck":      upgrade(now.Add(-47 * time.Minute)),
			"fresh":      upgrade(now.Add(-2 * time.Minute)),
			"steady":     upgrade(now.Add(-47 * time.Minute)),
			"unreadable": upgrade(now.Add(-47 * time.Minute)),
			"starting":   upgrade(now.Add(-47 * time.Minute)),
		},
		errs: map[string]error{"unreadable": errors.New("PERMISSION_DENIED")},
	}
	states, _, err := liveGKE(t.Context(), topo, client)
	if err != nil {
		t.Fatal(err)
	}

	got := stuckReconciling(t.Context(), client, states, 30*time.Minute, now)
	want := map[string]string{
		"stuck": "GKE has been RECONCILING the cluster for 47m (operation operation-12 UPGRADE_MASTER, since 2026-12-01T20:10:00Z)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stuckReconciling (-want +got):\n%s", diff)
	}
	slices.Sort(client.asked)
	wantAsked := []string{"p/us-west1-b/fresh", "p/us-west1-b/stuck", "p/us-west1/idle", "p/us-west1/unreadable"}
	if diff := cmp.Diff(wantAsked, client.asked); diff != "" {
		t.Errorf("RunningOperation calls (-want +got):\n%s", diff)
	}

	// A shorter limit catches the fresh one too.
	got = stuckReconciling(t.Context(), client, states, time.Minute, now)
	if !strings.Contains(got["fresh"], "for 2m ") || len(got) != 2 {
		t.Errorf("with a 1m limit: %q, want stuck and fresh", got)
	}
	// A GKE that cannot list operations judges nothing.
	if got := stuckReconciling(t.Context(), client.fakeGKE, states, time.Minute, now); len(got) != 0 {
		t.Errorf("without RunningOperation: %q, want nothing", got)
	}
}

// unservedProvisioner gives every emulated cluster a control plane whose
// credentials do not load, so connecting fails at once, without a lab:
// what is tested is what GKE says, through the real client.
type unservedProvisioner struct{}

const notACertificate = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"

func (unservedProvisioner) Provision(context.Context, string, []gkeemu.NodePoolNodes) (gkeemu.ControlPlane, error) {
	return gkeemu.ControlPlane{Endpoint: "127.0.0.1:1", CAData: []byte(notACertificate),
		ClientCertData: []byte(notACertificate), ClientKeyData: []byte(notACertificate)}, nil
}
func (unservedProvisioner) Resize(context.Context, string, []gkeemu.NodePoolNodes) error { return nil }
func (unservedProvisioner) Deprovision(context.Context, string) error                    { return nil }
func (unservedProvisioner) SetDark(context.Context, string, bool) error                  { return nil }

// TestObserveReconcilingOnEmulator: through the real container client, a
// cluster GKE has been upgrading for 47 minutes is left out of placement
// with GKE's operation named, before (and instead of) its connection error;
// one upgrading for 2 minutes is not, unless the limit is shorter; released,
// the stuck one is back.
func TestObserveReconcilingOnEmulator(t *testing.T) {
	emu, addr, err := gkeemu.Start(t.Context(), gkeemu.Options{Provisioner: unservedProvisioner{},
		PendingFor: 10 * time.Millisecond, MinRunning: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Stop)
	client, err := gke.NewClient(t.Context(), gke.ClientOptions{EmulatorHost: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })

	topo := parseTopology(t, `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: t}
spec:
  gke: {project: p}
  regions:
  - name: us-west1
    clusters:
    - name: stuck
      gke: {location: us-west1-b, nodePools: [{name: cpu, machineType: e2-standard-4, nodeCount: 1}]}
    - name: fresh
      gke: {location: us-west1, nodePools: [{name: cpu, machineType: e2-standard-4, nodeCount: 1}]}
    - name: steady
      gke: {location: us-west1-b, nodePools: [{name: cpu, machineType: e2-standard-4, nodeCount: 1}]}
`)
	for _, ref := range topo.Clusters() {
		d := gke.Desired(topo, ref)
		op, err := client.CreateCluster(t.Context(), d)
		if err != nil {
			t.Fatal(err)
		}
		if err := client.WaitOperation(t.Context(), "p", d.GetLocation(), op, nil); err != nil {
			t.Fatal(err)
		}
	}
	since := time.Now().Add(-47 * time.Minute).Truncate(time.Second)
	stuckOp, release, err := emu.StallReconciling("stuck", containerpb.Operation_UPGRADE_MASTER, since)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := emu.StallReconciling("fresh", containerpb.Operation_UPGRADE_NODES, time.Now().Add(-2*time.Minute)); err != nil {
		t.Fatal(err)
	}

	observe := func(limit time.Duration) map[string]string {
		t.Helper()
		obs, err := Observe(t.Context(), Options{Topology: topo, GKE: client, ReconcilingLimit: limit})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, c := range obs.Clusters {
			got[c.Name] = c.Unreachable
			if l := obs.LeftOut(c.Name); strings.HasPrefix(c.Unreachable, "GKE has been RECONCILING") && l.Reason != GKEReconciling {
				t.Errorf("%s left out as %q, want %q", c.Name, l.Reason, GKEReconciling)
			}
			if obs.LeftOut(c.Name).String() != c.Unreachable {
				t.Errorf("LeftOut(%s) = %q, placement has %q", c.Name, obs.LeftOut(c.Name), c.Unreachable)
			}
		}
		return got
	}
	reconciling := func(why string) bool { return strings.HasPrefix(why, "GKE has been RECONCILING") }

	got := observe(0) // the default, 30m
	want := "GKE has been RECONCILING the cluster for 47m (operation " + stuckOp + " UPGRADE_MASTER, since " + since.UTC().Format(time.RFC3339) + ")"
	if got["stuck"] != want {
		t.Errorf("stuck cluster excluded for\n%q\nwant\n%q", got["stuck"], want)
	}
	for _, name := range []string{"fresh", "steady"} {
		if reconciling(got[name]) || got[name] == "" {
			t.Errorf("%s excluded for %q, want only its connection error", name, got[name])
		}
	}

	got = observe(time.Minute)
	if !reconciling(got["stuck"]) || !strings.HasPrefix(got["fresh"], "GKE has been RECONCILING the cluster for 2m (operation ") ||
		!strings.Contains(got["fresh"], " UPGRADE_NODES, since ") || reconciling(got["steady"]) {
		t.Errorf("with a 1m limit: %q", got)
	}

	release()
	deadline := time.Now().Add(10 * time.Second)
	for {
		live, err := client.GetCluster(t.Context(), "p", "us-west1-b", "stuck")
		if err != nil {
			t.Fatal(err)
		}
		if live.GetStatus() == containerpb.Cluster_RUNNING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("released cluster still %v", live.GetStatus())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := observe(0); reconciling(got["stuck"]) {
		t.Errorf("released cluster excluded for %q", got["stuck"])
	}
}
