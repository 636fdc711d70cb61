package observe

import (
	"errors"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"k8s.io/client-go/rest"

	"github.com/geofed-io/kubectl-geofed/pkg/member"
)

// The reasons a cluster cannot be read, GKE's state before the
// connection's, and the address it is reached at.
func TestUnreadableAndEndpoint(t *testing.T) {
	running := &containerpb.Cluster{Status: containerpb.Cluster_RUNNING, Endpoint: "34.1.2.3"}
	ok := &member.Conn{Config: &rest.Config{Host: "https://10.0.0.1:6443"}}
	tests := []struct {
		name         string
		conn         *member.Conn
		gke          *GKEState
		want         string
		wantEndpoint string
	}{
		{"joined, connected", ok, nil, "", "https://10.0.0.1:6443"},
		{"joined, refused", &member.Conn{Config: &rest.Config{Host: "https://10.0.0.1:6443"}, Err: errors.New("connecting to cluster c: refused")}, nil,
			"connecting to cluster c: refused", "https://10.0.0.1:6443"},
		{"joined, unknown context", &member.Conn{Err: errors.New(`kubeconfig context "c" not found`)}, nil, `kubeconfig context "c" not found`, ""},
		{"GKE running, connected", ok, &GKEState{Live: running}, "", "https://10.0.0.1:6443"},
		{"GKE could not be asked", &member.Conn{Err: member.ErrNotCreated}, &GKEState{Err: errors.New("listing GKE clusters of project p: denied")}, "listing GKE clusters of project p: denied", ""},
		{"GKE cluster not created", &member.Conn{Err: member.ErrNotCreated}, &GKEState{}, "the GKE cluster does not exist yet: apply creates it", ""},
		{"GKE creating it", &member.Conn{Err: member.ErrNotCreated}, &GKEState{Live: &containerpb.Cluster{Status: containerpb.Cluster_PROVISIONING}},
			"GKE is still creating the cluster (PROVISIONING)", ""},
		{"GKE in error, endpoint known", &member.Conn{Err: member.ErrNotCreated}, &GKEState{Live: &containerpb.Cluster{Status: containerpb.Cluster_ERROR, Endpoint: "34.1.2.3"}},
			"GKE reports the cluster as ERROR", "https://34.1.2.3"},
		{"GKE running, apiserver down", &member.Conn{Config: &rest.Config{Host: "https://34.1.2.3"}, Err: errors.New("connecting: timeout")}, &GKEState{Live: running},
			"connecting: timeout", "https://34.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Member{Conn: tt.conn, GKE: tt.gke}
			if got := m.Unreadable(); got != tt.want {
				t.Errorf("Unreadable = %q, want %q", got, tt.want)
			}
			if got := m.Endpoint(); got != tt.wantEndpoint {
				t.Errorf("endpoint = %q, want %q", got, tt.wantEndpoint)
			}
		})
	}
}
