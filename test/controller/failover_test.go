package controller_test

import (
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/push"
)

// TestFailoverHungMember: one of three members hangs (its apiserver
// SIGSTOPped: connections accepted, never answered, no watch event ever
// comes) and nothing else happens — no edit, no resync within the test.
// The health probe alone notices it, fails it over after failover.after,
// and notices its return; meanwhile hand edits on the healthy members are
// put back as fast as ever, and the dark member is never written to.
func TestFailoverHungMember(t *testing.T) {
	const (
		after, restoreAfter = 15 * time.Second, 15 * time.Second
		// The feature's deadlines: the share moves within after + 15 s of
		// the hang and returns within restoreAfter + 15 s of the resume; an
		// edit on a healthy member is put back within 2 s.
		slack      = 15 * time.Second
		editBudget = 2 * time.Second
	)
	node := []lab.NodeSpec{{Name: "node", Count: 1}}
	l, clusters := labtest.New(t,
		lab.ClusterSpec{Name: "hub", APIServerOnly: true},
		lab.ClusterSpec{Name: "m1", Nodes: node},
		lab.ClusterSpec{Name: "m2", Nodes: node},
		lab.ClusterSpec{Name: "m3", Nodes: node},
	)
	hub, m3 := clusters[0], clusters[3]
	// A resync far beyond the test: only the probe can notice the hang.
	e := setupWith(t, l, hub, clusters[1:], threeMembersTopology, replicaFlags{resync: time.Hour}, 1)
	pushTopology(t, e, push.Options{Failover: &v1alpha1.Failover{
		After: &metav1.Duration{Duration: after}, RestoreAfter: &metav1.Duration{Duration: restoreAfter},
	}})
	waitFor(t, e, 120*time.Second, "Synced=True", func(topo *v1alpha1.Topology) bool {
		return topo.Status.ObservedGeneration == topo.Generation && cond(topo, v1alpha1.ConditionSynced) == "True/Applied"
	})
	for _, name := range []string{"m1", "m2", "m3"} {
		waitReplicas(t, e, name, 2, 10*time.Second)
	}
	before := m3Objects(t, e)

	// putBack edits a ConfigMap on a healthy member and says how long the
	// controller took to put it back.
	putBack := func(cluster string) time.Duration {
		t.Helper()
		edited := time.Now()
		edit(t, e, cluster, "debug")
		for level(t, e, cluster) != "info" {
			if time.Since(edited) > 30*time.Second {
				t.Fatalf("%s: an edit during m3's outage not put back after 30s", cluster)
			}
			time.Sleep(20 * time.Millisecond)
		}
		took := time.Since(edited)
		if took > editBudget {
			t.Errorf("%s: an edit during m3's outage put back %s after it was made, want within %s", cluster, took.Round(10*time.Millisecond), editBudget)
		}
		return took
	}

	// Measured before the call: m3 cannot hang earlier.
	stopped := time.Now()
	if err := m3.PauseAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m3.ResumeAPIServer() })
	// At once, before anything has noticed the hang: the correction
	// touches m1 alone and never waits on m3.
	t.Logf("right after the hang, an edit on m1 put back in %s", putBack("m1").Round(10*time.Millisecond))
	waitFor(t, e, after, "m3 unreachable, in its grace period", func(topo *v1alpha1.Topology) bool {
		c := clusterStatus(topo, "m3")
		return !c.Reachable && c.UnreachableSince != nil && !c.Excluded
	})
	t.Logf("m3 seen dark %s after the hang", time.Since(stopped).Round(10*time.Millisecond))
	t.Logf("during the grace period, an edit on m1 put back in %s", putBack("m1").Round(10*time.Millisecond))
	if got := replicas(t, e, "m1"); got != 2 {
		t.Errorf("m1 has %d replicas during m3's grace period, want 2 still", got)
	}

	// The share moves by itself.
	for replicas(t, e, "m1") != 3 || replicas(t, e, "m2") != 3 {
		if time.Since(stopped) > after+slack {
			var topo v1alpha1.Topology
			get(t, e, &topo)
			t.Fatalf("m3's share not moved %s after it hung (failover.after %s + %s); m3: %+v", time.Since(stopped).Round(time.Second), after, slack, clusterStatus(&topo, "m3"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	moved := time.Since(stopped)
	t.Logf("m3's share moved %s after it hung (failover.after %s)", moved.Round(10*time.Millisecond), after)
	if moved < after {
		t.Errorf("m3's share moved %s after it hung, before failover.after (%s)", moved, after)
	}
	t.Logf("after the failover, an edit on m2 put back in %s", putBack("m2").Round(10*time.Millisecond))

	// Measured before the call: m3 cannot answer earlier.
	resumed := time.Now()
	if err := m3.ResumeAPIServer(); err != nil {
		t.Fatal(err)
	}
	for replicas(t, e, "m1") != 2 || replicas(t, e, "m2") != 2 {
		if time.Since(resumed) > restoreAfter+slack {
			var topo v1alpha1.Topology
			get(t, e, &topo)
			t.Fatalf("m3's share not back %s after it resumed (restoreAfter %s + %s); m3: %+v", time.Since(resumed).Round(time.Second), restoreAfter, slack, clusterStatus(&topo, "m3"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	returned := time.Since(resumed)
	t.Logf("m3's share back %s after it resumed (restoreAfter %s)", returned.Round(10*time.Millisecond), restoreAfter)
	if returned < restoreAfter {
		t.Errorf("m3's share back %s after it resumed, before restoreAfter (%s)", returned, restoreAfter)
	}
	waitFor(t, e, 30*time.Second, "Synced=True with m3 back", func(topo *v1alpha1.Topology) bool {
		c := clusterStatus(topo, "m3")
		return c.Reachable && !c.Excluded && cond(topo, v1alpha1.ConditionSynced) == "True/Applied"
	})

	// Nothing was written to m3, before, during or after: its share came
	// back to what it still held.
	after3 := m3Objects(t, e)
	for key, v := range before {
		if after3[key] != v {
			t.Errorf("m3 %s: %s -> %s across its outage: written to", key, v, after3[key])
		}
	}
}

// m3Objects are, on m3, what says an object was written: the Deployment's
// generation and replicas (its status moves on its own), the ConfigMap's
// and the Secret's resourceVersions.
func m3Objects(t *testing.T, e *env) map[string]string {
	t.Helper()
	cs := e.clients["m3"]
	d, err := cs.AppsV1().Deployments("web").Get(t.Context(), "web", metav1.GetOptions{})
	must(t, err)
	cm, err := cs.CoreV1().ConfigMaps("web").Get(t.Context(), "web-config", metav1.GetOptions{})
	must(t, err)
	s, err := cs.CoreV1().Secrets("web").Get(t.Context(), "web-token", metav1.GetOptions{})
	must(t, err)
	return map[string]string{
		"Deployment web/web generation": itoa(d.Generation),
		"Deployment web/web replicas":   itoa(int64(*d.Spec.Replicas)),
		"ConfigMap web/web-config":      cm.ResourceVersion,
		"Secret web/web-token":          s.ResourceVersion,
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// threeMembersTopology is webTopology over m1, m2 and m3, 6 replicas: 2 each.
var threeMembersTopology = func() map[string]string {
	files := map[string]string{}
	for k, v := range webTopology {
		files[k] = v
	}
	files["topology.yaml"] = `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: ` + topoName + `}
spec:
  regions:
  - name: us-west1
    clusters:
    - name: m1
      kubeconfig: {context: m1}
  - name: europe-west1
    clusters:
    - name: m2
      kubeconfig: {context: m2}
  - name: asia-east1
    clusters:
    - name: m3
      kubeconfig: {context: m3}
  workloads:
  - name: web
    source: apps/web
    placement:
      replicas: {total: 6, divideBy: weight}
`
	return files
}()
