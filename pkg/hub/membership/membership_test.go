package membership

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/internal/memfs"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

var (
	all  = []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	read = []string{"get", "list", "watch"}
	// kubeSystem is the Role's rules whatever the workloads.
	kubeSystem = []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: all},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: all},
	}
)

func rule(group string, verbs []string, resources ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{APIGroups: []string{group}, Resources: resources, Verbs: verbs}
}

func TestComputeRules(t *testing.T) {
	for _, tt := range []struct {
		name      string
		workloads []schema.GroupResource
		cluster   []rbacv1.PolicyRule
		notes     []string
	}{
		{
			name: "no workloads: what the engine reads and its namespaces",
			cluster: []rbacv1.PolicyRule{
				rule("", all, "namespaces"),
				rule("", read, "nodes", "pods"),
				rule("apps", read, "replicasets"),
			},
		},
		{
			name:      "default workloads",
			workloads: DefaultWorkloads(),
			cluster: []rbacv1.PolicyRule{
				rule("", all, "configmaps", "namespaces", "persistentvolumeclaims", "secrets", "serviceaccounts", "services"),
				rule("", read, "nodes", "pods"),
				rule("apps", all, "daemonsets", "deployments", "statefulsets"),
				rule("apps", read, "replicasets"),
				rule("autoscaling", all, "horizontalpodautoscalers"),
				rule("batch", all, "cronjobs", "jobs"),
				rule("networking.k8s.io", all, "ingresses", "networkpolicies"),
				rule("policy", all, "poddisruptionbudgets"),
			},
		},
		{
			name: "a workload kind the engine also reads gets every verb, once",
			workloads: []schema.GroupResource{
				{Resource: "pods"}, {Group: "apps", Resource: "replicasets"}, {Resource: "pods"}, {Resource: "namespaces"},
			},
			cluster: []rbacv1.PolicyRule{
				rule("", all, "namespaces", "pods"),
				rule("", read, "nodes"),
				rule("apps", all, "replicasets"),
			},
		},
		{
			name: "custom resources and CRDs",
			workloads: []schema.GroupResource{
				{Group: "example.com", Resource: "widgets"}, {Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"},
			},
			cluster: []rbacv1.PolicyRule{
				rule("", all, "namespaces"),
				rule("", read, "nodes", "pods"),
				rule("apiextensions.k8s.io", all, "customresourcedefinitions"),
				rule("apps", read, "replicasets"),
				rule("example.com", all, "widgets"),
			},
		},
		{
			name: "RBAC kinds add bind and escalate on roles and clusterroles, and say so",
			workloads: []schema.GroupResource{
				{Group: "rbac.authorization.k8s.io", Resource: "rolebindings"}, {Group: "rbac.authorization.k8s.io", Resource: "roles"},
			},
			cluster: []rbacv1.PolicyRule{
				rule("", all, "namespaces"),
				rule("", read, "nodes", "pods"),
				rule("apps", read, "replicasets"),
				rule("rbac.authorization.k8s.io", []string{"bind", "escalate"}, "clusterroles"),
				rule("rbac.authorization.k8s.io", all, "rolebindings"),
				rule("rbac.authorization.k8s.io", append(append([]string{}, all...), "bind", "escalate"), "roles"),
			},
			notes: []string{"The workloads include RBAC objects (rolebindings, roles.rbac.authorization.k8s.io): applying them needs bind and escalate on roles and clusterroles, which are granted. " +
				"With them the ServiceAccount can grant itself anything: as much as cluster-admin."},
		},
		{
			name:      "a same-named resource of another group is not an RBAC kind",
			workloads: []schema.GroupResource{{Group: "example.com", Resource: "roles"}},
			cluster: []rbacv1.PolicyRule{
				rule("", all, "namespaces"),
				rule("", read, "nodes", "pods"),
				rule("apps", read, "replicasets"),
				rule("example.com", all, "roles"),
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := ComputeRules(tt.workloads)
			if d := cmp.Diff(tt.cluster, got.Cluster); d != "" {
				t.Errorf("ClusterRole rules (-want +got):\n%s", d)
			}
			if d := cmp.Diff(kubeSystem, got.Namespace); d != "" {
				t.Errorf("Role rules (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.notes, got.Notes); d != "" {
				t.Errorf("notes (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseGrant(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want schema.GroupResource
		err  string
	}{
		{in: "configmaps", want: schema.GroupResource{Resource: "configmaps"}},
		{in: "deployments.apps", want: schema.GroupResource{Group: "apps", Resource: "deployments"}},
		{in: "widgets.example.com", want: schema.GroupResource{Group: "example.com", Resource: "widgets"}},
		{in: "", err: `--grant "": want RESOURCE.GROUP`},
		{in: "Deployment.apps", err: `--grant "Deployment.apps": want RESOURCE.GROUP`},
		{in: ".apps", err: `--grant ".apps": want RESOURCE.GROUP`},
		{in: "widgets.Example_com", err: `--grant "widgets.Example_com": API group "Example_com"`},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseGrant(tt.in)
			switch {
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("ParseGrant(%q) = %v, %v; want error %q", tt.in, got, err, tt.err)
			case tt.err == "" && err != nil:
				t.Fatalf("ParseGrant(%q): %v", tt.in, err)
			case got != tt.want:
				t.Errorf("ParseGrant(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestResources(t *testing.T) {
	mapper := meta.NewDefaultRESTMapper([]schema.GroupVersion{{Version: "v1"}, {Group: "apps", Version: "v1"}})
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	mapper.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace)
	widget := schema.GroupKind{Group: "example.com", Kind: "Widget"}
	deployment := schema.GroupKind{Group: "apps", Kind: "Deployment"}

	got, err := Resources(mapper, Kinds{
		GroupKinds: []schema.GroupKind{deployment, {Kind: "ConfigMap"}, widget},
		Defined:    map[schema.GroupKind]schema.GroupResource{widget: {Group: "example.com", Resource: "widgets"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []schema.GroupResource{{Resource: "configmaps"}, {Group: "apps", Resource: "deployments"}, {Group: "example.com", Resource: "widgets"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Resources (-want +got):\n%s", d)
	}

	_, err = Resources(mapper, Kinds{GroupKinds: []schema.GroupKind{deployment, widget}})
	if err == nil || !strings.Contains(err.Error(), "example.com/Widget: ") {
		t.Errorf("a kind neither served nor defined: %v, want an error naming example.com/Widget", err)
	}

	// What the inventory says geofed applied stays granted, so prune can
	// delete it; an applied kind no longer served has nothing to prune.
	inv := &inventory.Inventory{Entries: []inventory.Entry{
		{Version: "v1", Kind: "ConfigMap", Namespace: "web", Name: "old"},
		{Group: "example.com", Version: "v1", Kind: "Widget", Namespace: "web", Name: "gone"},
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "web", Name: "web"},
	}}
	k := Kinds{GroupKinds: []schema.GroupKind{deployment}}.WithApplied(inv)
	if d := cmp.Diff([]schema.GroupKind{{Kind: "ConfigMap"}, deployment, widget}, k.Applied); d != "" {
		t.Errorf("WithApplied (-want +got):\n%s", d)
	}
	got, err = Resources(mapper, k)
	if err != nil {
		t.Fatal(err)
	}
	want = []schema.GroupResource{{Resource: "configmaps"}, {Group: "apps", Resource: "deployments"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Resources with applied kinds (-want +got):\n%s", d)
	}
}

const kindsTopology = `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: kinds}
spec:
  regions:
  - name: us-west1
    clusters:
    - name: a
      labels: {role: web}
      kubeconfig: {context: a}
    - name: b
      kubeconfig: {context: b}
  workloads:
  - name: web
    source: web
    placement:
      clusterSelector: {matchLabels: {role: web}}
      replicas: {total: 3, divideBy: capacity}
  - name: widgets
    source: widgets
    placement: {clusters: [b]}
`

func TestTopologyKinds(t *testing.T) {
	fs := memfs.New(t, map[string]string{
		"/t/web/kustomization.yaml": "resources: [ns.yaml, deploy.yaml]\n",
		"/t/web/ns.yaml":            "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n",
		"/t/web/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web}]}
`,
		"/t/widgets/kustomization.yaml": "resources: [crd.yaml, widget.yaml]\n",
		"/t/widgets/crd.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`,
		"/t/widgets/widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: default}\n",
	})
	topo := memfs.Topology(t, fs, "/t/topology.yaml", kindsTopology)

	// A divides by capacity, which nobody has read: the kinds do not
	// depend on the share.
	a, err := TopologyKinds(topo, fs, "a")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(Kinds{
		GroupKinds: []schema.GroupKind{{Kind: "Namespace"}, {Group: "apps", Kind: "Deployment"}},
		Defined:    map[schema.GroupKind]schema.GroupResource{},
	}, a); d != "" {
		t.Errorf("cluster a (-want +got):\n%s", d)
	}
	b, err := TopologyKinds(topo, fs, "b")
	if err != nil {
		t.Fatal(err)
	}
	widget := schema.GroupKind{Group: "example.com", Kind: "Widget"}
	if d := cmp.Diff(Kinds{
		GroupKinds: []schema.GroupKind{{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}, widget},
		Defined:    map[schema.GroupKind]schema.GroupResource{widget: {Group: "example.com", Resource: "widgets"}},
	}, b); d != "" {
		t.Errorf("cluster b (-want +got):\n%s", d)
	}
	if _, err := TopologyKinds(topo, fs, "c"); err == nil || !strings.Contains(err.Error(), `cluster "c" is not in topology kinds`) {
		t.Errorf("unknown cluster: %v", err)
	}
}

func TestKubeconfig(t *testing.T) {
	data, err := Kubeconfig("m1", Endpoint{Server: "https://10.0.0.1:6443", CAData: []byte("CA"), TLSServerName: "api.m1"}, []byte("t0ken"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.NewDefaultClientConfig(*cfg, nil).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != "m1" || rc.Host != "https://10.0.0.1:6443" || string(rc.CAData) != "CA" || rc.ServerName != "api.m1" || rc.BearerToken != "t0ken" {
		t.Errorf("kubeconfig gives context %q, host %q, CA %q, server name %q, token %q", cfg.CurrentContext, rc.Host, rc.CAData, rc.ServerName, rc.BearerToken)
	}
	if len(cfg.Contexts) != 1 || len(cfg.AuthInfos) != 1 || len(cfg.Clusters) != 1 {
		t.Errorf("want one context, user and cluster, got %d, %d, %d", len(cfg.Contexts), len(cfg.AuthInfos), len(cfg.Clusters))
	}
}

func TestWriteYAMLRedactsSecrets(t *testing.T) {
	var buf bytes.Buffer
	objs := append(MemberObjects("m1", Access{ClusterAdmin: true}), HubSecret("m1", "geofed-system", []byte("token: t0ken")))
	if err := WriteYAML(&buf, []string{"a comment"}, objs); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "t0ken") || strings.Contains(out, "dG9rZW46IHQwa2Vu") {
		t.Errorf("the Secret's value is printed:\n%s", out)
	}
	for _, want := range []string{"# a comment\napiVersion: v1\nkind: ServiceAccount\n", "\n---\n", "kubeconfig: (sensitive)", "name: cluster-admin"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "---\n"); n != len(objs)-1 {
		t.Errorf("%d separators for %d objects:\n%s", n, len(objs), out)
	}
}

func TestMemberObjects(t *testing.T) {
	refs := func(objs []Object) []string {
		var out []string
		for _, o := range objs {
			out = append(out, o.Ref.String())
		}
		return out
	}
	if d := cmp.Diff([]string{
		"ServiceAccount kube-system/geofed", "Secret kube-system/geofed-token",
		"ClusterRole geofed", "ClusterRoleBinding geofed", "Role kube-system/geofed", "RoleBinding kube-system/geofed",
	}, refs(MemberObjects("m1", Access{Rules: ComputeRules(nil)}))); d != "" {
		t.Errorf("least privilege (-want +got):\n%s", d)
	}
	admin := MemberObjects("m1", Access{ClusterAdmin: true})
	if d := cmp.Diff([]string{"ServiceAccount kube-system/geofed", "Secret kube-system/geofed-token", "ClusterRoleBinding geofed"}, refs(admin)); d != "" {
		t.Errorf("cluster-admin (-want +got):\n%s", d)
	}
	if ref, _ := bindingRoleRef(admin[2]); ref.Name != "cluster-admin" {
		t.Errorf("cluster-admin binds %+v", ref)
	}
	// Every object join makes is one unjoin deletes.
	for _, o := range append(MemberObjects("m1", Access{}), admin...) {
		found := false
		for _, r := range memberRefs {
			found = found || r == o.Ref
		}
		if !found {
			t.Errorf("%s is not among the objects unjoin deletes", o.Ref)
		}
	}
}

// TestJoinOnLab joins a real member (whose controller manager fills the
// token) to a real hub, and checks what the stored credentials may and may
// not do, re-joins, switches access, and unjoins, also with the member down.
func TestJoinOnLab(t *testing.T) {
	_, clusters := labtest.New(t,
		lab.ClusterSpec{Name: "hub", APIServerOnly: true},
		lab.ClusterSpec{Name: "m1", Nodes: []lab.NodeSpec{{Name: "node", Count: 1}}},
	)
	hub, m1 := clusters[0], clusters[1]
	ctx := t.Context()
	hc := clientset(t, hub.RESTConfig())
	mc := clientset(t, m1.RESTConfig())
	leastPrivilege := Access{Rules: ComputeRules([]schema.GroupResource{
		{Resource: "configmaps"}, {Resource: "services"}, {Group: "apps", Resource: "deployments"},
	})}
	join := func(t *testing.T, a Access) (*JoinResult, error) {
		t.Helper()
		return Join(ctx, JoinOptions{
			Cluster: "m1", Member: mc, Hub: hc, HubName: "hub", HubNamespace: "geofed-system",
			Access: a, Endpoint: Endpoint{Server: m1.Endpoint}, TokenTimeout: 30 * time.Second,
		})
	}

	var identity kubernetes.Interface
	t.Run("join creates the objects and a working kubeconfig", func(t *testing.T) {
		res, err := join(t, leastPrivilege)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range append(res.Member, res.Hub...) {
			if c.Action != object.ActionCreate {
				t.Errorf("%s: %s, want create", c.Ref, c.Action)
			}
		}
		if len(res.Member) != 6 || len(res.Hub) != 2 {
			t.Errorf("changes %+v %+v, want 6 on the member and the Namespace and Secret on the hub", res.Member, res.Hub)
		}
		for _, ref := range memberRefs {
			l, err := getLive(ctx, mc, ref)
			if err != nil || !l.exists || l.labels[LabelMembership] != "m1" || l.labels[object.LabelManagedBy] != object.ManagedByValue {
				t.Errorf("%s: %+v %v, want it labelled for m1", ref, l, err)
			}
		}
		identity = clientset(t, hubKubeconfig(t, hc))
		// The engine's own requests: the inventory and the lock, what it
		// applies, what it reads.
		if _, err := identity.CoreV1().ConfigMaps(Namespace).List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("listing ConfigMaps in kube-system: %v", err)
		}
		if _, err := identity.CoordinationV1().Leases(Namespace).List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("listing Leases in kube-system: %v", err)
		}
		if _, err := identity.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("listing Nodes: %v", err)
		}
		if _, err := identity.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe"}},
			metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Errorf("creating a ConfigMap: %v", err)
		}
		forbidden(t, "listing Secrets", func() error {
			_, err := identity.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{})
			return err
		})
		forbidden(t, "creating a ClusterRoleBinding", func() error {
			_, err := identity.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: "geofed-escalates"},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: Namespace, Name: Name}},
			}, metav1.CreateOptions{})
			return err
		})
		forbidden(t, "listing Leases outside kube-system", func() error {
			_, err := identity.CoordinationV1().Leases("kube-public").List(ctx, metav1.ListOptions{})
			return err
		})
	})

	t.Run("joining again changes nothing", func(t *testing.T) {
		before := resourceVersions(t, mc, hc)
		res, err := join(t, leastPrivilege)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range append(res.Member, res.Hub...) {
			if c.Action != object.ActionNoop {
				t.Errorf("%s: %s, want noop", c.Ref, c.Action)
			}
		}
		if d := cmp.Diff(before, resourceVersions(t, mc, hc)); d != "" {
			t.Errorf("resourceVersions moved (-before +after):\n%s", d)
		}
	})

	t.Run("cluster-admin and back", func(t *testing.T) {
		res, err := join(t, Access{ClusterAdmin: true})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]object.Action{}
		for _, c := range res.Member {
			got[c.Ref.String()] = c.Action
		}
		if d := cmp.Diff(map[string]object.Action{
			"ServiceAccount kube-system/geofed": object.ActionNoop, "Secret kube-system/geofed-token": object.ActionNoop,
			"ClusterRoleBinding geofed": object.ActionReplace,
			"ClusterRole geofed":        object.ActionDelete, "Role kube-system/geofed": object.ActionDelete, "RoleBinding kube-system/geofed": object.ActionDelete,
		}, got); d != "" {
			t.Errorf("switching to cluster-admin (-want +got):\n%s", d)
		}
		eventually(t, "listing Secrets as cluster-admin", func() error {
			_, err := identity.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{})
			return err
		})
		if _, err := join(t, leastPrivilege); err != nil {
			t.Fatal(err)
		}
		eventually(t, "Secrets forbidden again", func() error {
			_, err := identity.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{})
			if apierrors.IsForbidden(err) {
				return nil
			}
			return errors.New("still allowed")
		})
	})

	t.Run("the token controller's absence is a clear error", func(t *testing.T) {
		// The apiserver-only hub has no controller manager.
		_, err := Join(ctx, JoinOptions{Cluster: "bare", Member: hc, Hub: hc, HubNamespace: "geofed-system",
			Access: leastPrivilege, Endpoint: Endpoint{Server: hub.Endpoint}, TokenTimeout: 2 * time.Second})
		want := "waiting for the token in Secret kube-system/geofed-token on cluster bare: not filled after 2s; its kube-controller-manager's token controller"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Join = %v, want %q", err, want)
		}
		if want := "applied on cluster bare so far: ServiceAccount kube-system/geofed, Secret kube-system/geofed-token, ClusterRole geofed,"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Join = %v, want it to say what is left: %q", err, want)
		}
		if _, err := Unjoin(ctx, UnjoinOptions{Cluster: "bare", Member: hc, Hub: hc, HubNamespace: "geofed-system"}); err != nil {
			t.Errorf("unjoining bare: %v", err)
		}
	})

	t.Run("join refuses an object it did not make, changing nothing", func(t *testing.T) {
		must(t, mc.RbacV1().RoleBindings(Namespace).Delete(ctx, Name, metav1.DeleteOptions{}))
		_, err := mc.RbacV1().RoleBindings(Namespace).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: Name, Labels: map[string]string{"owner": "someone"}},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "alice"}},
		}, metav1.CreateOptions{})
		must(t, err)
		before := resourceVersions(t, mc, hc)
		_, err = join(t, leastPrivilege)
		want := `RoleBinding kube-system/geofed on cluster m1: not made by geofed join (no geofed.io/membership label)`
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "nothing was changed") {
			t.Fatalf("Join = %v, want a refusal naming %q", err, want)
		}
		if d := cmp.Diff(before, resourceVersions(t, mc, hc)); d != "" {
			t.Errorf("a refused join changed objects (-before +after):\n%s", d)
		}
	})

	t.Run("unjoin deletes what join made, and leaves the rest", func(t *testing.T) {
		res, err := Unjoin(ctx, UnjoinOptions{Cluster: "m1", Member: mc, Hub: hc, HubName: "hub", HubNamespace: "geofed-system"})
		if err != nil {
			t.Fatal(err)
		}
		left := res.Left()
		if len(left) != 1 || left[0].Ref != refRoleBinding || !strings.Contains(left[0].Reason, "not deleted: not made by geofed join") {
			t.Errorf("left %+v, want the hand-made RoleBinding", left)
		}
		for _, ref := range memberRefs {
			l, err := getLive(ctx, mc, ref)
			must(t, err)
			if l.exists != (ref == refRoleBinding) {
				t.Errorf("%s exists: %v", ref, l.exists)
			}
		}
		if _, err := hc.CoreV1().Secrets("geofed-system").Get(ctx, SecretName("m1"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("hub Secret: %v, want it gone", err)
		}
		// Again: nothing is left to delete, and that is fine.
		res, err = Unjoin(ctx, UnjoinOptions{Cluster: "m1", Member: mc, Hub: hc, HubNamespace: "geofed-system"})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range append(res.Member, res.Hub...) {
			if want := object.ActionNoop; c.Ref == refRoleBinding {
				want = object.ActionAttention
				if c.Action != want {
					t.Errorf("second unjoin: %s %s", c.Ref, c.Action)
				}
			} else if c.Action != want {
				t.Errorf("second unjoin: %s %s, want noop", c.Ref, c.Action)
			}
		}
		must(t, mc.RbacV1().RoleBindings(Namespace).Delete(ctx, Name, metav1.DeleteOptions{}))
	})

	t.Run("an unreachable member still loses its hub Secret", func(t *testing.T) {
		if _, err := join(t, Access{ClusterAdmin: true}); err != nil {
			t.Fatal(err)
		}
		must(t, m1.StopAPIServer(ctx))
		res, err := Unjoin(ctx, UnjoinOptions{Cluster: "m1", Member: mc, Hub: hc, HubNamespace: "geofed-system"})
		if err == nil || !strings.Contains(err.Error(), "cluster m1 could not be reached") {
			t.Errorf("Unjoin = %v, want the member unreachable", err)
		}
		if res.MemberUnreachable == "" || len(res.Left()) != len(memberRefs) {
			t.Errorf("result %+v, want every member object listed as left", res)
		}
		if len(res.Hub) != 1 || res.Hub[0].Action != object.ActionDelete {
			t.Errorf("hub %+v, want the Secret deleted", res.Hub)
		}
		must(t, m1.StartAPIServer(ctx))
		if _, err := Unjoin(ctx, UnjoinOptions{Cluster: "m1", Member: mc, Hub: hc, HubNamespace: "geofed-system"}); err != nil {
			t.Fatalf("unjoining again once m1 answers: %v", err)
		}
		if _, err := mc.CoreV1().ServiceAccounts(Namespace).Get(ctx, Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("ServiceAccount: %v, want it gone", err)
		}
	})
}

