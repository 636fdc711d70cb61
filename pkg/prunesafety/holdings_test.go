package prunesafety

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
)

func TestHeldString(t *testing.T) {
	for _, tc := range []struct {
		h    Held
		want string
	}{
		{Held{Version: "v1", Kind: "ConfigMap", Name: "notes"}, "ConfigMap notes"},
		{Held{Group: "apps", Version: "v1", Kind: "Deployment", Name: "feature-cache"}, "apps/Deployment feature-cache"},
		{Held{Group: "geofed.io", Version: "v1", Kind: "Widget", Namespace: "ml", Name: "spare"}, "geofed.io/Widget ml/spare"},
		{Held{Group: "geofed.io", Version: "v1", Kind: "Gadget", Name: "spare"}, "geofed.io/Gadget spare"},
	} {
		if got := tc.h.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.h, got, tc.want)
		}
	}
}

// TestSetOwnership covers what a lab cannot easily show: several owners,
// owners outside the listed objects, and ownership cycles.
func terminating(o object) object {
	o.terminating = true
	return o
}

func TestSetOwnership(t *testing.T) {
	// obj is a ConfigMap named and UID'd name, owned by the UIDs owners.
	obj := func(name string, owners ...string) object {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("ConfigMap")
		u.SetName(name)
		u.SetUID(types.UID(name))
		var refs []metav1.OwnerReference
		for _, o := range owners {
			refs = append(refs, metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: o, UID: types.UID(o)})
		}
		u.SetOwnerReferences(refs)
		return newObject(u, false)
	}
	for _, tc := range []struct {
		name     string
		objs     []object
		deleting []string
		want     []string
	}{
		{"nothing", nil, nil, nil},
		{"deleted", []object{obj("a")}, []string{"a"}, nil},
		{"kept", []object{obj("a")}, nil, []string{"a"}},
		{"made by Kubernetes", []object{obj("kube-root-ca.crt")}, nil, nil},
		{"a chain under a deleted owner", []object{obj("pod", "rs"), obj("rs", "deploy"), obj("deploy")}, []string{"deploy"}, nil},
		{"a chain under a kept owner is named by its top", []object{obj("pod", "rs"), obj("rs", "deploy"), obj("deploy")}, nil, []string{"deploy"}},
		{"a deleted owner outside the objects", []object{obj("a", "gone")}, []string{"gone"}, nil},
		{"a kept owner outside the objects", []object{obj("a", "cluster-scoped")}, nil, []string{"a"}},
		// Already on its way out (a Pod the garbage collector is removing
		// after its ReplicaSet went): deleting the namespace loses nothing.
		{"terminating", []object{terminating(obj("pod", "rs-already-gone"))}, nil, nil},
		{"terminating owner takes its dependents", []object{obj("pod", "rs"), terminating(obj("rs"))}, nil, nil},
		{"one of two owners deleted: the garbage collector keeps it", []object{obj("a", "gone", "cluster-scoped")}, []string{"gone"}, []string{"a"}},
		{"both owners deleted", []object{obj("a", "b", "c"), obj("b"), obj("c")}, []string{"b", "c"}, nil},
		{"owned by a deleted and a kept object is named by the kept one", []object{obj("a", "b", "c"), obj("b"), obj("c")}, []string{"b"}, []string{"c"}},
		{"a cycle is named whole", []object{obj("a", "b"), obj("b", "a"), obj("c", "a")}, nil, []string{"a", "b", "c"}},
		{"a cycle under a kept owner is named by it", []object{obj("a", "b", "top"), obj("b", "a"), obj("top")}, nil, []string{"top"}},
		{"a deleted cycle", []object{obj("a", "b"), obj("b", "a")}, []string{"a", "b"}, nil},
		{"a cycle under a deleted owner stays", []object{obj("a", "b", "gone"), obj("b", "a")}, []string{"gone"}, []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deleting := map[types.UID]bool{}
			for _, uid := range tc.deleting {
				deleting[types.UID(uid)] = true
			}
			var got []string
			for _, h := range newSet(tc.objs, deleting).held() {
				got = append(got, h.Name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("held (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLab checks both holdings against one real cluster, whose controllers
// make ReplicaSets, Pods, Endpoints, EndpointSlices, Events, the default
// ServiceAccount and kube-root-ca.crt as they do everywhere.
func TestLab(t *testing.T) {
	_, clusters := labtest.New(t, lab.ClusterSpec{Name: "c1", Nodes: []lab.NodeSpec{{Name: "cpu", Count: 1}}})
	cfg := clusters[0].RESTConfig()
	cfg.QPS, cfg.Burst = 500, 1000
	l := newLabClients(t, cfg)
	ctx := context.Background()

	t.Run("namespaces", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			// kept makes what a person or another workload adds beside
			// what geofed applied.
			kept func(l *labClients, ns string)
			want []string
		}{
			{
				name: "only what the prune deletes",
				kept: func(*labClients, string) {},
			},
			{
				name: "a hand-made ConfigMap and another workload's Deployment",
				kept: func(l *labClients, ns string) {
					l.configMap(ns, "notes")
					l.deployment(ns, "feature-cache")
				},
				want: []string{"ConfigMap notes", "apps/Deployment feature-cache"},
			},
			{
				name: "another workload's Service is named without its Endpoints",
				kept: func(l *labClients, ns string) {
					l.deployment(ns, "cache")
					l.service(ns, "cache")
				},
				want: []string{"apps/Deployment cache", "Service cache"},
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				l := l.forTest(t)
				ns := l.namespace()
				// What geofed applied, all deleted by the same prune.
				deleting := map[types.UID]bool{
					l.nsUID(ns):                 true,
					l.deployment(ns, "web"):     true,
					l.service(ns, "web"):        true,
					l.configMap(ns, "settings"): true,
				}
				tc.kept(l, ns)
				l.waitSettled(ns)
				l.logContents(ns)

				start := time.Now()
				held, err := NamespaceHoldings(ctx, Options{Client: l.dyn, Discovery: l.disco, Deleting: deleting}, ns)
				t.Logf("NamespaceHoldings: %s", time.Since(start))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, strs(held)); diff != "" {
					t.Errorf("NamespaceHoldings (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("CRDs", func(t *testing.T) {
		for _, tc := range []struct {
			scope, kind, plural string
			// appliedNS and keptNS are where the custom resources are
			// made, none for cluster-scoped ones.
			appliedNS, keptNS string
			want              string
		}{
			{"Namespaced", "Widget", "widgets", "crd-applied", "crd-kept", "geofed.io/Widget crd-kept/spare"},
			{"Cluster", "Gadget", "gadgets", "", "", "geofed.io/Gadget spare"},
		} {
			t.Run(tc.scope, func(t *testing.T) {
				l := l.forTest(t)
				crd := l.crd(tc.scope, tc.kind, tc.plural)
				gvr := schema.GroupVersionResource{Group: "geofed.io", Version: "v1", Resource: tc.plural}
				applied := l.customResource(gvr, tc.kind, tc.appliedNS, "applied")
				o := Options{Client: l.dyn, Discovery: l.disco, Deleting: map[types.UID]bool{applied: true}}

				held, err := CRDHoldings(ctx, o, crd)
				if err != nil {
					t.Fatal(err)
				}
				if len(held) != 0 {
					t.Errorf("with only a deleted custom resource: CRDHoldings = %v, want none", held)
				}

				l.customResource(gvr, tc.kind, tc.keptNS, "spare")
				held, err = CRDHoldings(ctx, o, crd)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff([]string{tc.want}, strs(held)); diff != "" {
					t.Errorf("with another custom resource: CRDHoldings (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("lists every page", func(t *testing.T) {
		l := l.forTest(t)
		crd := l.crd("Namespaced", "Bulk", "bulks")
		l.ensureNamespace("bulk")
		gvr := schema.GroupVersionResource{Group: "geofed.io", Version: "v1", Resource: "bulks"}
		var g errgroup.Group
		g.SetLimit(32)
		uids := make([]types.UID, 2*pageSize)
		start := time.Now()
		for i := range uids {
			g.Go(func() error {
				var err error
				uids[i], err = l.createCustomResource(gvr, "Bulk", "bulk", fmt.Sprintf("b-%04d", i))
				return err
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		t.Logf("created %d custom resources in %s", len(uids), time.Since(start))
		deleting := map[types.UID]bool{}
		for _, uid := range uids {
			deleting[uid] = true
		}
		// Listed in key order, so this one is on the last page.
		l.customResource(gvr, "Bulk", "bulk", "zz-spare")
		first, err := l.dyn.Resource(gvr).List(ctx, metav1.ListOptions{Limit: pageSize})
		if err != nil || first.GetContinue() == "" || len(first.Items) != pageSize {
			t.Fatalf("a first page of %d: %d items, continue %q, %v; want a full page and more", pageSize, len(first.Items), first.GetContinue(), err)
		}

		start = time.Now()
		held, err := CRDHoldings(ctx, Options{Client: l.dyn, Discovery: l.disco, Deleting: deleting}, crd)
		t.Logf("CRDHoldings over %d custom resources: %s", len(uids)+1, time.Since(start))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"geofed.io/Bulk bulk/zz-spare"}, strs(held)); diff != "" {
			t.Errorf("CRDHoldings over three pages (-want +got):\n%s", diff)
		}
	})

	t.Run("errors say what was being listed", func(t *testing.T) {
		l := l.forTest(t)
		ns := l.namespace()
		crd := l.crd("Namespaced", "Secretive", "secretives")
		// Everyone may discover; this user may list nothing.
		nobody := rest.CopyConfig(cfg)
		nobody.Impersonate = rest.ImpersonationConfig{UserName: "nobody"}
		o := Options{Client: newLabClients(t, nobody).dyn, Discovery: l.disco}

		_, err := NamespaceHoldings(ctx, o, ns)
		t.Logf("NamespaceHoldings as nobody: %v", err)
		if want := regexp.MustCompile(`^listing \S+ \S+ in namespace ` + ns + `: .* is forbidden: User "nobody" cannot list`); err == nil || !want.MatchString(err.Error()) {
			t.Errorf("NamespaceHoldings as nobody: %v, want an error matching %s", err, want)
		}
		_, err = CRDHoldings(ctx, o, crd)
		t.Logf("CRDHoldings as nobody: %v", err)
		if want := `listing geofed.io/v1 secretives in every namespace: `; err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "forbidden") {
			t.Errorf("CRDHoldings as nobody: %v, want %q and forbidden", err, want)
		}
	})
}

func strs(held []Held) []string {
	var out []string
	for _, h := range held {
		out = append(out, h.String())
	}
	return out
}

// labClients make and wait for objects in the lab cluster, failing t.
type labClients struct {
	t     *testing.T
	cs    kubernetes.Interface
	dyn   dynamic.Interface
	disco *discovery.DiscoveryClient
}

func newLabClients(t *testing.T, cfg *rest.Config) *labClients {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &labClients{t: t, cs: cs, dyn: dyn, disco: disco}
}

func (l *labClients) forTest(t *testing.T) *labClients {
	c := *l
	c.t = t
	return &c
}

var testNameRE = regexp.MustCompile(`[^a-z0-9]+`)

// namespace creates a namespace named for the test.
func (l *labClients) namespace() string {
	l.t.Helper()
	name := strings.Trim(testNameRE.ReplaceAllString(strings.ToLower(l.t.Name()), "-"), "-")
	name = strings.Trim(name[max(0, len(name)-63):], "-")
	l.ensureNamespace(name)
	return name
}

func (l *labClients) ensureNamespace(name string) {
	l.t.Helper()
	_, err := l.cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		l.t.Fatal(err)
	}
}

func (l *labClients) nsUID(name string) types.UID {
	l.t.Helper()
	ns, err := l.cs.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		l.t.Fatal(err)
	}
	return ns.UID
}

func (l *labClients) configMap(ns, name string) types.UID {
	l.t.Helper()
	cm, err := l.cs.CoreV1().ConfigMaps(ns).Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Data:       map[string]string{"k": "v"},
	}, metav1.CreateOptions{})
	if err != nil {
		l.t.Fatal(err)
	}
	return cm.UID
}

// deployment creates a Deployment of two Pods labelled app=name.
func (l *labClients) deployment(ns, name string) types.UID {
	l.t.Helper()
	labels := map[string]string{"app": name}
	d, err := l.cs.AppsV1().Deployments(ns).Create(context.Background(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "main", Image: "registry.k8s.io/pause:3.10",
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		l.t.Fatal(err)
	}
	return d.UID
}

// service creates a Service selecting app=name.
func (l *labClients) service(ns, name string) types.UID {
	l.t.Helper()
	s, err := l.cs.CoreV1().Services(ns).Create(context.Background(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		l.t.Fatal(err)
	}
	return s.UID
}

// waitSettled waits until the controllers have made what they make in ns:
// every Deployment available, every Service's Endpoints and EndpointSlices
// with ready addresses, the default ServiceAccount and kube-root-ca.crt.
func (l *labClients) waitSettled(ns string) {
	l.t.Helper()
	ctx := context.Background()
	var pending string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		pending = ""
		if _, err := l.cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err != nil {
			pending = "ServiceAccount default: " + err.Error()
			return false, nil
		}
		if _, err := l.cs.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{}); err != nil {
			pending = "ConfigMap kube-root-ca.crt: " + err.Error()
			return false, nil
		}
		deploys, err := l.cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, d := range deploys.Items {
			if d.Status.ObservedGeneration < d.Generation || d.Status.AvailableReplicas != *d.Spec.Replicas || d.Status.UpdatedReplicas != *d.Spec.Replicas {
				pending = fmt.Sprintf("Deployment %s: %d of %d available", d.Name, d.Status.AvailableReplicas, *d.Spec.Replicas)
				return false, nil
			}
		}
		services, err := l.cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, s := range services.Items {
			ep, err := l.cs.CoreV1().Endpoints(ns).Get(ctx, s.Name, metav1.GetOptions{})
			if err != nil || len(ep.Subsets) == 0 || len(ep.Subsets[0].Addresses) == 0 {
				pending = "Endpoints " + s.Name + " with addresses"
				return false, nil
			}
			eps, err := l.cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + s.Name})
			if err != nil {
				return false, err
			}
			ready := false
			for _, es := range eps.Items {
				for _, e := range es.Endpoints {
					ready = ready || ptr.Deref(e.Conditions.Ready, false)
				}
			}
			if !ready {
				pending = "EndpointSlice of " + s.Name + " with a ready endpoint"
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		l.t.Fatalf("waiting for namespace %s to settle: %s: %v", ns, pending, err)
	}
}

// logContents logs what ns holds, kind by kind, Events included, and checks
// that the controllers made what the holdings must see through.
func (l *labClients) logContents(ns string) {
	l.t.Helper()
	ctx := context.Background()
	lists, err := discovery.ServerPreferredNamespacedResources(l.disco)
	if err != nil {
		l.t.Fatal(err)
	}
	kinds := map[string][]string{}
	for _, rl := range discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"list"}}, lists) {
		gv, _ := schema.ParseGroupVersion(rl.GroupVersion)
		for _, r := range rl.APIResources {
			items, err := list(ctx, l.dyn.Resource(gv.WithResource(r.Name)).Namespace(ns))
			if err != nil {
				l.t.Fatal(err)
			}
			for _, u := range items {
				k := r.Kind
				if gv.Group != "" {
					k = gv.Group + "/" + k
				}
				kinds[k] = append(kinds[k], u.GetName())
			}
		}
	}
	var lines []string
	for k, names := range kinds {
		sort.Strings(names)
		lines = append(lines, fmt.Sprintf("%s (%d): %s", k, len(names), strings.Join(names, " ")))
	}
	sort.Strings(lines)
	l.t.Logf("namespace %s holds:\n  %s", ns, strings.Join(lines, "\n  "))
	for _, k := range []string{"apps/ReplicaSet", "Pod", "Endpoints", "discovery.k8s.io/EndpointSlice", "ServiceAccount", "ConfigMap"} {
		if len(kinds[k]) == 0 {
			l.t.Errorf("namespace %s has no %s: the test would not show that holdings see through it", ns, k)
		}
	}
}

// crd creates a CRD geofed.io of kind and plural serving v1alpha1 and v1,
// stored as v1, and waits until it is Established; it returns it as read.
func (l *labClients) crd(scope, kind, plural string) *unstructured.Unstructured {
	l.t.Helper()
	ctx := context.Background()
	crds := l.dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	version := func(name string, storage bool) map[string]any {
		return map[string]any{
			"name": name, "served": true, "storage": storage,
			"schema": map[string]any{"openAPIV3Schema": map[string]any{
				"type": "object", "x-kubernetes-preserve-unknown-fields": true,
			}},
		}
	}
	name := plural + ".geofed.io"
	_, err := crds.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"group":    "geofed.io",
			"scope":    scope,
			"names":    map[string]any{"plural": plural, "kind": kind},
			"versions": []any{version("v1alpha1", false), version("v1", true)},
		},
	}}, metav1.CreateOptions{})
	if err != nil {
		l.t.Fatal(err)
	}
	var crd *unstructured.Unstructured
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		crd, err = crds.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		return slices.ContainsFunc(conditions, func(c any) bool {
			c2, ok := c.(map[string]any)
			return ok && c2["type"] == "Established" && c2["status"] == "True"
		}), nil
	})
	if err != nil {
		l.t.Fatalf("waiting for CRD %s to be Established: %v", name, err)
	}
	return crd
}

// customResource creates a custom resource of gvr in namespace ns, made
// first, or cluster-wide when ns is empty.
func (l *labClients) customResource(gvr schema.GroupVersionResource, kind, ns, name string) types.UID {
	l.t.Helper()
	if ns != "" {
		l.ensureNamespace(ns)
	}
	uid, err := l.createCustomResource(gvr, kind, ns, name)
	if err != nil {
		l.t.Fatal(err)
	}
	return uid
}

// createCustomResource creates a custom resource through v1alpha1, so that
// listing it as v1, the storage version, is not just reading it back.
func (l *labClients) createCustomResource(gvr schema.GroupVersionResource, kind, ns, name string) (types.UID, error) {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(gvr.Group + "/v1alpha1")
	u.SetKind(kind)
	u.SetName(name)
	r := l.dyn.Resource(gvr.GroupResource().WithVersion("v1alpha1"))
	var ri dynamic.ResourceInterface = r
	if ns != "" {
		ri = r.Namespace(ns)
	}
	created, err := ri.Create(context.Background(), u, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return created.GetUID(), nil
}
