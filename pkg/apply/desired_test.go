package apply

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

const capacityTopology = `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: ai-platform
spec:
  regions:
  - name: us-west1
    clusters:
    - name: gpu-a
      kubeconfig: {context: gpu-a}
  - name: europe-west1
    clusters:
    - name: gpu-b
      kubeconfig: {context: gpu-b}
  - name: us-east1
    clusters:
    - name: gpu-c
      kubeconfig: {context: gpu-c}
  workloads:
  - name: server
    source: apps/server
    placement:
      replicas: {total: 6, divideBy: capacity}
  - name: config
    source: apps/config
`

func appFS(t *testing.T) filesys.FileSystem {
	t.Helper()
	files := map[string]string{
		"/work/apps/server/kustomization.yaml": "resources:\n- deployment.yaml\n",
		"/work/apps/server/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: server, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: server}}
  template:
    metadata: {labels: {app: server}}
    spec:
      containers: [{name: server, image: "server:1"}]
`,
		"/work/apps/config/kustomization.yaml": "resources:\n- configmap.yaml\n",
		"/work/apps/config/configmap.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config, namespace: default}\ndata: {level: info}\n",
	}
	fs := filesys.MakeFsInMemory()
	for path, content := range files {
		if err := fs.MkdirAll(filepath.Dir(path)); err != nil {
			t.Fatal(err)
		}
		if err := fs.WriteFile(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	return fs
}

// plannedWith computes the desired state from placement inputs, and the
// plan that shows it, as plan.Compute would for clusters that hold nothing
// yet.
func plannedWith(t *testing.T, topo *topology.Topology, fs filesys.FileSystem, clusters []placement.Cluster) (*plan.Desired, *plan.Plan) {
	t.Helper()
	d, err := plan.ComputeDesired(plan.DesiredOptions{Topology: topo, FS: fs, Clusters: clusters})
	if err != nil {
		t.Fatal(err)
	}
	unreachable := map[string]string{}
	for _, c := range clusters {
		unreachable[c.Name] = c.Unreachable
	}
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Topology: topo.Metadata.Name, Placements: d.Placements}
	for _, dc := range d.Clusters {
		pc := plan.Cluster{Name: dc.Name, Region: dc.Region, Mode: "joined", Unreachable: unreachable[dc.Name]}
		if pc.Unreachable == "" {
			for _, o := range dc.Objects {
				gvk := o.Object.GroupVersionKind()
				pc.Objects = append(pc.Objects, plan.Object{Action: plan.ActionCreate, Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind,
					Namespace: o.Object.GetNamespace(), Name: o.Object.GetName(), Workload: o.Workload, DesiredHash: o.Hash})
			}
		}
		p.Regions = append(p.Regions, plan.Region{Name: dc.Region, Clusters: []plan.Cluster{pc}})
	}
	return d, p
}

func hashes(d *plan.Desired) map[string][]string {
	out := map[string][]string{}
	for _, dc := range d.Clusters {
		for _, o := range dc.Objects {
			out[dc.Name] = append(out[dc.Name], describe(o.Object)+" "+o.Hash)
		}
	}
	return out
}

// TestDesiredOf: apply renders what the plan showed, from the plan's own
// placement inputs — spare capacity and unreachable clusters — without
// looking at the clusters again.
func TestDesiredOf(t *testing.T) {
	fs := appFS(t)
	topo, err := topology.Options{IsDir: fs.IsDir}.Parse("/work/topology.yaml", []byte(capacityTopology))
	if err != nil {
		t.Fatal(err)
	}
	clusters := placement.ClustersOf(topo)
	clusters[0].Spare = map[string]int64{placement.DefaultResource: 4}
	clusters[1].Spare = map[string]int64{placement.DefaultResource: 1}
	clusters[2].Unreachable = "connecting to cluster gpu-c: 127.0.0.1:1 refused the connection"
	want, p := plannedWith(t, topo, fs, clusters)

	got, err := desiredOf(topo, fs, roundTrip(t, p))
	if err != nil {
		t.Fatalf("desiredOf: %v", err)
	}
	if d := cmp.Diff(hashes(want), hashes(got)); d != "" {
		t.Errorf("desired objects differ from the plan's (-plan +apply):\n%s", d)
	}
	if d := cmp.Diff(want.Placements, got.Placements); d != "" {
		t.Errorf("placements differ (-plan +apply):\n%s", d)
	}

	// Inconsistencies are refused before anything is applied.
	gpuA := func(p *plan.Plan) *plan.Cluster { return &p.Regions[2].Clusters[0] }
	serverOnA := func(p *plan.Plan) *placement.Share { return &p.Placements[0].Shares[2] }
	tests := []struct {
		name   string
		modify func(*plan.Plan, filesys.FileSystem)
		want   string
	}{
		{
			name:   "other replicas",
			modify: func(p *plan.Plan, _ filesys.FileSystem) { n := int32(4); serverOnA(p).Replicas = &n },
			want:   "workload server: the plan places it on [gpu-b 1, gpu-c excluded, gpu-a 4], the topology now on [gpu-b 1, gpu-c excluded, gpu-a 5]: plan again",
		},
		{
			name: "manifest edited since",
			modify: func(_ *plan.Plan, fs filesys.FileSystem) {
				_ = fs.WriteFile("/work/apps/config/configmap.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config, namespace: default}\ndata: {level: debug}\n"))
			},
			want: "cluster gpu-b: ConfigMap default/config renders differently from the plan: the sources changed since the plan was made; plan again",
		},
		{
			name:   "object not in the plan",
			modify: func(p *plan.Plan, _ filesys.FileSystem) { c := gpuA(p); c.Objects = c.Objects[1:] },
			want:   "cluster gpu-a: ConfigMap default/config is rendered now but not in the plan",
		},
		{
			name: "object no longer rendered",
			modify: func(p *plan.Plan, _ filesys.FileSystem) {
				c := gpuA(p)
				c.Objects = append(c.Objects, plan.Object{Action: plan.ActionCreate, Version: "v1", Kind: "Secret", Namespace: "default", Name: "gone"})
			},
			want: "cluster gpu-a: Secret default/gone is in the plan but no longer rendered",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := appFS(t)
			_, p := plannedWith(t, topo, fs, clusters)
			tt.modify(p, fs)
			_, err := desiredOf(topo, fs, p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("desiredOf = %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
}
