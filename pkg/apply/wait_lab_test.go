package apply

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/readiness"
)

var jobs = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}

// job is a Job manifest whose spec has the given fields ("parallelism: 2")
// and whose pods ask for resources.
func job(namespace, name, resources string, fields ...string) string {
	spec := ""
	for _, f := range fields {
		spec += "  " + f + "\n"
	}
	return `apiVersion: batch/v1
kind: Job
metadata: {name: ` + name + `, namespace: ` + namespace + `}
spec:
` + spec + `  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: trainer:1
        resources: {requests: ` + resources + `, limits: ` + resources + `}
`
}

// TestWaitReadyOnLab waits for Jobs and Deployments on a real cluster
// whose one node has no GPU: what asks for one is named with the
// scheduler's reason, what fits becomes ready.
func TestWaitReadyOnLab(t *testing.T) {
	_, clusters := labtest.New(t, lab.ClusterSpec{Name: "c1", Nodes: []lab.NodeSpec{{Name: "cpu", Count: 1}}})
	ctx := context.Background()
	conn := member.Connect(ctx, []member.Target{{Name: "c1", Region: "us-west1", Config: clusters[0].RESTConfig()}}, member.Options{Timeout: 30 * time.Second})[0]
	if conn.Err != nil {
		t.Fatal(conn.Err)
	}
	client := conn.Dynamic

	// create makes a namespace for the manifests, waits for its default
	// ServiceAccount (pods are refused until it exists, and controllers
	// refused back off for long), creates them and returns them as desired.
	create := func(t *testing.T, ns string, manifests ...string) []*unstructured.Unstructured {
		t.Helper()
		nsObj := parse(t, namespace(ns))
		if _, err := client.Resource(namespaces).Create(ctx, nsObj, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		sa := schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			_, err := client.Resource(sa).Namespace(ns).Get(ctx, "default", metav1.GetOptions{})
			if err == nil {
				break
			}
			if !apierrors.IsNotFound(err) || time.Now().After(deadline) {
				t.Fatalf("waiting for ServiceAccount %s/default: %v", ns, err)
			}
		}
		objs := []*unstructured.Unstructured{nsObj}
		for _, m := range manifests {
			obj := parse(t, m)
			gvk := obj.GroupVersionKind()
			mapping, err := conn.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := client.Resource(mapping.Resource).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			objs = append(objs, obj)
		}
		return objs
	}
	// unschedulableUntil waits until n pods of the live workload are
	// Pending for the scheduler's reason, so that the wait has it to
	// report from its first line on.
	unschedulableUntil := func(t *testing.T, gvr schema.GroupVersionResource, ns, name string, n int) {
		t.Helper()
		var got []string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			live, err := client.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			pods, err := readiness.ListPods(ctx, client, live)
			if err != nil {
				t.Fatal(err)
			}
			got = got[:0]
			for _, p := range pods {
				if m, ok := readiness.Unschedulable(p); ok {
					got = append(got, m)
				}
			}
			if len(got) == n {
				return
			}
		}
		t.Fatalf("%s/%s: pods the scheduler could not place: %q, want %d", ns, name, got, n)
	}
	type waited struct {
		err     error
		lines   []string
		elapsed time.Duration
	}
	wait := func(objs []*unstructured.Unstructured, timeout time.Duration) waited {
		var mu sync.Mutex
		var w waited
		start := time.Now()
		err := waitReady(ctx, readyOptions{cluster: "c1", client: client, mapper: conn.Mapper, objects: objs, timeout: timeout,
			report: func(s string) { mu.Lock(); w.lines = append(w.lines, s); mu.Unlock() }})
		w.err, w.elapsed = err, time.Since(start)
		return w
	}
	// Within its timeout, plus the last look at the pods.
	const slack = 3 * time.Second

	t.Run("unchanged objects are read in one LIST per kind and namespace", func(t *testing.T) {
		var manifests []string
		for i := range 30 {
			manifests = append(manifests, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d, namespace: listed, labels: {geofed.io/topology: t}}\ndata: {level: info}\n", i))
		}
		objs := create(t, "listed", manifests...)
		// One of them gone since: the LIST does not have it, its own GET
		// says so, and the wait does not call it ready.
		gone := objs[len(objs)-1]
		if err := client.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("listed").Delete(ctx, gone.GetName(), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		before := conn.Requests()
		w := wait(objs[:len(objs)-1], 10*time.Second)
		if w.err != nil {
			t.Fatal(w.err)
		}
		// The Namespace (unlabelled here) by a GET, the 29 ConfigMaps by a LIST.
		if n := conn.Requests() - before; n > 2 {
			t.Errorf("%d requests to read 30 unchanged objects, want 2", n)
		}
		if w := wait(objs, 2*time.Second); w.err == nil || !strings.Contains(w.err.Error(), "not found") {
			t.Errorf("a ConfigMap deleted since: wait = %v, want not ready, not found", w.err)
		}
	})

	t.Run("Job that asks for a GPU", func(t *testing.T) {
		objs := create(t, "ml", job("ml", "train", `{cpu: 100m, nvidia.com/gpu: "1"}`, "parallelism: 2", "completions: 2"))
		unschedulableUntil(t, jobs, "ml", "train", 2)
		w := wait(objs, 2*time.Second)
		const want = "cluster c1: not ready after 2s: Job ml/train: 0/2 pods running; 2 pods Pending: 0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
		if w.err == nil || w.err.Error() != want {
			t.Errorf("waitReady = %v\nwant %q", w.err, want)
		}
		if w.elapsed > 2*time.Second+slack {
			t.Errorf("waitReady took %s with a 2s timeout", w.elapsed)
		}
		const line = "c1: 1/2 objects ready (waiting for Job ml/train: 0/2 pods running; 2 pods Pending: 0/1 nodes are available: 1 Insufficient nvidia.com/gpu.)"
		if len(w.lines) == 0 || w.lines[0] != line {
			t.Errorf("progress = %q\nwant a first line %q", w.lines, line)
		}
	})

	t.Run("Job that fits", func(t *testing.T) {
		objs := create(t, "fits", job("fits", "train", `{cpu: 100m}`, "parallelism: 2", "completions: 4"))
		if w := wait(objs, time.Minute); w.err != nil {
			t.Errorf("waitReady = %v after %s, progress %q", w.err, w.elapsed, w.lines)
		}
	})

	t.Run("Job past its deadline fails at once", func(t *testing.T) {
		objs := create(t, "late", job("late", "train", `{cpu: 100m, nvidia.com/gpu: "1"}`, "activeDeadlineSeconds: 1"))
		w := wait(objs, time.Minute)
		const want = "cluster c1: Job late/train failed: DeadlineExceeded: "
		if w.err == nil || !strings.HasPrefix(w.err.Error(), want) {
			t.Errorf("waitReady = %v, want it to start %q", w.err, want)
		}
		if w.elapsed > 30*time.Second {
			t.Errorf("waitReady took %s to see the Job fail", w.elapsed)
		}
	})

	// Pods are listed when a progress line is due and for the final
	// error, not on every poll: over 4s (8 polls) once for the first line
	// (the next is 10s away while nothing changes) and once at the end.
	t.Run("Deployment that asks for GPUs", func(t *testing.T) {
		objs := create(t, "serving", deployment("serving", "hungry", `{cpu: 100m, nvidia.com/gpu: "1"}`))
		unschedulableUntil(t, deployments, "serving", "hungry", 2)
		var podLists atomic.Int32
		config := rest.CopyConfig(clusters[0].RESTConfig())
		config.Wrap(func(rt http.RoundTripper) http.RoundTripper {
			return roundTripper(func(r *http.Request) (*http.Response, error) {
				if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/namespaces/serving/pods") {
					podLists.Add(1)
				}
				return rt.RoundTrip(r)
			})
		})
		counted, err := dynamic.NewForConfig(config)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		start := time.Now()
		err = waitReady(ctx, readyOptions{cluster: "c1", client: counted, mapper: conn.Mapper, objects: objs, timeout: 4 * time.Second,
			report: func(s string) { lines = append(lines, s) }})
		elapsed := time.Since(start)
		const want = "cluster c1: not ready after 4s: Deployment serving/hungry: 0/2 replicas available; 2 pods Pending: 0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
		if err == nil || err.Error() != want {
			t.Errorf("waitReady = %v\nwant %q", err, want)
		}
		if elapsed > 4*time.Second+slack {
			t.Errorf("waitReady took %s with a 4s timeout", elapsed)
		}
		const line = "c1: 1/2 objects ready (waiting for Deployment serving/hungry: 0/2 replicas available; 2 pods Pending: 0/1 nodes are available: 1 Insufficient nvidia.com/gpu.)"
		if len(lines) != 1 || lines[0] != line {
			t.Errorf("progress = %q\nwant one line %q", lines, line)
		}
		if n := podLists.Load(); n != 2 {
			t.Errorf("waitReady listed pods %d times in %s, want twice: for its one progress line and the final error", n, elapsed)
		}
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
