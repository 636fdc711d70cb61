package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// Readiness polling and reporting.
const (
	readyPoll = 500 * time.Millisecond
	// A progress line at most this often per cluster...
	reportEvery = 2 * time.Second
	// ...and, while nothing changes, only this often.
	reportQuiet = 10 * time.Second
)

// readyOptions say which objects of one cluster to wait for.
type readyOptions struct {
	cluster string
	client  dynamic.Interface
	mapper  meta.RESTMapper
	// objects are the desired objects, in apply order.
	objects []*unstructured.Unstructured
	// live holds objects as apply returned them, by object.KeyOf:
	// the first look at them costs no request.
	live    map[string]*unstructured.Unstructured
	timeout time.Duration
	// report hears progress lines.
	report func(string)
}

// pending is an object not ready yet, with why.
type pending struct {
	obj     *unstructured.Unstructured
	message string
}

// waitReady waits until every object is ready by kstatus's rules (status
// Current: a Deployment's replicas updated and available, a Namespace
// active, a ConfigMap as soon as it exists) and fails at once when one
// reports Failed, or after timeout naming what is not ready.
func waitReady(ctx context.Context, o readyOptions) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	waiting := make([]pending, 0, len(o.objects))
	for _, obj := range o.objects {
		waiting = append(waiting, pending{obj: obj})
	}
	th := throttle{every: reportEvery, quiet: reportQuiet}
	first := true
	for {
		var still []pending
		for _, p := range waiting {
			var live *unstructured.Unstructured
			if first {
				live = o.live[object.KeyOf(p.obj)]
			}
			if live == nil {
				var err error
				live, err = get(ctx, o, p.obj)
				if err != nil {
					if ctx.Err() != nil {
						still = append(still, p)
						continue
					}
					p.message = err.Error()
					still = append(still, p)
					continue
				}
			}
			res, err := status.Compute(live)
			if err != nil {
				p.message = "reading its status: " + err.Error()
				still = append(still, p)
				continue
			}
			switch res.Status {
			case status.CurrentStatus:
				continue
			case status.FailedStatus:
				return fmt.Errorf("cluster %s: %s failed: %s", o.cluster, object.Describe(p.obj), res.Message)
			}
			p.message = waitingFor(live, res)
			still = append(still, p)
		}
		first = false
		waiting = still
		if len(waiting) == 0 {
			return nil
		}
		line := fmt.Sprintf("%s: %d/%d objects ready (waiting for %s: %s)",
			o.cluster, len(o.objects)-len(waiting), len(o.objects), object.Describe(waiting[0].obj), waiting[0].message)
		if o.report != nil && th.ok(time.Now(), line) {
			o.report(line)
		}

		t := time.NewTimer(readyPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("cluster %s: not ready after %s: %s", o.cluster, o.timeout, notReady(waiting))
			}
			return fmt.Errorf("cluster %s: waiting for readiness: %w", o.cluster, ctx.Err())
		case <-t.C:
		}
	}
}

// waitingFor says what an object that is not ready waits for: for a
// workload with replicas, how many of them are available, which is what a
// person watches; else (or when all are available and a rollout is still
// settling) kstatus's own message.
func waitingFor(live *unstructured.Unstructured, res *status.Result) string {
	switch live.GetKind() {
	case "Deployment", "StatefulSet", "ReplicaSet":
		want, found, err := unstructured.NestedInt64(live.Object, "spec", "replicas")
		if err != nil {
			break
		}
		if !found {
			want = 1
		}
		available, _, _ := unstructured.NestedInt64(live.Object, "status", "availableReplicas")
		if available < want {
			return fmt.Sprintf("%d/%d replicas available", available, want)
		}
	}
	if res.Message != "" {
		return res.Message
	}
	return string(res.Status)
}

func get(ctx context.Context, o readyOptions, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	gvk := obj.GroupVersionKind()
	m, err := o.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	var rc dynamic.ResourceInterface = o.client.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		rc = o.client.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	live, err := rc.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, errors.New("not found")
	}
	return live, err
}

// notReady lists what is not ready, the first few in full.
func notReady(ps []pending) string {
	const show = 3
	var parts []string
	for i, p := range ps {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(ps)-show))
			break
		}
		parts = append(parts, object.Describe(p.obj)+": "+p.message)
	}
	return strings.Join(parts, "; ")
}

// throttle decides when a progress line is worth printing: at most every
// `every`, and while the line stays the same only every `quiet`.
type throttle struct {
	every, quiet time.Duration
	last         time.Time
	line         string
}

func (t *throttle) ok(now time.Time, line string) bool {
	since := now.Sub(t.last)
	if !t.last.IsZero() && (since < t.every || line == t.line && since < t.quiet) {
		return false
	}
	t.last, t.line = now, line
	return true
}
