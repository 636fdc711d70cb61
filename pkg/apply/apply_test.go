package apply

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

func TestRefusedObjects(t *testing.T) {
	conflict := plan.Object{Action: object.ActionConflict, Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "serving", Name: "model-server",
		Reason: `conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas: apply needs --force-conflicts to take these fields back`}
	rejected := plan.Object{Action: object.ActionError, Version: "v1", Kind: "Service", Namespace: "serving", Name: "model-server",
		Reason: "server rejected the dry-run: Service \"model-server\" is invalid: spec.ports: Required value"}
	fine := plan.Object{Action: object.ActionUpdate, Version: "v1", Kind: "ConfigMap", Namespace: "serving", Name: "c"}
	tests := []struct {
		name    string
		objects []plan.Object
		force   bool
		want    string
	}{
		{name: "nothing to refuse", objects: []plan.Object{fine}},
		{name: "conflict forced", objects: []plan.Object{fine, conflict}, force: true},
		{
			name:    "conflict names the manager",
			objects: []plan.Object{fine, conflict},
			want:    `nothing applied to cluster serving-us: apps/Deployment serving/model-server: conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas: apply needs --force-conflicts to take these fields back`,
		},
		{
			name:    "rejected even when forcing",
			objects: []plan.Object{rejected, conflict},
			force:   true,
			want:    `nothing applied to cluster serving-us: Service serving/model-server: server rejected the dry-run: Service "model-server" is invalid: spec.ports: Required value`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := refusedObjects(plan.Cluster{Name: "serving-us", Objects: tt.objects}, tt.force)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("refusedObjects = %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestWaveOrder(t *testing.T) {
	topo := &topology.Topology{Spec: topology.Spec{Regions: []topology.Region{{Name: "us-west1"}, {Name: "europe-west1"}, {Name: "us-east1"}}}}
	clusters := []plan.Cluster{{Name: "a", Region: "europe-west1"}, {Name: "b", Region: "asia-east1"}, {Name: "c", Region: "us-west1"}}
	want := []string{"us-west1", "europe-west1", "us-east1", "asia-east1"}
	if d := cmp.Diff(want, waveOrder(topo, clusters)); d != "" {
		t.Errorf("waveOrder (-want +got):\n%s", d)
	}
}

func TestThrottle(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := throttle{every: 2 * time.Second, quiet: 10 * time.Second}
	steps := []struct {
		at   time.Duration
		line string
		want bool
	}{
		{0, "1/5", true},                 // the first line at once
		{time.Second, "2/5", false},      // changed, but too soon
		{2 * time.Second, "2/5", true},   // changed, 2s later
		{5 * time.Second, "2/5", false},  // unchanged: quiet
		{12 * time.Second, "2/5", true},  // unchanged for 10s: said again
		{13 * time.Second, "3/5", false}, // too soon
		{14 * time.Second, "3/5", true},
	}
	for _, s := range steps {
		if got := th.ok(t0.Add(s.at), s.line); got != s.want {
			t.Errorf("at %s, %q: ok = %t, want %t", s.at, s.line, got, s.want)
		}
	}
}

// parse reads a YAML manifest as the API machinery does: whole numbers are
// int64.
func parse(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(j); err != nil {
		t.Fatal(err)
	}
	return obj
}
