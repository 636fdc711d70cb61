package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	hubstatus "github.com/geofed-io/kubectl-geofed/pkg/hub/status"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

func hubOptions() StatusOptions {
	return StatusOptions{Hub: "hub", HubNamespace: defaultHubNamespace, Interval: DefaultStatusInterval,
		fleetFlags: fleetFlags{Refresh: "inventory", Parallel: member.DefaultParallel, RequestTimeout: 5 * time.Second}}
}

func TestHubStatusValidate(t *testing.T) {
	tests := []struct {
		name    string
		modify  func(*StatusOptions)
		wantErr string // "" = valid
	}{
		{name: "defaults", modify: func(*StatusOptions) {}},
		{name: "one topology", modify: func(o *StatusOptions) { o.Topology = "fleet" }},
		{name: "json", modify: func(o *StatusOptions) { o.Output = "json" }},
		{name: "yaml --watch", modify: func(o *StatusOptions) { o.Output, o.Watch = "yaml", true }},
		{name: "-f and --hub", modify: func(o *StatusOptions) { o.Filename = "topology.yaml" }, wantErr: "-f reads the fleet from the members, --hub what the control plane reports: use one or the other"},
		{name: "--topology without --hub", modify: func(o *StatusOptions) { o.Hub, o.Filename, o.Topology = "", "topology.yaml", "fleet" }, wantErr: "--topology names a Topology in a hub: it needs --hub CONTEXT"},
		{name: "html", modify: func(o *StatusOptions) { o.Output = "html" }, wantErr: `with --hub, --output must be json or yaml, not "html"`},
		{name: "no namespace", modify: func(o *StatusOptions) { o.HubNamespace = "" }, wantErr: "--hub-namespace must not be empty"},
		{name: "watch too often", modify: func(o *StatusOptions) { o.Watch, o.Interval = true, 100*time.Millisecond }, wantErr: "--interval must be at least 1s, not 100ms"},
		{name: "full refresh", modify: func(o *StatusOptions) { o.Refresh = "full" }, wantErr: "--refresh=full dry-runs against the members"},
		{name: "adopt", modify: func(o *StatusOptions) { o.Adopt = true }, wantErr: "--adopt does not apply"},
		{name: "request timeout 0", modify: func(o *StatusOptions) { o.RequestTimeout = 0 }, wantErr: "--request-timeout must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := hubOptions()
			tt.modify(&o)
			err := o.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("Validate() = nil, want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("Validate() = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
	// Without --hub, a missing -f says --hub is the other way.
	var o StatusOptions
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "or --hub CONTEXT") {
		t.Errorf("Validate() without -f or --hub = %v, want it to mention --hub", err)
	}
}

func TestHubStatusFlags(t *testing.T) {
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	cmd := NewStatusCommand(nil, streams)
	if got := cmd.Flags().Lookup("hub-namespace").DefValue; got != "geofed-system" {
		t.Errorf("--hub-namespace defaults to %q, want geofed-system (push's)", got)
	}
	if err := cmd.ParseFlags([]string{"--hub", "h", "--hub-namespace", "cp", "--topology", "fleet"}); err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{"hub": "h", "hub-namespace": "cp", "topology": "fleet"} {
		if got := cmd.Flags().Lookup(flag).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", flag, got, want)
		}
	}
	if !strings.Contains(cmd.Long, "Exit codes with --hub: 0 when") {
		t.Error("the help does not document the exit codes of --hub")
	}
}

// The exit code is the verdict's: 0 when every Topology is OK, 2 naming
// each one that is not and why.
func TestHubStatusExitFor(t *testing.T) {
	good := healthyTopology("good")
	bad := healthyTopology("bad")
	setCondition(bad, v1alpha1.ConditionSynced, metav1.ConditionFalse, "Drifted", "plan: 0 objects to create, 1 to change, 0 to delete")
	never := healthyTopology("never")
	never.Status = v1alpha1.TopologyStatus{}

	now := time.Now()
	if err := hubExitFor(hubstatus.Build("hub", "ns", now, []v1alpha1.Topology{*good})); err != nil {
		t.Errorf("all OK: %v, want nil (exit 0)", err)
	}
	err := hubExitFor(hubstatus.Build("hub", "ns", now, []v1alpha1.Topology{*good, *bad, *never}))
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 2 {
		t.Fatalf("not OK: %v, want an ExitError with code 2", err)
	}
	want := "topology bad is not ready and synced: Synced is False (Drifted); topology never is not ready and synced: no status yet: the controller has not reconciled it"
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
}

// A hub that cannot be reached, or a context that does not exist, is an
// error (exit 1) naming the hub.
func TestHubStatusUnreachable(t *testing.T) {
	kubeconfig := writeJoinKubeconfig(t, refusedServer(t), "hub")
	for _, tc := range []struct {
		hub, want string
	}{
		{"hub", "reading Topologies in namespace geofed-system of hub hub: "},
		{"nowhere", "hub nowhere: "},
	} {
		t.Run(tc.hub, func(t *testing.T) {
			code, out, errOut := runStatus(t, "--kubeconfig", kubeconfig, "status", "--hub", tc.hub)
			if code != 1 || !strings.Contains(errOut, "error: "+tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", code, errOut, tc.want)
			}
			if out != "" {
				t.Errorf("printed %q, want nothing", out)
			}
		})
	}
}

// A hub that accepts connections and never answers is given up on after
// --request-timeout, not waited for.
func TestHubStatusHangingHub(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // held open, unanswered, until the test ends
		}
	}()
	kubeconfig := writeJoinKubeconfig(t, "https://"+l.Addr().String(), "hub")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	code, _, errOut := runStatusContext(ctx, "--kubeconfig", kubeconfig, "status", "--hub", "hub", "--request-timeout", "1s")
	// client-go gives up a TLS handshake after 10s of its own.
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("gave up after %s, want about --request-timeout (1s)", elapsed)
	}
	if code != 1 || !strings.Contains(errOut, "error: reading Topologies in namespace geofed-system of hub hub: ") {
		t.Errorf("exit %d, stderr %q; want exit 1 naming the hub", code, errOut)
	}
}

