package apply

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/faultproxy"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// TestPruneWithFailedRead: the plan said to delete a Namespace, but right
// before deleting it apply cannot read what it holds — Deployments answer
// 500, or hang past the request timeout. The Namespace is not deleted, stays
// recorded, and the error names the read.
func TestPruneWithFailedRead(t *testing.T) {
	_, clusters := labtest.New(t, lab.ClusterSpec{Name: "c1", APIServerOnly: true})
	proxy := labtest.FaultProxy(t, clusters[0])
	cfg := clusters[0].RESTConfig()
	cfg.Host = proxy.URL
	ctx := context.Background()
	conn := member.Connect(ctx, []member.Target{{Name: "c1", Region: "us-west1", Config: cfg}}, member.Options{Timeout: 30 * time.Second, RequestTimeout: 2 * time.Second})[0]
	if conn.Err != nil {
		t.Fatal(conn.Err)
	}
	options := func(t *testing.T) ClusterOptions {
		t.Helper()
		inv, err := inventory.Read(ctx, conn.Dynamic, "faults")
		if err != nil {
			t.Fatal(err)
		}
		return ClusterOptions{Topology: "faults", Cluster: "c1", Client: conn.Dynamic, Mapper: conn.Mapper, Discovery: conn.Discovery, Prune: true, InventoryVersion: inv.ResourceVersion}
	}
	opts := options(t)
	opts.Objects = rendered(t, "faults", namespace("held"))
	res, err := Cluster(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	planned := []plan.Object{deletion(liveNamed(t, res, "Namespace", "held"))}

	for _, tt := range []struct {
		status faultproxy.Status
		// says: any of these names the failure. A hung read ends by
		// the client's timeout or by the request context's deadline,
		// whichever fires first.
		says []string
	}{
		{faultproxy.Status500, []string{"Internal error occurred"}},
		{faultproxy.StatusTimeout, []string{"Client.Timeout exceeded", "context deadline exceeded"}},
	} {
		t.Run(string(tt.status), func(t *testing.T) {
			if err := proxy.Set(faultproxy.Fault{Resource: "deployments.apps", Status: tt.status}); err != nil {
				t.Fatal(err)
			}
			defer proxy.Clear("")
			opts := options(t)
			opts.Deletes = planned
			opts.PlannedAt = time.Now()
			res, err := Cluster(ctx, opts)
			if err == nil || res.Pruned != 0 || !strings.Contains(err.Error(), "pruning Namespace held from cluster c1: checking what it holds") ||
				!strings.Contains(err.Error(), "deployments") || !containsAny(err.Error(), tt.says) {
				t.Fatalf("Cluster = %d pruned, %v; want nothing pruned and the failed read of deployments named", res.Pruned, err)
			}
			ns, err := conn.Dynamic.Resource(namespaces).Get(ctx, "held", metav1.GetOptions{})
			if err != nil || ns.GetDeletionTimestamp() != nil {
				t.Errorf("Namespace held: %v (deleting: %v), want it kept", err, err == nil && ns.GetDeletionTimestamp() != nil)
			}
			inv, err := inventory.Read(ctx, conn.Dynamic, "faults")
			if err != nil || len(inv.Entries) != 1 || inv.Entries[0].Name != "held" {
				t.Errorf("inventory %+v, %v; want the Namespace still recorded", inv, err)
			}
		})
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
