package readerr

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

var deployments = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}

// timeoutErr is what net/http returns when rest.Config's Timeout ends a
// request: a *url.Error whose Timeout() is true.
type timeoutErr struct{}

func (timeoutErr) Error() string {
	return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
}
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestError(t *testing.T) {
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"500", apierrors.NewInternalError(errors.New("etcd is sulking")),
			"cluster web-eu: reading Deployments (apps/v1): 500 Internal Server Error: Internal error occurred: etcd is sulking"},
		{"429", apierrors.NewTooManyRequests("slow down", 0),
			"cluster web-eu: reading Deployments (apps/v1): 429 Too Many Requests: slow down"},
		{"403", apierrors.NewForbidden(gr, "", errors.New(`User "ci" cannot list resource "deployments"`)),
			`cluster web-eu: reading Deployments (apps/v1): 403 Forbidden: deployments.apps is forbidden: User "ci" cannot list resource "deployments"`},
		{"timeout", &url.Error{Op: "Get", URL: "https://127.0.0.1:1/apis/apps/v1/deployments", Err: timeoutErr{}},
			`cluster web-eu: reading Deployments (apps/v1): timed out: Get "https://127.0.0.1:1/apis/apps/v1/deployments": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`},
		{"deadline", fmt.Errorf("listing: %w", context.DeadlineExceeded),
			"cluster web-eu: reading Deployments (apps/v1): timed out: listing: context deadline exceeded"},
		{"discovery", &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{
			{Group: "apps", Version: "v1"}: errors.New("stale GroupVersion discovery: apps/v1"),
		}}, "cluster web-eu: reading Deployments (apps/v1): discovery of its API group failed (apps/v1: stale GroupVersion discovery: apps/v1)"},
		{"other", errors.New("connection reset by peer"),
			"cluster web-eu: reading Deployments (apps/v1): connection reset by peer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Error{Cluster: "web-eu", Kind: deployments, Err: tt.err}
			if got := e.Error(); got != tt.want {
				t.Errorf("Error():\n got %s\nwant %s", got, tt.want)
			}
			if got, want := Brief(fmt.Errorf("planning: %w", e)), "reading Deployments (apps/v1) failed"; got != want {
				t.Errorf("Brief() = %q, want %q", got, want)
			}
			if !errors.Is(e, tt.err) {
				t.Errorf("the error does not wrap its cause")
			}
		})
	}
}

// discoveryResult is what ServerGroupsAndResourcesWithContext returns.
type discoveryResult struct{ err error }

func (d discoveryResult) ServerGroupsAndResourcesWithContext(context.Context) ([]*metav1.APIGroup, []*metav1.APIResourceList, error) {
	return nil, nil, d.err
}

func TestMapping(t *testing.T) {
	widgets := schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(deployments, meta.RESTScopeNamespace)
	stale := &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{
		{Group: "example.com", Version: "v1"}: errors.New("stale GroupVersion discovery: example.com/v1"),
	}}
	tests := []struct {
		name       string
		gvk        schema.GroupVersionKind
		disco      Discovery
		wantServed bool
		wantErr    string
	}{
		{"served", deployments, discoveryResult{}, true, ""},
		{"served while another group failed", deployments, discoveryResult{stale}, true, ""},
		{"not served, discovery complete", widgets, discoveryResult{}, false, ""},
		{"not served, no discovery to ask", widgets, nil, false, ""},
		{"its group failed discovery", widgets, discoveryResult{stale}, false,
			"reading Widgets (example.com/v1): discovery of its API group failed (example.com/v1: stale GroupVersion discovery: example.com/v1)"},
		{"another group failed discovery", widgets, discoveryResult{&discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{
			{Group: "metrics.k8s.io", Version: "v1beta1"}: errors.New("stale"),
		}}}, false, ""},
		{"discovery failed whole", widgets, discoveryResult{apierrors.NewInternalError(errors.New("down"))}, false,
			"reading Widgets (example.com/v1): 500 Internal Server Error: Internal error occurred: down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, served, err := Mapping(context.Background(), mapper, tt.disco, tt.gvk)
			if served != tt.wantServed || (m != nil) != tt.wantServed {
				t.Errorf("served = %v (mapping %v), want %v", served, m, tt.wantServed)
			}
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("error:\n got %q\nwant %q", got, tt.wantErr)
			}
		})
	}
}

func TestPlural(t *testing.T) {
	for kind, want := range map[string]string{
		"Deployment": "Deployments", "NetworkPolicy": "NetworkPolicies", "Ingress": "Ingresses",
		"Endpoints": "Endpoints", "Gateway": "Gateways", "": "objects",
	} {
		if got := Plural(kind); got != want {
			t.Errorf("Plural(%q) = %q, want %q", kind, got, want)
		}
	}
}