// runStatus runs the command tree as main does and returns the exit code
// and what was printed.
func runStatus(t *testing.T, args ...string) (code int, out, errOut string) {
	t.Helper()
	return runStatusContext(t.Context(), args...)
}

func runStatusContext(ctx context.Context, args ...string) (code int, out, errOut string) {
	streams, _, outBuf, errBuf := genericiooptions.NewTestIOStreams()
	cmd := NewRootCommand(streams)
	cmd.SetArgs(args)
	code = exitCode(cmd.ExecuteContext(ctx), streams)
	return code, outBuf.String(), errBuf.String()
}

// healthyTopology is a Topology of two members, m1 and m2, as the
// controller leaves it after an apply with every workload ready.
func healthyTopology(name string) *v1alpha1.Topology {
	top, err := topology.Options{IsDir: func(string) bool { return true }}.Parse("topology.yaml", []byte(`apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: `+name+`}
spec:
  regions:
  - name: us-west1
    clusters:
    - name: m1
      kubeconfig: {context: m1}
  - name: europe-west1
    clusters:
    - name: m2
      kubeconfig: {context: m2}
  workloads:
  - name: web
    source: apps/web
    placement:
      replicas: {total: 4, divideBy: weight}
`))
	if err != nil {
		panic(err)
	}
	topo := &v1alpha1.Topology{
		ObjectMeta: metav1.ObjectMeta{Namespace: defaultHubNamespace, Name: name, Generation: 1},
		Spec:       v1alpha1.TopologySpec{Spec: top.Spec},
	}
	healthyStatus(topo)
	return topo
}