func clientset(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	cfg.QPS, cfg.Burst = 100, 200
	cs, err := kubernetes.NewForConfig(cfg)
	must(t, err)
	return cs
}

// hubKubeconfig is the client configuration in the hub Secret.
func hubKubeconfig(t *testing.T, hc kubernetes.Interface) *rest.Config {
	t.Helper()
	s, err := hc.CoreV1().Secrets("geofed-system").Get(t.Context(), SecretName("m1"), metav1.GetOptions{})
	must(t, err)
	cfg, err := clientcmd.RESTConfigFromKubeConfig(s.Data[SecretKey])
	must(t, err)
	if cfg.BearerToken == "" || len(cfg.CAData) == 0 {
		t.Fatal("the hub Secret's kubeconfig has no token or no CA")
	}
	return cfg
}

// resourceVersions of every object join may make, and the hub Secret.
func resourceVersions(t *testing.T, mc, hc kubernetes.Interface) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, ref := range memberRefs {
		l, err := getLive(t.Context(), mc, ref)
		must(t, err)
		out[ref.String()] = l.rv
	}
	l, err := getLive(t.Context(), hc, HubSecret("m1", "geofed-system", nil).Ref)
	must(t, err)
	out["hub"] = l.rv
	return out
}

func forbidden(t *testing.T, what string, do func() error) {
	t.Helper()
	if err := do(); !apierrors.IsForbidden(err) {
		t.Errorf("%s: %v, want Forbidden", what, err)
	}
}

// eventually retries until do succeeds: the RBAC authorizer sees changes
// through its informers.
func eventually(t *testing.T, what string, do func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := do()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v after 10s", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
