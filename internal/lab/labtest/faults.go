package labtest

import (
	"testing"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/faultproxy"
)

// FaultProxy starts a fault proxy in front of c's apiserver and stops it
// when the test ends. Clients reach c through it at its URL; point a
// kubeconfig at it with faultproxy.Route, and switch faults with its Set
// and Clear.
func FaultProxy(t testing.TB, c *lab.Cluster) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.ForCluster(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("stopping the fault proxy of cluster %s: %v", c.Name, err)
		}
	})
	return p
}
