// Package controller_test runs the control plane against the lab: a hub
// cluster (apiserver only) holding the Topology, and two member clusters
// with nodes, all real apiservers. The controller runs in this process with
// its real manager (leader election, cache, status writes); nothing that
// reaches an apiserver is faked.
package controller_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/push"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

const (
	namespace = "geofed-system"
	topoName  = "fleet"
	// resync is long against the member watches (a hand edit is put back
	// in about a second) and short against the test.
	resync = 15 * time.Second
)

type env struct {
	hub      client.Client
	members  map[string]*lab.Cluster
	clients  map[string]kubernetes.Interface
	topology *topology.Topology
	replicas []*replica
	// hubKubeconfig is the replicas' kubeconfig, for starting more.
	hubKubeconfig string
}

// leader waits for one replica to lead, and returns it.
func (e *env) leader(t *testing.T) *replica {
	t.Helper()
	deadline := time.Now().Add(leaseDuration + 30*time.Second)
	for {
		var leading []*replica
		for _, r := range e.replicas {
			if r.leading() {
				leading = append(leading, r)
			}
		}
		if len(leading) > 1 {
			t.Fatalf("%d replicas lead at once", len(leading))
		}
		if len(leading) == 1 {
			return leading[0]
		}
		if time.Now().After(deadline) {
			t.Fatal("no replica leads")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestController(t *testing.T) {
	l, clusters := labtest.New(t,
		lab.ClusterSpec{Name: "hub", APIServerOnly: true},
		lab.ClusterSpec{Name: "m1", Nodes: []lab.NodeSpec{{Name: "node", Count: 1}}},
		lab.ClusterSpec{Name: "m2", Nodes: []lab.NodeSpec{{Name: "node", Count: 1}}},
	)
	hub, m1, m2 := clusters[0], clusters[1], clusters[2]
	e := setup(t, l, hub, m1, m2)

	ctx := t.Context()
	t.Run("push applies to every member", func(t *testing.T) {
		pushTopology(t, e, push.Options{})
		waitFor(t, e, 120*time.Second, "Synced=True", func(topo *v1alpha1.Topology) bool {
			return cond(topo, v1alpha1.ConditionSynced) == "True/Applied"
		})
		for _, name := range []string{"m1", "m2"} {
			if got := replicas(t, e, name); got != 2 {
				t.Errorf("%s: web has %d replicas, want 2 (4 divided by equal weights)", name, got)
			}
			if got := level(t, e, name); got != "info" {
				t.Errorf("%s: ConfigMap level %q, want info", name, got)
			}
			s, err := e.clients[name].CoreV1().Secrets("web").Get(ctx, "web-token", metav1.GetOptions{})
			if err != nil || string(s.Data["token"]) != "s3cr3t" {
				t.Errorf("%s: Secret web/web-token: %v %v", name, s, err)
			}
		}
		// The Secret manifest travelled in a Secret, never in a ConfigMap.
		var topo v1alpha1.Topology
		get(t, e, &topo)
		if src := topo.Spec.Sources; src == nil || len(src.Secrets) != 1 || len(src.ConfigMaps) == 0 {
			t.Errorf("sources = %+v, want ConfigMaps and one Secret", src)
		}
	})

	t.Run("a hand edit is put back by the member watch, before a resync", func(t *testing.T) {
		leader := e.leader(t)
		triggered := func() float64 {
			return number(metric(leader.scrape(), `geofed_reconcile_triggers_total{namespace="geofed-system",reason="drift",topology="fleet"}`))
		}
		before := triggered()
		edited := time.Now()
		edit(t, e, "m1", "debug")
		for level(t, e, "m1") != "info" {
			if time.Since(edited) > resync {
				t.Fatalf("m1: ConfigMap level still edited after %s (one resync)", resync)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("the edit was put back %s after it was made", time.Since(edited).Round(10*time.Millisecond))
		// One trigger, the edit's: geofed's own correction, seen by the
		// same watch, asks for none (it would plan to no changes).
		time.Sleep(2 * time.Second)
		if after := triggered(); after != before+1 {
			t.Errorf("drift triggers %v -> %v around one edit and its correction, want one more", before, after)
		}
		// A deletion, too.
		must(t, e.clients["m1"].CoreV1().ConfigMaps("web").Delete(ctx, "web-config", metav1.DeleteOptions{}))
		deleted := time.Now()
		for level(t, e, "m1") != "info" {
			if time.Since(deleted) > resync {
				t.Fatalf("m1: ConfigMap not re-created %s (one resync) after it was deleted", resync)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("Plan mode reports drift and changes nothing", func(t *testing.T) {
		pushTopology(t, e, push.Options{Mode: v1alpha1.ModePlan})
		edit(t, e, "m2", "debug")
		var drifted *v1alpha1.Topology
		waitFor(t, e, 30*time.Second, "Synced=False/Drifted", func(topo *v1alpha1.Topology) bool {
			drifted = topo
			return cond(topo, v1alpha1.ConditionSynced) == "False/Drifted"
		})
		if got := clusterStatus(drifted, "m2"); got.Drifted != 1 {
			t.Errorf("m2 status %+v, want 1 drifted object", got)
		}
		if drifted.Status.LastPlan == nil || drifted.Status.LastPlan.ObjectsToChange != 1 {
			t.Errorf("last plan %+v, want 1 object to change", drifted.Status.LastPlan)
		}
		// A resync later, the edit is still there.
		planned := drifted.Status.LastPlanTime.Time
		waitFor(t, e, 2*resync, "another plan", func(topo *v1alpha1.Topology) bool {
			return topo.Status.LastPlanTime != nil && topo.Status.LastPlanTime.Time.After(planned.Add(time.Second))
		})
		if got := level(t, e, "m2"); got != "debug" {
			t.Fatalf("m2: ConfigMap level %q in Plan mode, want the hand edit (debug) kept", got)
		}

		pushTopology(t, e, push.Options{Mode: v1alpha1.ModeApply})
		deadline := time.Now().Add(60 * time.Second)
		for level(t, e, "m2") != "info" {
			if time.Now().After(deadline) {
				t.Fatal("m2: the edit was not put back after switching to Apply")
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("a member down fails over, and its share returns", func(t *testing.T) {
		const after, restoreAfter = 10 * time.Second, 6 * time.Second
		pushTopology(t, e, push.Options{Failover: &v1alpha1.Failover{
			After: &metav1.Duration{Duration: after}, RestoreAfter: &metav1.Duration{Duration: restoreAfter},
		}})
		waitFor(t, e, 60*time.Second, "Synced=True", func(topo *v1alpha1.Topology) bool {
			return topo.Status.ObservedGeneration == topo.Generation && cond(topo, v1alpha1.ConditionSynced) == "True/Applied"
		})
		// Measured before the calls: the member cannot be unreachable (or
		// reachable again) before them, so the outage and the recovery
		// are at most this long when the controller acts.
		stopped := time.Now()
		if err := m2.StopAPIServer(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor(t, e, 30*time.Second, "m2 unreachable, waiting for failover", func(topo *v1alpha1.Topology) bool {
			c := clusterStatus(topo, "m2")
			return !c.Reachable && c.UnreachableSince != nil && !c.Excluded
		})
		// During the grace period m2 keeps its share, and m1 is still
		// reconciled: an edit there is put back before m2 fails over.
		edit(t, e, "m1", "debug")
		for level(t, e, "m1") != "info" {
			if time.Since(stopped) > after {
				t.Fatalf("m1: an edit during m2's grace period was not put back before failover.after (%s)", after)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got := replicas(t, e, "m1"); got != 2 {
			t.Errorf("m1 has %d replicas before failover.after, want 2 still", got)
		}
		var waiting v1alpha1.Topology
		get(t, e, &waiting)
		if c := clusterStatus(&waiting, "m2"); c.Excluded {
			t.Errorf("m2 excluded %s after it stopped, before failover.after (%s)", time.Since(stopped), after)
		}
		if got := cond(&waiting, v1alpha1.ConditionSynced); got != "False/WaitingForFailover" {
			t.Errorf("Synced = %s during the grace period, want False/WaitingForFailover", got)
		}
		waitFor(t, e, 60*time.Second, "m2 excluded", func(topo *v1alpha1.Topology) bool {
			return clusterStatus(topo, "m2").Excluded && cond(topo, v1alpha1.ConditionDegraded) == "True/MembersUnhealthy"
		})
		if since := time.Since(stopped); since < after {
			t.Errorf("m2 excluded %s after its apiserver stopped, before failover.after (%s)", since, after)
		}
		waitReplicas(t, e, "m1", 4, 60*time.Second)

		back := time.Now()
		if err := m2.StartAPIServer(ctx); err != nil {
			t.Fatal(err)
		}
		waitFor(t, e, 60*time.Second, "m2 restored", func(topo *v1alpha1.Topology) bool {
			c := clusterStatus(topo, "m2")
			return c.Reachable && !c.Excluded
		})
		if since := time.Since(back); since < restoreAfter {
			t.Errorf("m2 restored %s after its apiserver started, before restoreAfter (%s)", since, restoreAfter)
		}
		waitReplicas(t, e, "m1", 2, 60*time.Second)
		// Nothing was pruned on m2 while it was away: its objects are
		// there, with its share.
		waitReplicas(t, e, "m2", 2, 60*time.Second)
		if got := level(t, e, "m2"); got != "info" {
			t.Errorf("m2: ConfigMap level %q after the outage, want info", got)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		// The gauges are what the last reconcile saw: wait for one that
		// found the fleet at rest.
		waitFor(t, e, 60*time.Second, "Synced=True", func(topo *v1alpha1.Topology) bool {
			return cond(topo, v1alpha1.ConditionSynced) == "True/Applied" && clusterStatus(topo, "m1").Drifted == 0
		})
		leader := e.leader(t)
		body := leader.scrape()
		deadline := time.Now().Add(30 * time.Second)
		for metric(body, `geofed_objects_out_of_sync{cluster="m1",namespace="geofed-system",topology="fleet"}`) != "0" && time.Now().Before(deadline) {
			time.Sleep(500 * time.Millisecond)
			body = leader.scrape()
		}
		for _, want := range []string{
			`geofed_reconciles_total{namespace="geofed-system",result="synced",topology="fleet"}`,
			`geofed_plan_duration_seconds_count{namespace="geofed-system",topology="fleet"}`,
			`geofed_apply_duration_seconds_count{namespace="geofed-system",topology="fleet"}`,
			`geofed_objects_out_of_sync{cluster="m1",namespace="geofed-system",topology="fleet"} 0`,
			`geofed_members_unreachable{namespace="geofed-system",topology="fleet"} 0`,
		} {
			if !strings.Contains(string(body), want) {
				t.Errorf("metrics lack %s; have:\n%s", want, grepLines(body, "geofed_"))
			}
		}
	})

	t.Run("events", func(t *testing.T) {
		var events corev1.EventList
		must(t, e.hub.List(ctx, &events, client.InNamespace(namespace)))
		seen := map[string]string{}
		for _, ev := range events.Items {
			if ev.InvolvedObject.Kind == "Topology" && ev.InvolvedObject.Name == topoName {
				seen[ev.Reason] = ev.Message
			}
		}
		for reason, part := range map[string]string{
			"Applied":    "applied",
			"Drifted":    "mode Plan: nothing changed",
			"FailedOver": "cluster m2 unreachable",
			"Restored":   "cluster m2 has been reachable",
		} {
			if !strings.Contains(seen[reason], part) {
				t.Errorf("no %s Event saying %q on Topology %s; events: %v", reason, part, topoName, seen)
			}
		}
	})

	t.Run("the leader killed, the other takes over", func(t *testing.T) {
		waitFor(t, e, 60*time.Second, "Synced=True", func(topo *v1alpha1.Topology) bool {
			return topo.Status.ObservedGeneration == topo.Generation && cond(topo, v1alpha1.ConditionSynced) == "True/Applied"
		})
		old := e.leader(t)
		before := versions(t, e)
		killed := time.Now()
		old.kill(t)
		// Made while nobody leads: the new leader must not lose it.
		edit(t, e, "m2", "debug")
		var next *replica
		for next == nil {
			for _, r := range e.replicas {
				if r != old && r.leading() {
					next = r
				}
			}
			if time.Since(killed) > leaseDuration+15*time.Second {
				t.Fatalf("no replica took over %s after the leader was killed (lease %s)", time.Since(killed), leaseDuration)
			}
			time.Sleep(100 * time.Millisecond)
		}
		took := time.Since(killed)
		t.Logf("%s took over %s after %s was killed (lease duration %s, retry period %s)", next.name, took.Round(10*time.Millisecond), old.name, leaseDuration, retryPeriod)
		if took > leaseDuration+retryPeriod+5*time.Second {
			t.Errorf("hand-over took %s, more than the lease duration (%s) and a retry (%s) with 5s to spare", took, leaseDuration, retryPeriod)
		}
		for level(t, e, "m2") != "info" {
			if time.Since(killed) > leaseDuration+resync+15*time.Second {
				t.Fatal("m2: the edit made during the hand-over was never put back")
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Nothing the old leader had applied was applied again: every
		// object but the edited ConfigMap is as it was.
		after := versions(t, e)
		for key, rv := range before {
			if strings.HasSuffix(key, "ConfigMap web/web-config") && key[:2] == "m2" {
				continue
			}
			if after[key] != rv {
				t.Errorf("%s: resourceVersion %s -> %s across the hand-over: written again", key, rv, after[key])
			}
		}
	})
}

// setup installs the CRD and the member Secrets in the hub, writes the
// topology, and starts the controller.
func setup(t *testing.T, l *lab.Lab, hub *lab.Cluster, m1, m2 *lab.Cluster) *env {
	t.Helper()
	return setupWith(t, l, hub, []*lab.Cluster{m1, m2}, webTopology, replicaFlags{resync: resync}, 2)
}

// setupWith is setup with a topology of files and n replicas run with f.
func setupWith(t *testing.T, l *lab.Lab, hub *lab.Cluster, members []*lab.Cluster, files map[string]string, f replicaFlags, n int) *env {
	t.Helper()
	ctx := t.Context()
	labtest.InstallCRD(t, hub.RESTConfig(), filepath.Join("..", "..", "manifests", "controller", "crd", "geofed.io_topologies.yaml"))

	scheme := runtime.NewScheme()
	must(t, clientgoscheme.AddToScheme(scheme))
	must(t, v1alpha1.AddToScheme(scheme))
	hc, err := client.New(hub.RESTConfig(), client.Options{Scheme: scheme})
	must(t, err)
	must(t, hc.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}))
	e := &env{hub: hc, members: map[string]*lab.Cluster{}, clients: map[string]kubernetes.Interface{}}
	// Members are joined as a user joins them: kubectl geofed join --hub,
	// so the controller reaches each with the ServiceAccount and RBAC join
	// grants, and whatever the engine needs and join does not grant fails
	// these tests.
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	must(t, l.Kubeconfig(kubeconfig))
	for _, m := range members {
		join := exec.Command(pluginBinary, "join", m.Name, "--hub", "hub", "--kubeconfig", kubeconfig)
		if out, err := join.CombinedOutput(); err != nil {
			t.Fatalf("kubectl geofed join %s --hub hub: %v\n%s", m.Name, err, out)
		}
		e.members[m.Name] = m
		cs, err := kubernetes.NewForConfig(m.RESTConfig())
		must(t, err)
		e.clients[m.Name] = cs
	}
	e.topology = writeTopology(t, files)

	// Two replicas of the real binary, as the Deployment runs them: one
	// leads, the other waits.
	// The replicas reach the hub as the Deployment's ServiceAccount
	// would, bound to the Role of manifests/controller: whatever the
	// controller needs and the Role lacks fails these tests.
	f.hubKubeconfig = controllerKubeconfig(t, hub)
	e.hubKubeconfig = f.hubKubeconfig
	for _, name := range []string{"a", "b"}[:n] {
		r := startReplica(t, name, f)
		e.replicas = append(e.replicas, r)
	}
	for _, r := range e.replicas {
		r.waitReady(t)
	}
	e.leader(t)
	return e
}

// controllerKubeconfig installs the controller's ServiceAccount, Role and
// RoleBinding from manifests/controller/rbac in the hub and returns a
// kubeconfig with a token of that ServiceAccount.
func controllerKubeconfig(t *testing.T, hub *lab.Cluster) string {
	t.Helper()
	ctx := t.Context()
	cs, err := kubernetes.NewForConfig(hub.RESTConfig())
	must(t, err)
	dc, err := dynamic.NewForConfig(hub.RESTConfig())
	must(t, err)
	for file, gvr := range map[string]schema.GroupVersionResource{
		"service_account.yaml": {Version: "v1", Resource: "serviceaccounts"},
		"role.yaml":            {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"},
		"role_binding.yaml":    {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"},
	} {
		data, err := os.ReadFile(filepath.Join("..", "..", "manifests", "controller", "rbac", file))
		must(t, err)
		var obj unstructured.Unstructured
		must(t, yaml.Unmarshal(data, &obj.Object))
		obj.SetNamespace(namespace) // kustomize's namespace: in the manifests
		if subjects, ok := obj.Object["subjects"].([]any); ok {
			for _, s := range subjects {
				s.(map[string]any)["namespace"] = namespace
			}
		}
		_, err = dc.Resource(gvr).Namespace(namespace).Create(ctx, &obj, metav1.CreateOptions{})
		must(t, err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, "geofed-controller", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))},
	}, metav1.CreateOptions{})
	must(t, err)
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["hub"] = &clientcmdapi.Cluster{Server: hub.RESTConfig().Host, CertificateAuthorityData: hub.RESTConfig().CAData}
	cfg.AuthInfos["geofed-controller"] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["hub"] = &clientcmdapi.Context{Cluster: "hub", AuthInfo: "geofed-controller"}
	cfg.CurrentContext = "hub"
	path := filepath.Join(t.TempDir(), "controller.kubeconfig")
	must(t, clientcmd.WriteToFile(*cfg, path))
	return path
}

func ptr[T any](v T) *T { return &v }

// writeTopology writes a topology of the two members with one workload,
// web: a Namespace, a ConfigMap, a Secret and a Deployment of 4 replicas
// divided by weight.
func writeTopology(t *testing.T, files map[string]string) *topology.Topology {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(content), 0o644))
	}
	topo, err := topology.Load(filepath.Join(dir, "topology.yaml"))
	must(t, err)
	return topo
}

// webTopology has the two members and one workload, web: a Namespace, a
// ConfigMap, a Secret and a Deployment of 4 replicas divided by weight.
var webTopology = map[string]string{
	"topology.yaml":               twoMembers("web", "weight"),
	"apps/web/kustomization.yaml": "resources: [namespace.yaml, config.yaml, secret.yaml, deployment.yaml]\n",
	"apps/web/namespace.yaml":     "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n",
	"apps/web/config.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config, namespace: web}\ndata: {level: info}\n",
	"apps/web/secret.yaml":        "apiVersion: v1\nkind: Secret\nmetadata: {name: web-token, namespace: web}\nstringData: {token: s3cr3t}\n",
	"apps/web/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: web:1
        resources: {requests: {cpu: 100m, memory: 64Mi}}
`,
}

func pushTopology(t *testing.T, e *env, o push.Options) {
	t.Helper()
	o.Topology, o.Hub, o.Namespace = e.topology, e.hub, namespace
	if _, err := push.Run(t.Context(), o); err != nil {
		t.Fatalf("push: %v", err)
	}
}

func get(t *testing.T, e *env, topo *v1alpha1.Topology) {
	t.Helper()
	must(t, e.hub.Get(t.Context(), types.NamespacedName{Namespace: namespace, Name: topoName}, topo))
}

// waitFor polls the Topology until ok, failing with its last status.
func waitFor(t *testing.T, e *env, timeout time.Duration, what string, ok func(*v1alpha1.Topology) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var topo v1alpha1.Topology
		get(t, e, &topo)
		if ok(&topo) {
			return
		}
		if time.Now().After(deadline) {
			st, _ := yaml.Marshal(topo.Status)
			t.Fatalf("%s: not after %s; status:\n%s", what, timeout, st)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func cond(topo *v1alpha1.Topology, typ string) string {
	c := meta.FindStatusCondition(topo.Status.Conditions, typ)
	if c == nil || c.ObservedGeneration != topo.Generation {
		return ""
	}
	return string(c.Status) + "/" + c.Reason
}

func clusterStatus(topo *v1alpha1.Topology, name string) v1alpha1.ClusterStatus {
	for _, c := range topo.Status.Clusters {
		if c.Name == name {
			return c
		}
	}
	return v1alpha1.ClusterStatus{}
}

func replicas(t *testing.T, e *env, cluster string) int32 {
	t.Helper()
	d, err := e.clients[cluster].AppsV1().Deployments("web").Get(t.Context(), "web", metav1.GetOptions{})
	must(t, err)
	return *d.Spec.Replicas
}

func waitReplicas(t *testing.T, e *env, cluster string, want int32, timeout time.Duration) {
	t.Helper()
	waitDeployment(t, e, cluster, "web", want, timeout)
}

// waitDeployment waits for Deployment web/name on cluster to have want
// replicas.
func waitDeployment(t *testing.T, e *env, cluster, name string, want int32, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d, err := e.clients[cluster].AppsV1().Deployments("web").Get(t.Context(), name, metav1.GetOptions{})
		if err == nil && *d.Spec.Replicas == want {
			return
		}
		if time.Now().After(deadline) {
			var topo v1alpha1.Topology
			get(t, e, &topo)
			st, _ := yaml.Marshal(topo.Status)
			var got any = err
			if err == nil {
				got = *d.Spec.Replicas
			}
			t.Fatalf("%s: %s replicas not %d after %s (%v); status:\n%s", cluster, name, want, timeout, got, st)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func level(t *testing.T, e *env, cluster string) string {
	t.Helper()
	cm, err := e.clients[cluster].CoreV1().ConfigMaps("web").Get(t.Context(), "web-config", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return ""
	}
	must(t, err)
	return cm.Data["level"]
}

// edit changes a field geofed set, as a person with kubectl edit would.
func edit(t *testing.T, e *env, cluster, lvl string) {
	t.Helper()
	patch := fmt.Sprintf(`{"data":{"level":%q}}`, lvl)
	_, err := e.clients[cluster].CoreV1().ConfigMaps("web").Patch(t.Context(), "web-config", types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "kubectl-edit"})
	must(t, err)
}

// twoMembers is a topology of m1 (us-west1) and m2 (europe-west1) with one
// workload of 4 replicas from apps/<workload>, divided by divideBy.
func twoMembers(workload, divideBy string) string {
	return `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: ` + topoName + `}
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
  - name: ` + workload + `
    source: apps/` + workload + `
    placement:
      replicas: {total: 4, divideBy: ` + divideBy + `}
`
}

// versions are the resourceVersions of what the workload applies, on
// every member.
func versions(t *testing.T, e *env) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, cs := range e.clients {
		d, err := cs.AppsV1().Deployments("web").Get(t.Context(), "web", metav1.GetOptions{})
		must(t, err)
		out[name+" Deployment web/web"] = d.ResourceVersion
		cm, err := cs.CoreV1().ConfigMaps("web").Get(t.Context(), "web-config", metav1.GetOptions{})
		must(t, err)
		out[name+" ConfigMap web/web-config"] = cm.ResourceVersion
		s, err := cs.CoreV1().Secrets("web").Get(t.Context(), "web-token", metav1.GetOptions{})
		must(t, err)
		out[name+" Secret web/web-token"] = s.ResourceVersion
	}
	return out
}

func number(s string) float64 {
	var f float64
	fmt.Sscan(s, &f)
	return f
}

// freeAddrs returns n distinct loopback addresses no one listens on.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	// Every listener stays open until all are chosen: closed one by one,
	// the kernel may hand the same port out twice.
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
