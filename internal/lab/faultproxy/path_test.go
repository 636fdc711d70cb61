package faultproxy

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestParsePath(t *testing.T) {
	deployments := schema.GroupResource{Group: "apps", Resource: "deployments"}
	tests := []struct {
		path string
		want request
		ok   bool
	}{
		{"/apis/apps/v1/deployments", request{resource: deployments}, true},
		{"/apis/apps/v1/namespaces/web/deployments", request{resource: deployments, namespace: "web"}, true},
		{"/apis/apps/v1/namespaces/web/deployments/api", request{resource: deployments, namespace: "web", name: "api"}, true},
		{"/apis/apps/v1/namespaces/web/deployments/api/status", request{resource: deployments, namespace: "web", name: "api"}, true},
		{"/apis/apps/v1/watch/namespaces/web/deployments", request{resource: deployments, namespace: "web", watch: true}, true},
		{"/api/v1/configmaps", request{resource: schema.GroupResource{Resource: "configmaps"}}, true},
		{"/api/v1/namespaces/web/configmaps/x", request{resource: schema.GroupResource{Resource: "configmaps"}, namespace: "web", name: "x"}, true},
		// The Namespace itself, not something in it.
		{"/api/v1/namespaces", request{resource: schema.GroupResource{Resource: "namespaces"}}, true},
		{"/api/v1/namespaces/web", request{resource: schema.GroupResource{Resource: "namespaces"}, name: "web"}, true},
		{"/api/v1/namespaces/web/finalize", request{resource: schema.GroupResource{Resource: "namespaces"}, name: "web"}, true},
		// Discovery and the rest are not resource requests.
		{"/api", request{}, false},
		{"/api/v1", request{}, false},
		{"/apis", request{}, false},
		{"/apis/apps", request{}, false},
		{"/apis/apps/v1", request{}, false},
		{"/version", request{}, false},
		{"/readyz", request{}, false},
	}
	for _, tt := range tests {
		got, ok := parsePath(tt.path)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("parsePath(%q) = %+v, %v; want %+v, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFaultValidate(t *testing.T) {
	tests := []struct {
		f       Fault
		wantErr bool
	}{
		{Fault{Resource: "deployments.apps", Status: Status500}, false},
		{Fault{Resource: "configmaps", Status: StatusTimeout}, false},
		{Fault{Resource: "deployments.apps", Status: "403"}, false},
		{Fault{Resource: "", Status: Status500}, true},
		{Fault{Resource: "apps/v1/deployments", Status: Status500}, true},
		{Fault{Resource: "deployments.apps", Status: "502"}, true},
	}
	for _, tt := range tests {
		if err := tt.f.Validate(); (err != nil) != tt.wantErr {
			t.Errorf("%+v: Validate() = %v, want error %v", tt.f, err, tt.wantErr)
		}
	}
}
