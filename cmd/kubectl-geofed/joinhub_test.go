package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	goldenfile "github.com/geofed-io/kubectl-geofed/internal/golden"
	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/controller"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/membership"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/join"
)

func TestJoinHubValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    JoinOptions
		want string
	}{
		{"credentials only", JoinOptions{Options: join.Options{Hub: "hub"}}, ""},
		{"with a file the cluster is in", JoinOptions{Options: join.Options{Hub: "hub", Filename: "t.yaml"}}, ""},
		{"added to the file", JoinOptions{Options: join.Options{Hub: "hub", Filename: "t.yaml", Region: "us-east1", Labels: map[string]string{"a": "b"}}}, ""},
		{"rbac without a hub", JoinOptions{Options: join.Options{RBAC: true}, Grants: []string{"widgets.example.com"}}, ""},
		{"dry run", JoinOptions{Options: join.Options{Hub: "hub", DryRun: true}}, ""},
		{"json", JoinOptions{Options: join.Options{Hub: "hub"}, printFlags: printFlags{Output: "json"}}, ""},
		{"region without file", JoinOptions{Options: join.Options{Hub: "hub", Region: "us-east1"}}, "--region adds the cluster to a topology file: give -f topology.yaml too"},
		{"label without region", JoinOptions{Options: join.Options{Hub: "hub", Filename: "t.yaml", Labels: map[string]string{"a": "b"}}}, "--label goes with --region and -f"},
		{"offline", JoinOptions{Options: join.Options{Hub: "hub", Offline: true}}, "--offline cannot go with --hub"},
		{"admin and grants", JoinOptions{Options: join.Options{Hub: "hub", ClusterAdmin: true, Grants: []schema.GroupResource{{Resource: "configmaps"}}}}, "--cluster-admin grants everything"},
		{"rbac dry run", JoinOptions{Options: join.Options{RBAC: true, DryRun: true}}, "--rbac changes nothing already"},
		{"rbac output", JoinOptions{Options: join.Options{RBAC: true}, printFlags: printFlags{Output: "json"}}, "--output does not apply"},
		{"dry run output", JoinOptions{Options: join.Options{Hub: "hub", DryRun: true}, printFlags: printFlags{Output: "yaml"}}, "--output does not apply"},
		{"bad output", JoinOptions{Options: join.Options{Hub: "hub"}, printFlags: printFlags{Output: "table"}}, `--output must be json or yaml, not "table"`},
		{"bad server", JoinOptions{Options: join.Options{Hub: "hub", Server: "10.0.0.1:6443"}}, `--server "10.0.0.1:6443": want the apiserver's URL`},
		{"bad name", JoinOptions{Options: join.Options{Hub: "hub", Name: "Edge_US"}}, `cluster name "Edge_US"`},
		{"hub flags without hub", JoinOptions{Options: join.Options{Filename: "t.yaml", Region: "us-east1", ClusterAdmin: true}}, "give --hub HUB too"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.Context = "m1"
			if o.Name == "" {
				o.Name = "m1"
			}
			if o.HubNamespace == "" {
				o.HubNamespace = "geofed-system"
			}
			o.fleetFlags = fleetFlags{Refresh: "inventory", Parallel: 1, RequestTimeout: time.Second}
			err := o.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate: %v, want %q", err, tt.want)
			}
		})
	}
}

func TestUnjoinValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    UnjoinOptions
		want string
	}{
		{"ok", UnjoinOptions{Context: "m1", Name: "m1", Hub: "hub", HubNamespace: "geofed-system"}, ""},
		{"no context", UnjoinOptions{Hub: "hub", HubNamespace: "geofed-system"}, "a kubeconfig context is required"},
		{"no hub", UnjoinOptions{Context: "m1", Name: "m1", HubNamespace: "geofed-system"}, "--hub HUB"},
		{"no namespace", UnjoinOptions{Context: "m1", Name: "m1", Hub: "hub"}, "--hub-namespace must not be empty"},
		{"bad name", UnjoinOptions{Context: "m1", Name: "M_1", Hub: "hub", HubNamespace: "geofed-system"}, `cluster name "M_1"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate: %v, want %q", err, tt.want)
			}
		})
	}
}

// --rbac prints the RBAC, offline when no topology is given.
func TestJoinRBACGolden(t *testing.T) {
	for _, tt := range []struct {
		golden string
		args   []string
		o      JoinOptions
	}{
		{"join-rbac-default.golden", []string{"serving-us"}, JoinOptions{}},
		{"join-rbac-grants.golden", []string{"serving-us"}, JoinOptions{Grants: []string{"widgets.example.com", "rolebindings.rbac.authorization.k8s.io"}}},
		{"join-rbac-cluster-admin.golden", []string{"gke_acme_us-east1_edge"}, JoinOptions{Options: join.Options{Name: "edge-us", ClusterAdmin: true}}},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			streams, _, out, errOut := genericiooptions.NewTestIOStreams()
			o := tt.o
			o.RBAC = true
			o.HubNamespace = defaultHubNamespace
			o.fleetFlags = fleetFlags{Refresh: "inventory", Parallel: 1, RequestTimeout: time.Second}
			// A kubeconfig that reaches nothing: --rbac without -f does
			// not connect.
			kubeconfig := writeJoinKubeconfig(t, refusedServer(t), tt.args[0])
			o.ConfigFlags = &genericclioptions.ConfigFlags{KubeConfig: &kubeconfig}
			o.IOStreams = streams
			if err := o.Complete(tt.args, nil); err != nil {
				t.Fatal(err)
			}
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			if err := o.Run(t.Context()); err != nil {
				t.Fatalf("Run: %v\n%s", err, errOut)
			}
			goldenfile.Compare(t, tt.golden, out.Bytes(), *update)
			if errOut.Len() != 0 {
				t.Errorf("stderr: %s", errOut)
			}
		})
	}
}

// hubJoinTopology has no cluster yet, and one workload for every cluster:
// a Namespace, a ConfigMap, a Service and a Deployment.
const hubJoinTopology = `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: hubjoin
spec:
  regions: []
  workloads:
  - name: web
    source: app
`

var hubJoinApp = map[string]string{
	"app/kustomization.yaml": "resources: [namespace.yaml, config.yaml, service.yaml, deployment.yaml]\n",
	"app/namespace.yaml":     "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n",
	"app/config.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config, namespace: web}\ndata: {level: info}\n",
	"app/service.yaml":       "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: web}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n",
	"app/deployment.yaml": `apiVersion: apps/v1
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

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestJoinHubOnLab runs join --hub and unjoin as a user does, against a
// real hub and a real member, and runs the engine with nothing but the
// credentials join stored in the hub.
func TestJoinHubOnLab(t *testing.T) {
	l, clusters := labtest.New(t,
		lab.ClusterSpec{Name: "hub", APIServerOnly: true},
		lab.ClusterSpec{Name: "m1", Nodes: []lab.NodeSpec{{Name: "node", Count: 1}}},
	)
	hub, m1 := clusters[0], clusters[1]
	ctx := t.Context()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := l.Kubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "topology.yaml")
	writeFiles(t, dir, hubJoinApp)
	writeFiles(t, dir, map[string]string{"topology.yaml": hubJoinTopology})
	hc, err := kubernetes.NewForConfig(hub.RESTConfig())
	must(t, err)
	mc, err := kubernetes.NewForConfig(m1.RESTConfig())
	must(t, err)

	// Everything every command printed, searched for the token at the end.
	var printed bytes.Buffer
	joinRun := func(t *testing.T, o *JoinOptions, args ...string) (string, error) {
		t.Helper()
		streams, _, out, errOut := genericiooptions.NewTestIOStreams()
		o.Context = ""
		o.ConfigFlags = &genericclioptions.ConfigFlags{KubeConfig: &kubeconfig}
		o.IOStreams = streams
		o.fleetFlags = fleetFlags{Refresh: "inventory", Parallel: 2, ClusterTimeout: 10 * time.Second, RequestTimeout: 30 * time.Second}
		if o.HubNamespace == "" {
			o.HubNamespace = defaultHubNamespace
		}
		o.TokenTimeout = 30 * time.Second
		if err := o.Complete(args, nil); err != nil {
			t.Fatal(err)
		}
		if err := o.Validate(); err != nil {
			t.Fatal(err)
		}
		err := o.Run(ctx)
		printed.Write(out.Bytes())
		printed.Write(errOut.Bytes())
		if err != nil {
			t.Logf("stderr:\n%s", errOut)
		}
		return out.String(), err
	}

	t.Run("dry run changes nothing", func(t *testing.T) {
		before, _ := os.ReadFile(file)
		out, err := joinRun(t, &JoinOptions{Options: join.Options{Filename: file, Region: "us-west1", Hub: "hub", DryRun: true}}, "m1")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"name: hubjoin\n",
			"\n---\n# RBAC of ServiceAccount kube-system/geofed on cluster m1: least privilege for the kinds " + file + " renders for it or has applied there.\n",
			"#   + ServiceAccount kube-system/geofed\n",
			"#   + Namespace geofed-system\n",
			"#   + Secret geofed-system/geofed-member-m1\n",
			"  kubeconfig: (sensitive)\n",
			"  - deployments\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("dry run output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "secrets") {
			t.Errorf("the topology renders no Secret, but secrets are granted:\n%s", out)
		}
		if after, _ := os.ReadFile(file); !bytes.Equal(before, after) {
			t.Errorf("the file changed:\n%s", after)
		}
		if _, err := mc.CoreV1().ServiceAccounts("kube-system").Get(ctx, "geofed", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("ServiceAccount: %v, want none", err)
		}
		if _, err := hc.CoreV1().Namespaces().Get(ctx, "geofed-system", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("hub Namespace: %v, want none", err)
		}
	})

	t.Run("join adds the cluster to the file and to the hub", func(t *testing.T) {
		out, err := joinRun(t, &JoinOptions{Options: join.Options{Filename: file, Region: "us-west1", Hub: "hub"}, printFlags: printFlags{Output: "json"}}, "m1")
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Context, HubContext, Cluster string
			Member, Hub                  []membership.Change
			HubSecret                    membership.Ref
			SecretKey                    string
			Plan                         json.RawMessage
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		var actions []string
		for _, c := range append(got.Member, got.Hub...) {
			actions = append(actions, c.Action.Symbol()+" "+c.Ref.String())
		}
		if d := cmp.Diff([]string{
			"+ ServiceAccount kube-system/geofed", "+ Secret kube-system/geofed-token",
			"+ ClusterRole geofed", "+ ClusterRoleBinding geofed", "+ Role kube-system/geofed", "+ RoleBinding kube-system/geofed",
			"+ Namespace geofed-system", "+ Secret geofed-system/geofed-member-m1",
		}, actions); d != "" {
			t.Errorf("changes (-want +got):\n%s", d)
		}
		if got.Context != "m1" || got.HubContext != "hub" || got.Cluster != "m1" || got.SecretKey != controller.MemberSecretKey ||
			got.HubSecret != (membership.Ref{Kind: "Secret", Namespace: "geofed-system", Name: controller.MemberSecretName("m1")}) {
			t.Errorf("result %+v", got)
		}
		if !strings.Contains(string(got.Plan), `"Deployment"`) {
			t.Errorf("the result's plan lacks the Deployment: %s", got.Plan)
		}
		data, _ := os.ReadFile(file)
		if !strings.Contains(string(data), "name: m1") {
			t.Errorf("m1 is not in the file:\n%s", data)
		}
	})

	// The credentials the control plane would use, and nothing else.
	secret, err := hc.CoreV1().Secrets("geofed-system").Get(ctx, controller.MemberSecretName("m1"), metav1.GetOptions{})
	must(t, err)
	stored := secret.Data[controller.MemberSecretKey]
	saKubeconfig := filepath.Join(t.TempDir(), "m1.kubeconfig")
	must(t, os.WriteFile(saKubeconfig, stored, 0o600))
	engineFile := filepath.Join(dir, "engine.yaml")
	// writeEngine writes doc as engine.yaml, with m1 reached through the
	// stored kubeconfig alone.
	writeEngine := func(t *testing.T, doc string) {
		writeFiles(t, dir, map[string]string{"engine.yaml": strings.Replace(doc, "  regions: []\n",
			"  regions:\n  - name: us-west1\n    clusters:\n    - name: m1\n      kubeconfig: {context: m1, path: "+saKubeconfig+"}\n", 1)})
	}
	writeEngine(t, hubJoinTopology)
	applyAs := func(t *testing.T) string {
		t.Helper()
		streams, _, out, errOut := genericiooptions.NewTestIOStreams()
		a := &ApplyOptions{Filename: engineFile, Yes: true, Prune: true, Wait: true, Timeout: 2 * time.Minute, LockTTL: inventory.DefaultLockTTL,
			fleetFlags: fleetFlags{Refresh: "inventory", Parallel: 2, ClusterTimeout: 10 * time.Second, RequestTimeout: 30 * time.Second},
			// Nothing of the admin's: the topology names the kubeconfig.
			ConfigFlags: &genericclioptions.ConfigFlags{KubeConfig: ptr(filepath.Join(t.TempDir(), "absent"))},
			IOStreams:   streams}
		a.Complete(nil)
		must(t, a.Validate())
		err := a.Run(ctx)
		printed.Write(out.Bytes())
		printed.Write(errOut.Bytes())
		if err != nil {
			t.Fatalf("apply as the ServiceAccount: %v\n%s\n%s", err, out, errOut)
		}
		return out.String()
	}

	// rejoin joins m1 again, with the file it is in, and returns what
	// changed, one line per object.
	rejoin := func(t *testing.T, granted string) []string {
		t.Helper()
		before, _ := os.ReadFile(file)
		out, err := joinRun(t, &JoinOptions{Options: join.Options{Filename: file, Hub: "hub"}}, "m1")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{
			"Cluster m1 (context m1) joined hub hub: the control plane reaches it at " + m1.Endpoint + " as ServiceAccount kube-system/geofed",
			"Granted: least privilege for the kinds " + file + " renders for it or has applied there: " + granted + "; --rbac prints the RBAC.\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if after, _ := os.ReadFile(file); !bytes.Equal(before, after) {
			t.Errorf("the file changed:\n%s", after)
		}
		var changed []string
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "  ") && !strings.HasSuffix(line, "(unchanged)") {
				changed = append(changed, strings.TrimSpace(line))
			}
		}
		if n := strings.Count(out, "(unchanged)\n"); n+len(changed) != 7 {
			t.Errorf("%d unchanged and %d changed, want the 6 objects on m1 and the hub Secret:\n%s", n, len(changed), out)
		}
		return changed
	}

	t.Run("the engine applies with the stored credentials", func(t *testing.T) {
		applyAs(t)
		d, err := mc.AppsV1().Deployments("web").Get(ctx, "web", metav1.GetOptions{})
		must(t, err)
		if d.Status.AvailableReplicas != 1 {
			t.Errorf("Deployment web/web has %d available replicas, want 1", d.Status.AvailableReplicas)
		}
		_, err = mc.CoreV1().ConfigMaps("web").Get(ctx, "web-config", metav1.GetOptions{})
		must(t, err)
		_, err = mc.CoreV1().Services("web").Get(ctx, "web", metav1.GetOptions{})
		must(t, err)
	})

	t.Run("the stored credentials are refused what was not granted", func(t *testing.T) {
		cfg, err := clientcmd.RESTConfigFromKubeConfig(stored)
		must(t, err)
		sa, err := kubernetes.NewForConfig(cfg)
		must(t, err)
		_, err = sa.CoreV1().Secrets("web").List(ctx, metav1.ListOptions{})
		if !apierrors.IsForbidden(err) {
			t.Errorf("listing Secrets (the topology renders none): %v, want Forbidden", err)
		}
		_, err = sa.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "geofed-escalates"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "kube-system", Name: "geofed"}},
		}, metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) {
			t.Errorf("creating a ClusterRoleBinding: %v, want Forbidden", err)
		}
		_, err = sa.AppsV1().StatefulSets("web").List(ctx, metav1.ListOptions{})
		if !apierrors.IsForbidden(err) {
			t.Errorf("listing StatefulSets (the topology renders none): %v, want Forbidden", err)
		}
	})

	t.Run("joining again changes nothing", func(t *testing.T) {
		if changed := rejoin(t, "configmaps, namespaces, services, deployments.apps"); len(changed) > 0 {
			t.Errorf("changed: %q", changed)
		}
	})

	t.Run("a kind the topology drops stays granted until it is pruned", func(t *testing.T) {
		writeFiles(t, dir, map[string]string{"app/kustomization.yaml": "resources: [namespace.yaml, service.yaml, deployment.yaml]\n"})
		// The inventory still holds the ConfigMap: prune needs the grant.
		if changed := rejoin(t, "configmaps, namespaces, services, deployments.apps"); len(changed) > 0 {
			t.Errorf("changed before the prune: %q", changed)
		}
		out := applyAs(t)
		if !strings.Contains(out, "ConfigMap web/web-config") {
			t.Errorf("the plan does not show the ConfigMap's deletion:\n%s", out)
		}
		if _, err := mc.CoreV1().ConfigMaps("web").Get(ctx, "web-config", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("ConfigMap web/web-config after prune: %v, want it gone", err)
		}
		if d := cmp.Diff([]string{"~ ClusterRole geofed"}, rejoin(t, "namespaces, services, deployments.apps")); d != "" {
			t.Errorf("changes after the prune (-want +got):\n%s", d)
		}
		if changed := rejoin(t, "namespaces, services, deployments.apps"); len(changed) > 0 {
			t.Errorf("changed: %q", changed)
		}
	})

	// Least privilege cannot list everything a Namespace holds, so prune
	// keeps it, and says why, rather than delete what it cannot see.
	t.Run("a Namespace the ServiceAccount cannot look into is kept", func(t *testing.T) {
		writeEngine(t, strings.Replace(hubJoinTopology, "  workloads:\n  - name: web\n    source: app\n", "  workloads: []\n", 1))
		out := applyAs(t)
		for _, want := range []string{
			// Whichever LIST fails first, as the ServiceAccount.
			"! Namespace web: kept — could not tell what else it holds: listing ",
			` is forbidden: User "system:serviceaccount:kube-system:geofed" cannot list resource `,
			"- apps/Deployment web/web (applied by geofed, no longer rendered)",
			"2 pruned",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("apply output lacks %q:\n%s", want, out)
			}
		}
		if _, err := mc.CoreV1().Namespaces().Get(ctx, "web", metav1.GetOptions{}); err != nil {
			t.Errorf("Namespace web: %v, want it kept", err)
		}
	})

	t.Run("unjoin removes it all but what it did not make", func(t *testing.T) {
		// The Role loses its label: it is someone else's now.
		_, err := mc.RbacV1().Roles("kube-system").Patch(ctx, "geofed", types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"`+membership.LabelMembership+`":null}}}`), metav1.PatchOptions{})
		must(t, err)
		streams, _, out, errOut := genericiooptions.NewTestIOStreams()
		u := &UnjoinOptions{Hub: "hub", HubNamespace: defaultHubNamespace, ConfigFlags: &genericclioptions.ConfigFlags{KubeConfig: &kubeconfig}, IOStreams: streams}
		must(t, u.Complete([]string{"m1"}))
		must(t, u.Validate())
		err = u.Run(ctx)
		printed.Write(out.Bytes())
		printed.Write(errOut.Bytes())
		if err != nil {
			t.Fatalf("unjoin: %v\n%s", err, errOut)
		}
		want := `On cluster m1 (context m1):
  - ClusterRoleBinding geofed
  - RoleBinding kube-system/geofed
  - ClusterRole geofed
  ! Role kube-system/geofed (not deleted: not made by geofed join (no geofed.io/membership label))
  - Secret kube-system/geofed-token
  - ServiceAccount kube-system/geofed