// healthyStatus writes what a reconcile that applied everything writes.
func healthyStatus(topo *v1alpha1.Topology) {
	planned := metav1.NewTime(time.Now().Add(-10 * time.Second).Truncate(time.Second))
	applied := metav1.NewTime(planned.Add(3 * time.Second))
	topo.Status = v1alpha1.TopologyStatus{
		ObservedGeneration: topo.Generation,
		LastPlanTime:       &planned,
		LastPlan:           &v1alpha1.PlanSummary{ObjectsToChange: 1},
		LastApplyTime:      &applied,
		Placements:         []v1alpha1.WorkloadPlacement{{Workload: "web", Replicas: map[string]int32{"m1": 2, "m2": 2}}},
		Clusters: []v1alpha1.ClusterStatus{
			{Name: "m1", Region: "us-west1", Reachable: true, InSync: 3, Applied: 1, Ready: true},
			{Name: "m2", Region: "europe-west1", Reachable: true, InSync: 3, Ready: true},
		},
	}
	setCondition(topo, v1alpha1.ConditionSynced, metav1.ConditionTrue, "Applied", "every reachable member holds what the topology renders for it")
	setCondition(topo, v1alpha1.ConditionReady, metav1.ConditionTrue, "Ready", "applied; every workload is ready")
	setCondition(topo, v1alpha1.ConditionDegraded, metav1.ConditionFalse, "AllMembersHealthy", "every member is reachable and planned")
}

// setCondition sets a condition as the controller does, at the
// Topology's generation.
func setCondition(topo *v1alpha1.Topology, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&topo.Status.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: topo.Generation})
}

// failOver writes what the controller writes once m2 has been unreachable
// past failover.after: excluded, its share on m1.
func failOver(topo *v1alpha1.Topology) {
	since := metav1.NewTime(time.Now().Add(-3 * time.Minute).Truncate(time.Second))
	st := &topo.Status
	st.Placements[0].Replicas = map[string]int32{"m1": 4}
	m2 := &st.Clusters[1]
	m2.Reachable, m2.Excluded, m2.UnreachableSince, m2.InSync, m2.Ready = false, true, &since, 0, false
	m2.Message = "excluded by failover: connecting to cluster m2 (context m2): refused"
	setCondition(topo, v1alpha1.ConditionDegraded, metav1.ConditionTrue, "MembersUnhealthy", "m2: "+m2.Message)
}

