package controller_test

import (
	"testing"
	"time"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/controller"
)

// TestLeaderHandOverDefaults: with the election timings a user gets, a
// leader killed outright (no Lease released) is replaced within the lease
// duration and one jittered retry (client-go waits up to 2.2 retry periods
// between tries), as the README says.
func TestLeaderHandOverDefaults(t *testing.T) {
	l, clusters := labtest.New(t, lab.ClusterSpec{Name: "hub", APIServerOnly: true})
	e := setupWith(t, l, clusters[0], nil, webTopology, replicaFlags{resync: time.Hour, electionDefaults: true}, 2)
	bound := controller.DefaultLeaseDuration + controller.DefaultRetryPeriod*22/10
	const slack = time.Second // seeing the new leader: a scrape every 100ms
	for round := range 2 {
		old := e.leader(t)
		// Killed right after a renewal or right before the next: the two
		// rounds land anywhere in between.
		time.Sleep(time.Duration(round) * controller.DefaultRetryPeriod / 2)
		killed := time.Now()
		old.kill(t)
		var next *replica
		for next == nil {
			for _, r := range e.replicas {
				if r != old && r.leading() {
					next = r
				}
			}
			if time.Since(killed) > bound+30*time.Second {
				t.Fatalf("no replica took over %s after the leader was killed", time.Since(killed).Round(time.Second))
			}
			time.Sleep(100 * time.Millisecond)
		}
		took := time.Since(killed)
		t.Logf("round %d: %s took over %s after %s was killed (lease %s, retry %s)", round, next.name, took.Round(10*time.Millisecond), old.name, controller.DefaultLeaseDuration, controller.DefaultRetryPeriod)
		if took > bound+slack {
			t.Errorf("hand-over took %s, more than the lease (%s) and one jittered retry (%s)", took.Round(10*time.Millisecond), controller.DefaultLeaseDuration, bound-controller.DefaultLeaseDuration)
		}
		// A fresh replica to hand over to next.
		f := replicaFlags{resync: time.Hour, electionDefaults: true, hubKubeconfig: e.hubKubeconfig}
		r := startReplica(t, []string{"c", "d"}[round], f)
		r.waitReady(t)
		e.replicas = append(e.replicas, r)
		for i, rr := range e.replicas {
			if rr == old {
				e.replicas = append(e.replicas[:i], e.replicas[i+1:]...)
				break
			}
		}
	}
}