On hub hub:
  - Secret geofed-system/geofed-member-m1

Cluster m1 (context m1) unjoined from hub hub.
`
		if d := cmp.Diff(want, out.String()); d != "" {
			t.Errorf("unjoin output (-want +got):\n%s", d)
		}
		if _, err := mc.CoreV1().ServiceAccounts("kube-system").Get(ctx, "geofed", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("ServiceAccount: %v, want it gone", err)
		}
		if _, err := mc.RbacV1().Roles("kube-system").Get(ctx, "geofed", metav1.GetOptions{}); err != nil {
			t.Errorf("the unlabelled Role: %v, want it kept", err)
		}
		if _, err := hc.CoreV1().Secrets("geofed-system").Get(ctx, controller.MemberSecretName("m1"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("hub Secret: %v, want it gone", err)
		}
		// The engine's credentials stop working.
		cfg, err := clientcmd.RESTConfigFromKubeConfig(stored)
		must(t, err)
		sa, err := kubernetes.NewForConfig(cfg)
		must(t, err)
		// The apiserver caches a token's authentication for up to 10s.
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := sa.CoreV1().Namespaces().Get(ctx, "web", metav1.GetOptions{})
			if apierrors.IsUnauthorized(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("the token after unjoin: %v, want Unauthorized", err)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("no token or kubeconfig was printed", func(t *testing.T) {
		cfg, err := clientcmd.Load(stored)
		must(t, err)
		token := cfg.AuthInfos["m1"].Token
		if len(token) < 100 {
			t.Fatalf("the stored token is %d bytes: not a token", len(token))
		}
		for what, s := range map[string]string{
			"token":                   token,
			"token, base64":           base64.StdEncoding.EncodeToString([]byte(token)),
			"kubeconfig, base64":      base64.StdEncoding.EncodeToString(stored)[:40],
			"first part of the token": token[:30],
		} {
			if strings.Contains(printed.String(), s) {
				t.Errorf("the %s was printed", what)
			}
		}
		if printed.Len() == 0 {
			t.Error("nothing was collected")
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
