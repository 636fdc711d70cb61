package member_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/capacity"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// TestLab runs everything that needs a server against one lab of two real
// clusters: training-us has GPU nodes, reached through a kubeconfig context;
// serving-eu has CPU nodes only, reached through a rest.Config as pkg/gke
// builds one. Subtests run in order; the last one stops an apiserver.
func TestLab(t *testing.T) {
	l, clusters := labtest.New(t,
		lab.ClusterSpec{Name: "training-us", Nodes: []lab.NodeSpec{
			{Name: "cpu", Count: 1},
			{Name: "a100", Count: 2, GPUs: 4},
		}},
		lab.ClusterSpec{Name: "serving-eu", Nodes: []lab.NodeSpec{{Name: "cpu", Count: 2}}},
	)
	training, serving := clusters[0], clusters[1]
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := l.Kubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	opts := member.Options{KubeconfigPath: kubeconfig, Timeout: 30 * time.Second}
	targets := []member.Target{
		{Name: "training-us", Region: "us-west1", Kubeconfig: &topology.KubeconfigRef{Context: "training-us"}},
		{Name: "serving-eu", Region: "europe-west1", Config: serving.RESTConfig()},
	}
	ctx := context.Background()

	t.Run("connect by context and by config", func(t *testing.T) {
		start := time.Now()
		withAgent := opts
		withAgent.UserAgent = "kubectl-geofed/test"
		conns := member.Connect(ctx, targets, withAgent)
		t.Logf("Connect to 2 clusters: %s", time.Since(start))
		for i, c := range conns {
			if c.Err != nil {
				t.Fatalf("%s: %v", targets[i].Name, c.Err)
			}
			if c.Name != targets[i].Name || c.Region != targets[i].Region {
				t.Errorf("conn %d is %s/%s, want %s/%s", i, c.Region, c.Name, targets[i].Region, targets[i].Name)
			}
			if want := serverVersion(t, clusters[i].RESTConfig()); c.Version != want {
				t.Errorf("%s: Version = %q, want %q", c.Name, c.Version, want)
			}
			m, err := c.Mapper.RESTMapping(schema.GroupKind{Group: "apps", Kind: "Deployment"})
			if err != nil || m.Resource.Resource != "deployments" || m.Scope.Name() != "namespace" {
				t.Errorf("%s: RESTMapping(apps Deployment) = %+v, %v", c.Name, m, err)
			}
		}
		for _, c := range conns {
			if c.Config.UserAgent != withAgent.UserAgent || c.Config.RateLimiter == nil || c.Config.RateLimiter.QPS() != member.DefaultQPS {
				t.Errorf("%s: user agent %q, rate limiter %v; want %q and the default QPS shared by its clients", c.Name, c.Config.UserAgent, c.Config.RateLimiter, withAgent.UserAgent)
			}
		}
		if conns[0].Context != "training-us" || conns[1].Context != "" {
			t.Errorf("contexts = %q, %q; want training-us and none", conns[0].Context, conns[1].Context)
		}
		if conns[0].Config.Host != training.Endpoint || conns[1].Config.Host != serving.Endpoint {
			t.Errorf("hosts = %s, %s; want %s, %s", conns[0].Config.Host, conns[1].Config.Host, training.Endpoint, serving.Endpoint)
		}
	})

	t.Run("requests are counted", func(t *testing.T) {
		conns := member.Connect(ctx, targets, opts)
		c := conns[0]
		if c.Err != nil {
			t.Fatal(c.Err)
		}
		step := func(what string, want int64) {
			t.Helper()
			if got := c.Requests(); got != want {
				t.Errorf("after %s: %d requests, want %d", what, got, want)
			}
		}
		// /version, then aggregated discovery: /api and /apis.
		step("Connect", 3)
		if _, err := c.Mapper.RESTMapping(schema.GroupKind{Group: "batch", Kind: "Job"}); err != nil {
			t.Fatal(err)
		}
		step("a mapping served from the discovery cache", 3)
		if _, err := c.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).List(ctx, metav1.ListOptions{}); err != nil {
			t.Fatal(err)
		}
		step("a dynamic LIST", 4)
		if _, err := c.ReadCapacity(ctx); err != nil {
			t.Fatal(err)
		}
		step("ReadCapacity (nodes and pods)", 6)
		cs, err := kubernetes.NewForConfig(rest.CopyConfig(c.Config))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "absent", metav1.GetOptions{}); err == nil {
			t.Fatal("GET of an absent ConfigMap succeeded")
		}
		step("a failed GET through a client built from a copy of Conn.Config", 7)
		if got := conns[1].Requests(); got != 3 {
			t.Errorf("the other cluster counted %d requests, want its own 3", got)
		}
	})

	t.Run("the mapper learns a new CRD on Reset", func(t *testing.T) {
		c := member.Connect(ctx, targets[:1], opts)[0]
		if c.Err != nil {
			t.Fatal(c.Err)
		}
		gk := schema.GroupKind{Group: "geofed.io", Kind: "Widget"}
		createCRD(t, c.Dynamic, gk, "widgets")
		if _, err := c.Mapper.RESTMapping(gk); !meta.IsNoMatchError(err) {
			t.Fatalf("RESTMapping of a CRD created after Connect = %v, want a no-match error until Reset", err)
		}
		before := c.Requests()
		c.Mapper.Reset()
		m, err := c.Mapper.RESTMapping(gk)
		if err != nil || m.Resource.Resource != "widgets" {
			t.Fatalf("RESTMapping after Reset = %+v, %v", m, err)
		}
		if got := c.Requests() - before; got != 2 {
			t.Errorf("Reset and a mapping cost %d requests, want 2 (/api and /apis)", got)
		}
	})

	// What ReadCapacity reads, counted as plan counts it: replicas of a
	// template that fit, node by node.
	fit := func(t *testing.T, c *member.Conn, requests corev1.ResourceList) capacity.Fit {
		t.Helper()
		in, err := c.ReadCapacity(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return capacity.Count(capacity.Template{Requests: requests}, in.Nodes, in.Pods, nil)
	}

	t.Run("GPUs that fit", func(t *testing.T) {
		c := member.Connect(ctx, targets[:1], opts)[0]
		if c.Err != nil {
			t.Fatal(c.Err)
		}
		oneGPU := corev1.ResourceList{lab.GPUResource: resource.MustParse("1")}
		check := func(what string, want int64) {
			t.Helper()
			if got := fit(t, c, oneGPU); got.Replicas != want {
				t.Errorf("%s: %d one-GPU replicas fit (%s), want %d", what, got.Replicas, got, want)
			}
		}
		check("idle", 8)

		admin := clientset(t, training.RESTConfig())
		gpuNode := runPod(t, admin, "trainer", corev1.ResourceList{lab.GPUResource: resource.MustParse("3")})
		check("a pod holding 3 GPUs", 5)

		// Cordoning the GPU node the pod is not on leaves 4-3 GPUs.
		other := "a100-0"
		if gpuNode == other {
			other = "a100-1"
		}
		cordon(t, admin, other, true)
		t.Cleanup(func() { cordon(t, admin, other, false) })
		check("the free GPU node cordoned", 1)
	})

	t.Run("CPU in millicores", func(t *testing.T) {
		c := member.Connect(ctx, targets[1:], opts)[0]
		if c.Err != nil {
			t.Fatal(c.Err)
		}
		runPod(t, clientset(t, serving.RESTConfig()), "web", corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m")})
		// Two 4-core nodes, one holding 1.5 cores: 16 + 10 replicas of
		// 250m.
		if got := fit(t, c, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}); got.Replicas != 26 {
			t.Errorf("%d replicas of 250m fit (%s), want 26", got.Replicas, got)
		}
	})

	t.Run("unknown context", func(t *testing.T) {
		c := member.Connect(ctx, []member.Target{
			{Name: "serving-us", Region: "us-east1", Kubeconfig: &topology.KubeconfigRef{Context: "serving-us"}},
		}, opts)[0]
		want := fmt.Sprintf(`connecting to cluster serving-us (context serving-us): kubeconfig context "serving-us" not found in %s (contexts there: serving-eu, training-us)`, kubeconfig)
		if c.Err == nil || c.Err.Error() != want {
			t.Errorf("Err =\n%v\nwant\n%s", c.Err, want)
		}
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		cfg := training.RESTConfig()
		cfg.CAData = serving.CAData
		c := member.Connect(ctx, []member.Target{{Name: "training-us", Config: cfg}}, opts)[0]
		want := fmt.Sprintf("connecting to cluster training-us: cannot verify the certificate of %s: x509: certificate signed by unknown authority", training.Endpoint)
		if c.Err == nil || c.Err.Error() != want {
			t.Errorf("Err =\n%v\nwant\n%s", c.Err, want)
		}
	})

	t.Run("rejected credentials", func(t *testing.T) {
		const token = "not-a-valid-token-d41d8cd98f00b204"
		cfg := &rest.Config{Host: training.Endpoint, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: training.CAData}}
		c := member.Connect(ctx, []member.Target{{Name: "training-us", Config: cfg}}, opts)[0]
		want := fmt.Sprintf("connecting to cluster training-us: %s rejected the credentials (401 Unauthorized)", training.Endpoint)
		if c.Err == nil || c.Err.Error() != want {
			t.Errorf("Err =\n%v\nwant\n%s", c.Err, want)
		}
		if c.Err != nil && strings.Contains(fmt.Sprintf("%+v", c.Err), token) {
			t.Errorf("the error shows the token: %+v", c.Err)
		}
	})

	t.Run("a server that never answers", func(t *testing.T) {
		// The kernel completes TCP handshakes for a listener that never
		// accepts, so the client waits in the TLS handshake, as with a
		// cluster whose network drops packets.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		dark := &rest.Config{Host: "https://" + ln.Addr().String(), TLSClientConfig: rest.TLSClientConfig{CAData: training.CAData}}
		const timeout = 2 * time.Second
		start := time.Now()
		conns := member.Connect(ctx, append([]member.Target{{Name: "dark", Config: dark}}, targets...), member.Options{KubeconfigPath: kubeconfig, Timeout: timeout})
		elapsed := time.Since(start)
		t.Logf("Connect with a dark cluster: %s", elapsed)
		want := fmt.Sprintf("connecting to cluster dark: no answer from %s within 2s", dark.Host)
		if err := conns[0].Err; err == nil || err.Error() != want || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Err =\n%v\nwant\n%s (and errors.Is DeadlineExceeded)", err, want)
		}
		if elapsed > timeout+time.Second {
			t.Errorf("Connect took %s with a %s timeout", elapsed, timeout)
		}
		for _, c := range conns[1:] {
			if c.Err != nil {
				t.Errorf("%s: %v", c.Name, c.Err)
			}
		}
	})

	t.Run("a stopped apiserver", func(t *testing.T) {
		if err := serving.StopAPIServer(ctx); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		conns := member.Connect(ctx, targets, opts)
		elapsed := time.Since(start)
		t.Logf("Connect with a stopped apiserver: %s", elapsed)
		if conns[0].Err != nil {
			t.Errorf("training-us: %v", conns[0].Err)
		}
		want := fmt.Sprintf("connecting to cluster serving-eu: %s refused the connection", serving.Endpoint)
		if err := conns[1].Err; err == nil || err.Error() != want || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("serving-eu: Err =\n%v\nwant\n%s", err, want)
		}
		if elapsed > opts.Timeout {
			t.Errorf("Connect took %s, more than the %s timeout", elapsed, opts.Timeout)
		}
		if _, err := conns[1].ReadCapacity(ctx); err != conns[1].Err {
			t.Errorf("ReadCapacity of an unreachable cluster: %v, want its Conn.Err", err)
		}
	})
}

