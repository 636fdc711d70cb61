package main

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// narrow keeps the unjoined cluster alone, reached through the member's
// context, with no workloads to render: a destroy of the result reaches no
// other member.
func TestNarrow(t *testing.T) {
	const spec = `
regions:
- name: us-west1
  clusters:
  - {name: m1, labels: {tier: web}, kubeconfig: {context: someone-elses}}
  - name: gke-1
    gke: {project: p, nodePools: [{name: pool, machineType: e2-standard-4}]}
- name: europe-west1
  clusters:
  - {name: m2, kubeconfig: {context: m2}}
workloads:
- name: web
  source: apps/web
  clusterSelector: {tier: web}
`
	var s topology.Spec
	if err := yaml.Unmarshal([]byte(spec), &s); err != nil {
		t.Fatal(err)
	}
	topo := &v1alpha1.Topology{ObjectMeta: metav1.ObjectMeta{Namespace: "geofed-system", Name: "fleet"}, Spec: v1alpha1.TopologySpec{Spec: s}}
	for _, tc := range []struct {
		cluster string
		ok      bool
		region  string
		labels  map[string]string
	}{
		{cluster: "m1", ok: true, region: "us-west1", labels: map[string]string{"tier": "web"}},
		{cluster: "m2", ok: true, region: "europe-west1"},
		// A managed cluster is reached through the context too, as a
		// joined one: unjoin works on the cluster, not on GKE.
		{cluster: "gke-1", ok: true, region: "us-west1"},
		{cluster: "m3", ok: false},
	} {
		t.Run(tc.cluster, func(t *testing.T) {
			mt, ok, err := narrow(topo, tc.cluster, "ctx-"+tc.cluster, "/home/me/.kube/config")
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if mt.Key != "geofed-system/fleet" || mt.Topology.Metadata.Name != "fleet" {
				t.Errorf("key %q, name %q: want geofed-system/fleet and fleet (the inventory's name)", mt.Key, mt.Topology.Metadata.Name)
			}
			refs := mt.Topology.Clusters()
			if len(refs) != 1 {
				t.Fatalf("clusters %v, want %s alone", refs, tc.cluster)
			}
			c := refs[0]
			if c.Cluster.Name != tc.cluster || c.Region != tc.region || c.Cluster.Managed() {
				t.Errorf("cluster %+v in %s, want joined %s in %s", c.Cluster, c.Region, tc.cluster, tc.region)
			}
			if k := c.Cluster.Kubeconfig; k == nil || k.Context != "ctx-"+tc.cluster || k.Path != "/home/me/.kube/config" {
				t.Errorf("kubeconfig %+v, want context ctx-%s in /home/me/.kube/config", k, tc.cluster)
			}
			if len(tc.labels) > 0 && c.Cluster.Labels["tier"] != "web" {
				t.Errorf("labels %v, want %v", c.Cluster.Labels, tc.labels)
			}
			if len(mt.Topology.Spec.Workloads) != 0 {
				t.Errorf("workloads %v, want none", mt.Topology.Spec.Workloads)
			}
			doc, err := mt.FS.ReadFile(mt.Topology.Path)
			if err != nil || !strings.Contains(string(doc), "ctx-"+tc.cluster) {
				t.Errorf("the document in FS at %s: %v\n%s", mt.Topology.Path, err, doc)
			}
		})
	}
}