// status --hub against a real hub apiserver: the control plane not
// installed, installed with no Topology, a Topology never reconciled, then
// healthy, failed over and stale, in text and JSON, with their exit codes;
// an unknown --topology; and --watch printing a change.
func TestHubStatusOnLab(t *testing.T) {
	l, clusters := labtest.New(t, lab.ClusterSpec{Name: "hub", APIServerOnly: true})
	hub := clusters[0]
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := l.Kubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	status := func(t *testing.T, args ...string) (int, string, string) {
		t.Helper()
		return runStatus(t, append([]string{"--kubeconfig", kubeconfig, "status", "--hub", "hub"}, args...)...)
	}
	expect := func(t *testing.T, code int, out, errOut string, wantCode int, wantOut, wantErr []string) {
		t.Helper()
		if code != wantCode {
			t.Errorf("exit %d, want %d; stderr:\n%s", code, wantCode, errOut)
		}
		for _, w := range wantOut {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
		for _, w := range wantErr {
			if !strings.Contains(errOut, w) {
				t.Errorf("stderr lacks %q:\n%s", w, errOut)
			}
		}
	}

	t.Run("no control plane", func(t *testing.T) {
		code, out, errOut := status(t)
		expect(t, code, out, errOut, 1, nil, []string{
			"error: hub hub has no Topology resource (topologies.geofed.io): the control plane is not installed there; install it with kubectl apply -k manifests/controller --context hub",
		})
	})

	labtest.InstallCRD(t, hub.RESTConfig(), filepath.Join("..", "..", "manifests", "controller", "crd", "geofed.io_topologies.yaml"))
	c, err := newHubClient(hub.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: defaultHubNamespace}}); err != nil {
		t.Fatal(err)
	}

	t.Run("no topology", func(t *testing.T) {
		code, out, errOut := status(t)
		expect(t, code, out, errOut, 1, nil, []string{"error: no Topology in namespace geofed-system of hub hub: kubectl geofed push -f topology.yaml --hub hub creates one"})
	})

	topo := healthyTopology("fleet")
	want := topo.Status
	topo.Status = v1alpha1.TopologyStatus{}
	topo.Generation = 0
	if err := c.Create(ctx, topo); err != nil {
		t.Fatal(err)
	}
	writeStatus := func(t *testing.T, change func(*v1alpha1.Topology)) {
		t.Helper()
		var cur v1alpha1.Topology
		if err := c.Get(ctx, client.ObjectKeyFromObject(topo), &cur); err != nil {
			t.Fatal(err)
		}
		change(&cur)
		if err := c.Status().Update(ctx, &cur); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("never reconciled", func(t *testing.T) {
		code, out, errOut := status(t)
		expect(t, code, out, errOut, 2,
			[]string{"Topology geofed-system/fleet · mode Apply\n", "  ! no status yet: the controller has not reconciled this Topology", "  ! cluster m1: not in the status yet"},
			[]string{"error: topology fleet is not ready and synced: no status yet"})
	})

	t.Run("healthy", func(t *testing.T) {
		writeStatus(t, func(cur *v1alpha1.Topology) {
			cur.Status = want
			cur.Status.ObservedGeneration = cur.Generation
		})
		code, out, errOut := status(t)
		expect(t, code, out, errOut, 0, []string{
			"    Ready: True (Ready) for ",
			"    Synced: True (Applied) for ",
			"    Last plan: 0 objects to create, 1 to change, 0 to delete\n",
			"Region us-west1\n    cluster m1: reachable · 3 in sync, 0 drifted, 0 failed · applied 1, pruned 0 · ready\n",
			"Placements\n    web: m1 2, m2 2\n",
			"Status of fleet: 2 clusters reachable · 6 objects in sync, 0 drifted, 0 failed · ready and synced.\n",
		}, nil)
		if errOut != "" {
			t.Errorf("stderr %q, want nothing", errOut)
		}

		code, out, errOut = status(t, "--topology", "fleet", "-o", "json")
		if code != 0 {
			t.Errorf("-o json: exit %d, stderr %s", code, errOut)
		}
		var s hubstatus.Status
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("-o json: %v\n%s", err, out)
		}
		if s.APIVersion != hubstatus.APIVersion || s.Hub != "hub" || len(s.Topologies) != 1 {
			t.Fatalf("-o json: %+v", s)
		}
		got := s.Topologies[0]
		if !got.OK || got.Generation != 1 || got.Stale || len(got.Regions) != 2 || got.Regions[1].Clusters[0].Name != "m2" ||
			got.Regions[0].Clusters[0].Apply == nil || got.Regions[0].Clusters[0].Apply.Applied != 1 {
			t.Errorf("-o json: topology %+v", got)
		}
		if got.LastPlanTime == nil || !got.LastPlanTime.Equal(want.LastPlanTime.Time) {
			t.Errorf("-o json: lastPlanTime %v, want %v", got.LastPlanTime, want.LastPlanTime)
		}

		code, out, _ = status(t, "-o", "yaml")
		if err := yaml.Unmarshal([]byte(out), &s); code != 0 || err != nil || s.Topologies[0].Name != "fleet" {
			t.Errorf("-o yaml: exit %d, %v:\n%s", code, err, out)
		}
	})

	t.Run("failed over", func(t *testing.T) {
		writeStatus(t, failOver)
		code, out, errOut := status(t)
		expect(t, code, out, errOut, 2, []string{
			"  ! Degraded: True (MembersUnhealthy) for ",
			"  ! cluster m2: UNREACHABLE since ",
			" · excluded by failover until it has been reachable for 2m\n      ! excluded by failover: connecting to cluster m2",
			"    web: m1 4\n",
		}, []string{"error: topology fleet is not ready and synced: Degraded is True (MembersUnhealthy)\n"})

		code, out, _ = status(t, "-o", "json")
		var s hubstatus.Status
		if err := json.Unmarshal([]byte(out), &s); code != 2 || err != nil || s.Topologies[0].OK ||
			s.Topologies[0].Summary.Excluded != 1 || s.Topologies[0].Problems[0] != "Degraded is True (MembersUnhealthy)" {
			t.Errorf("-o json: exit %d, %v: %+v", code, err, s.Topologies)
		}
	})

	t.Run("unknown topology", func(t *testing.T) {
		code, out, errOut := status(t, "--topology", "nope")
		expect(t, code, out, errOut, 1, nil, []string{`error: no Topology "nope" in namespace geofed-system of hub hub (there: fleet): kubectl geofed push`})
		if out != "" {
			t.Errorf("printed %q, want nothing", out)
		}
		code, _, errOut = status(t, "--hub-namespace", "elsewhere")
		expect(t, code, "", errOut, 1, nil, []string{"error: no Topology in namespace elsewhere of hub hub"})
	})

	t.Run("stale", func(t *testing.T) {
		writeStatus(t, healthyStatus)
		var cur v1alpha1.Topology
		if err := c.Get(ctx, client.ObjectKeyFromObject(topo), &cur); err != nil {
			t.Fatal(err)
		}
		cur.Spec.Mode = v1alpha1.ModePlan
		if err := c.Update(ctx, &cur); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := status(t)
		expect(t, code, out, errOut, 2,
			[]string{"Topology geofed-system/fleet · mode Plan · planned ", "  ! status is stale: it describes generation 1, the spec is at generation 2"},
			[]string{"error: topology fleet is not ready and synced: the status is of generation 1, the spec is at 2"})
	})

	// --watch prints the first block, nothing while nothing changes, a
	// second block when the status does, and exits as the last says.
	t.Run("watch", func(t *testing.T) {
		writeStatus(t, func(cur *v1alpha1.Topology) { healthyStatus(cur) })
		out := &syncBuffer{}
		o := hubOptions()
		o.Watch, o.Interval = true, time.Second
		o.ConfigFlags = &genericclioptions.ConfigFlags{KubeConfig: &kubeconfig}
		o.IOStreams = genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: out, ErrOut: &bytes.Buffer{}}
		if err := o.Validate(); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- o.Run(wctx) }()

		const stamp = "Status of hub hub, namespace geofed-system, at "
		waitOutput(t, out, stamp, 1)
		if !strings.Contains(out.String(), "· ready and synced.") {
			t.Errorf("the first block is not the healthy status:\n%s", out)
		}
		time.Sleep(2500 * time.Millisecond) // two more rounds, unchanged
		if n := strings.Count(out.String(), stamp); n != 1 {
			t.Errorf("%d blocks over unchanged rounds, want 1:\n%s", n, out)
		}
		writeStatus(t, failOver)
		waitOutput(t, out, stamp, 2)
		cancel()
		err := <-done
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != 2 {
			t.Errorf("Run() = %v, want exit 2: the last block is degraded", err)
		}
		if text := out.String(); !strings.Contains(text[strings.LastIndex(text, stamp):], "  ! cluster m2: UNREACHABLE since ") {
			t.Errorf("the second block is not the new status:\n%s", text)
		}
	})
}

// waitOutput waits until what marks a block was printed n times.
func waitOutput(t *testing.T, out *syncBuffer, mark string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(out.String(), mark) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d blocks printed after 20s, want %d:\n%s", strings.Count(out.String(), mark), n, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer is a buffer --watch writes to while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
