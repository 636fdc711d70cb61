package controller

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
)

// A Topology broken in the hub (kubectl edit passes the CRD's schema) is
// reported against the Topology and its field: the document the loader
// reads is the controller's own copy of the spec, whose file and lines
// mean nothing to whoever has to mend it.
func TestLoadInvalidNamesTheTopology(t *testing.T) {
	const broken = `
apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: ai-platform, namespace: ml}
spec:
  regions:
  - name: us-west1
    clusters:
    - name: serving
      kubeconfig: {context: serving}
  workloads:
  - name: web
    source: apps/web
    placement:
      replicas: {total: 4, divideBy: weigth}
`
	var topo v1alpha1.Topology
	if err := yaml.Unmarshal([]byte(broken), &topo); err != nil {
		t.Fatal(err)
	}
	r := &Reconciler{}
	_, _, err := r.load(t.Context(), &topo)
	if err == nil {
		t.Fatal("loaded a topology with divideBy: weigth")
	}
	msg := err.Error()
	for _, want := range []string{"Topology ml/ai-platform: spec.workloads[0].placement.replicas.divideBy: "} {
		if !strings.HasPrefix(msg, want) {
			t.Errorf("error %q, want it to start with %q", msg, want)
		}
	}
	if strings.Contains(msg, "topology.yaml") || strings.Contains(msg, "/topologies/") {
		t.Errorf("error %q names the controller's copy of the spec", msg)
	}
}
