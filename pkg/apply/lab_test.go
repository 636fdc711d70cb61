package apply

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

func object(t *testing.T, doc string) plan.DesiredObject {
	t.Helper()
	obj := parse(t, doc)
	obj.SetLabels(map[string]string{object.LabelPartOf: inventory.ID("lab"), "geofed.io/topology": "lab"})
	hash, err := inventory.AppliedHash(obj)
	if err != nil {
		t.Fatal(err)
	}
	obj.SetAnnotations(map[string]string{object.AnnotationAppliedHash: hash})
	return plan.DesiredObject{Hash: hash, Object: obj}
}

func deployment(t *testing.T, name, resources string) plan.DesiredObject {
	return object(t, `apiVersion: apps/v1
kind: Deployment
metadata: {name: `+name+`, namespace: app}
spec:
  replicas: 2
  selector: {matchLabels: {app: `+name+`}}
  template:
    metadata: {labels: {app: `+name+`}}
    spec:
      containers:
      - name: main
        image: main:1
        resources: {requests: `+resources+`, limits: `+resources+`}
`)
}

// TestClusterAndWaitOnLab applies to a real cluster with one CPU node and
// waits: a Deployment asking for GPUs never becomes ready and the wait says
// so when it times out, naming it; one that fits becomes ready. Objects the
// plan knows unchanged are not sent again, and stay in the inventory.
func TestClusterAndWaitOnLab(t *testing.T) {
	_, clusters := labtest.New(t, lab.ClusterSpec{Name: "c1", Nodes: []lab.NodeSpec{{Name: "cpu", Count: 1}}})
	ctx := context.Background()
	conn := member.Connect(ctx, []member.Target{{Name: "c1", Region: "us-west1", Config: clusters[0].RESTConfig()}}, member.Options{Timeout: 30 * time.Second})[0]
	if conn.Err != nil {
		t.Fatal(conn.Err)
	}
	ns := object(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: app}\n")
	cm := object(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: app}\ndata: {level: info}\n")
	hungry := deployment(t, "hungry", `{cpu: 100m, nvidia.com/gpu: "1"}`)
	opts := ClusterOptions{Topology: "lab", Cluster: "c1", Client: conn.Dynamic, Mapper: conn.Mapper, Prune: true}

	opts.Objects = []plan.DesiredObject{ns, cm, hungry}
	res, err := Cluster(ctx, opts)
	if err != nil || res.Applied != 3 || len(res.Live) != 3 {
		t.Fatalf("Cluster = %d applied, %d live, %v; want 3", res.Applied, len(res.Live), err)
	}
	var mu sync.Mutex
	var lines []string
	wait := func(objs []plan.DesiredObject, live []*unstructured.Unstructured, timeout time.Duration) error {
		ro := readyOptions{cluster: "c1", client: conn.Dynamic, mapper: conn.Mapper, timeout: timeout, live: map[string]*unstructured.Unstructured{},
			report: func(s string) { mu.Lock(); lines = append(lines, s); mu.Unlock() }}
		for _, o := range objs {
			ro.objects = append(ro.objects, o.Object)
		}
		for _, l := range live {
			ro.live[object.KeyOf(l)] = l
		}
		return waitReady(ctx, ro)
	}
	err = wait(opts.Objects, res.Live, 3*time.Second)
	const wantErr = "cluster c1: not ready after 3s: Deployment app/hungry: "
	if err == nil || !strings.HasPrefix(err.Error(), wantErr) {
		t.Errorf("waitReady = %v, want it to start %q", err, wantErr)
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "c1: 2/3 objects ready (waiting for Deployment app/hungry: ") {
		t.Errorf("progress = %q, want lines saying 2/3 ready, waiting for the Deployment", lines)
	}
	// At most one line per 2s, and a line at once: 3s give 2 lines.
	if len(lines) > 2 {
		t.Errorf("%d progress lines in 3s, want at most 2: %q", len(lines), lines)
	}

	// The plan knows the ConfigMap unchanged: only the others are sent, the
	// hungry Deployment is pruned, the ConfigMap stays.
	fits := deployment(t, "fits", `{cpu: 100m}`)
	opts.Objects = []plan.DesiredObject{ns, cm, fits}
	opts.Unchanged = map[string]bool{object.KeyOf(cm.Object): true}
	res, err = Cluster(ctx, opts)
	if err != nil || res.Applied != 2 || res.Pruned != 1 {
		t.Fatalf("Cluster = %d applied, %d pruned, %v; want 2 applied, 1 pruned", res.Applied, res.Pruned, err)
	}
	inv, err := inventory.Read(ctx, conn.Dynamic, "lab")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range inv.Entries {
		keys = append(keys, e.Kind+"/"+e.Name)
	}
	if got := strings.Join(keys, " "); !strings.Contains(got, "ConfigMap/settings") || strings.Contains(got, "hungry") {
		t.Errorf("inventory after the second apply: %s; want the ConfigMap kept and the hungry Deployment gone", got)
	}
	if err := wait(opts.Objects, res.Live, time.Minute); err != nil {
		t.Errorf("waitReady: %v", err)
	}
}
