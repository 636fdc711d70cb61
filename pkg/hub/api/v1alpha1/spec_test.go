package v1alpha1

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

const spec = `
mode: Plan
failover: {after: 30s}
regions:
- name: us-west1
  clusters:
  - name: c1
    labels: {role: serving}
    kubeconfig: {context: c1}
workloads:
- name: web
  source: apps/web
  placement:
    clusterSelector: {matchLabels: {role: serving}}
    replicas: {total: 3, divideBy: weight, weights: {us-west1: 2}}
`

func topo(t *testing.T, specYAML string) *Topology {
	t.Helper()
	tp := &Topology{ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: "ns"}}
	if err := yaml.UnmarshalStrict([]byte(specYAML), &tp.Spec); err != nil {
		t.Fatal(err)
	}
	return tp
}

// The resource's spec is the file's: its document loads with the CLI's
// loader, and the controller's own fields stay out of it.
func TestDocumentLoads(t *testing.T) {
	tp := topo(t, spec)
	doc, err := tp.Document()
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"mode", "failover", "paused", "sources"} {
		if strings.Contains(string(doc), field+":") {
			t.Errorf("document holds the controller's field %s:\n%s", field, doc)
		}
	}
	loaded, err := topology.Options{IsDir: func(string) bool { return true }}.Parse("/bundle/topology.yaml", doc)
	if err != nil {
		t.Fatalf("loading the document: %v\n%s", err, doc)
	}
	if loaded.Metadata.Name != "fleet" || len(loaded.Spec.Workloads) != 1 || loaded.Spec.Workloads[0].Placement.Replicas.Weights["us-west1"] != 2 {
		t.Errorf("loaded %+v", loaded)
	}
	if tp.Spec.EffectiveMode() != ModePlan || tp.Spec.FailoverAfter() != 30*time.Second || tp.Spec.FailoverRestoreAfter() != 2*time.Minute {
		t.Errorf("mode %s, after %s, restoreAfter %s", tp.Spec.EffectiveMode(), tp.Spec.FailoverAfter(), tp.Spec.FailoverRestoreAfter())
	}
}

// What the loader refuses in a file, it refuses in a resource, with the
// same messages.
func TestDocumentValidatedAsAFile(t *testing.T) {
	tp := topo(t, strings.Replace(spec, "role: serving}}", "role: training}}", 1))
	doc, err := tp.Document()
	if err != nil {
		t.Fatal(err)
	}
	_, err = topology.Options{IsDir: func(string) bool { return true }}.Parse("/bundle/topology.yaml", doc)
	if err == nil || !strings.Contains(err.Error(), "/bundle/topology.yaml:") || !strings.Contains(err.Error(), "spec.workloads[0].placement") {
		t.Fatalf("got %v, want the loader's file:line: path error about the selector", err)
	}
}

func TestDeepCopy(t *testing.T) {
	tp := topo(t, spec)
	cp := tp.DeepCopy()
	if diff := cmp.Diff(tp, cp); diff != "" {
		t.Fatalf("copy differs:\n%s", diff)
	}
	cp.Spec.Workloads[0].Placement.Replicas.Weights["us-west1"] = 9
	cp.Spec.Regions[0].Clusters[0].Labels["role"] = "x"
	cp.Spec.Failover.After.Duration = time.Hour
	if tp.Spec.Workloads[0].Placement.Replicas.Weights["us-west1"] != 2 || tp.Spec.Regions[0].Clusters[0].Labels["role"] != "serving" || tp.Spec.FailoverAfter() != 30*time.Second {
		t.Fatal("the copy shares memory with the original")
	}
}
