package readerr_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/prunesafety"
	"github.com/geofed-io/kubectl-geofed/pkg/readerr"
)

// TestAggregatedAPIDown: an APIService whose backend does not exist, as when
// an aggregated API server (metrics-server, say) is down. A member connects
// all the same; a kind of that group resolves to a failed read, never to
// "not served", and what a Namespace holds cannot be told — while a kind
// that is truly absent is still "not served".
func TestAggregatedAPIDown(t *testing.T) {
	_, clusters := labtest.New(t, lab.ClusterSpec{Name: "aggr", APIServerOnly: true})
	c := clusters[0]
	ctx := context.Background()
	dyn, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	apiservice := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1",
		"kind":       "APIService",
		"metadata":   map[string]any{"name": "v1.broken.example.com"},
		"spec": map[string]any{
			"group": "broken.example.com", "version": "v1",
			"service":               map[string]any{"namespace": "default", "name": "nothing-here", "port": int64(443)},
			"insecureSkipTLSVerify": true, "groupPriorityMinimum": int64(1000), "versionPriority": int64(15),
		},
	}}
	gvr := schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}
	if _, err := dyn.Resource(gvr).Create(ctx, apiservice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Discovery reports the group failed once the aggregator has tried it.
	var conn *member.Conn
	deadline := time.Now().Add(time.Minute)
	for {
		conn = member.Connect(ctx, []member.Target{{Name: c.Name, Config: c.RESTConfig()}}, member.Options{})[0]
		if conn.Err != nil {
			t.Fatalf("connecting with an aggregated API down: %v", conn.Err)
		}
		_, _, err := conn.Discovery.ServerGroupsAndResourcesWithContext(ctx)
		var failed *discovery.ErrGroupDiscoveryFailed
		if errors.As(err, &failed) {
			t.Logf("discovery: %v", err)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("discovery never reported broken.example.com failed (last: %v)", err)
		}
		time.Sleep(time.Second)
	}

	widgets := schema.GroupVersionKind{Group: "broken.example.com", Version: "v1", Kind: "Widget"}
	_, served, err := readerr.Mapping(ctx, conn.Mapper, conn.Discovery, widgets)
	var rerr *readerr.Error
	if served || !errors.As(err, &rerr) || !strings.Contains(err.Error(), "reading Widgets (broken.example.com/v1): discovery of its API group failed") {
		t.Errorf("Widget of the group that is down: served %v, err %v; want a failed read naming the group", served, err)
	}
	absent := schema.GroupVersionKind{Group: "absent.example.com", Version: "v1", Kind: "Gadget"}
	if _, served, err := readerr.Mapping(ctx, conn.Mapper, conn.Discovery, absent); served || err != nil {
		t.Errorf("Gadget, served by no group: served %v, err %v; want not served, no error", served, err)
	}
	if _, served, err := readerr.Mapping(ctx, conn.Mapper, conn.Discovery, schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}); !served || err != nil {
		t.Errorf("ConfigMap: served %v, err %v; want served", served, err)
	}

	held, err := prunesafety.NamespaceHoldings(ctx, prunesafety.Options{Client: conn.Dynamic, Discovery: conn.Discovery}, "default")
	if err == nil || !strings.Contains(err.Error(), "broken.example.com") {
		t.Errorf("NamespaceHoldings with a group undiscoverable: held %v, err %v; want an error naming the group", held, err)
	}
}