func clientset(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func serverVersion(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := dc.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	return v.GitVersion
}

// runPod creates a pod with these requests (as limits, which extended
// resources need) and returns the node it is bound to.
func runPod(t *testing.T, cs kubernetes.Interface, name string, limits corev1.ResourceList) string {
	t.Helper()
	ctx := context.Background()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "main", Image: "registry.k8s.io/pause:3.10",
			Resources: corev1.ResourceRequirements{Limits: limits},
		}}},
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var node string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		node = p.Spec.NodeName
		return node != "", nil
	})
	if err != nil {
		t.Fatalf("waiting for pod %s to be scheduled: %v", name, err)
	}
	return node
}

// createCRD creates a namespaced CRD and waits until it is established.
func createCRD(t *testing.T, dyn dynamic.Interface, gk schema.GroupKind, plural string) {
	t.Helper()
	ctx := context.Background()
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	name := plural + "." + gk.Group
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"group": gk.Group,
			"scope": "Namespaced",
			"names": map[string]any{"plural": plural, "kind": gk.Kind},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object", "x-kubernetes-preserve-unknown-fields": true,
				}},
			}},
		},
	}}
	if _, err := crds.Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		u, err := crds.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conditions, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conditions {
			if c, ok := c.(map[string]any); ok && c["type"] == "Established" && c["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("waiting for CRD %s to be established: %v", name, err)
	}
}

func cordon(t *testing.T, cs kubernetes.Interface, node string, unschedulable bool) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, unschedulable)
	if _, err := cs.CoreV1().Nodes().Patch(context.Background(), node, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}
