package push

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/gcsemu"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/datasource"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// TestDeletedTopologyTakesItsSources: every chunk of a push — of the first
// and of a later one — is owned by its Topology, so the hub's garbage
// collector (a real kube-controller-manager) deletes them all with it.
func TestDeletedTopologyTakesItsSources(t *testing.T) {
	_, clusters := labtest.New(t, lab.ClusterSpec{Name: "hub"})
	hub := clusters[0]
	ctx := t.Context()
	labtest.InstallCRD(t, hub.RESTConfig(), filepath.Join("..", "..", "..", "manifests", "controller", "crd", "geofed.io_topologies.yaml"))
	scheme := runtime.NewScheme()
	must(t, clientgoscheme.AddToScheme(scheme))
	must(t, v1alpha1.AddToScheme(scheme))
	c, err := client.New(hub.RESTConfig(), client.Options{Scheme: scheme})
	must(t, err)
	const ns = "geofed-system"
	must(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))

	dir := t.TempDir()
	files := map[string]string{
		"topology.yaml": `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: fleet}
spec:
  regions:
  - name: us-west1
    clusters:
    - name: m1
      kubeconfig: {context: m1}
  workloads:
  - name: web
    source: apps/web
`,
		"apps/web/kustomization.yaml": "resources: [config.yaml, secret.yaml]\n",
		"apps/web/config.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: web}\ndata: {level: info}\n",
		"apps/web/secret.yaml":        "apiVersion: v1\nkind: Secret\nmetadata: {name: web, namespace: web}\nstringData: {token: s3cr3t}\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(content), 0o644))
	}
	topo, err := topology.Load(filepath.Join(dir, "topology.yaml"))
	must(t, err)
	chunks := func() (cms, secrets []client.Object) {
		t.Helper()
		var cl corev1.ConfigMapList
		must(t, c.List(ctx, &cl, client.InNamespace(ns), client.MatchingLabels{object.LabelTopology: "fleet"}))
		for i := range cl.Items {
			cms = append(cms, &cl.Items[i])
		}
		var sl corev1.SecretList
		must(t, c.List(ctx, &sl, client.InNamespace(ns), client.MatchingLabels{object.LabelTopology: "fleet"}))
		for i := range sl.Items {
			secrets = append(secrets, &sl.Items[i])
		}
		return cms, secrets
	}

	// Two pushes, with another chunk size the second time: the first one's
	// chunks are deleted by push, the second's must go with the Topology.
	for _, size := range []int{0, 64} {
		if _, err := Run(ctx, Options{Topology: topo, Hub: c, Namespace: ns, ChunkSize: size}); err != nil {
			t.Fatal(err)
		}
	}
	var pushed v1alpha1.Topology
	must(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fleet"}, &pushed))
	cms, secrets := chunks()
	if len(cms) < 2 || len(secrets) == 0 {
		t.Fatalf("%d ConfigMaps and %d Secrets pushed, want several ConfigMaps and a Secret", len(cms), len(secrets))
	}
	for _, obj := range append(cms, secrets...) {
		refs := obj.GetOwnerReferences()
		if len(refs) != 1 || refs[0].UID != pushed.UID || refs[0].Kind != "Topology" || refs[0].APIVersion != "geofed.io/v1alpha1" {
			t.Errorf("%T %s owned by %+v, want Topology fleet (%s)", obj, obj.GetName(), refs, pushed.UID)
		}
	}

	must(t, c.Delete(ctx, &pushed))
	deadline := time.Now().Add(60 * time.Second)
	for {
		cms, secrets := chunks()
		if len(cms)+len(secrets) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d ConfigMaps and %d Secrets of the deleted Topology still in the hub after 60s", len(cms), len(secrets))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestPushNamingABucket: the check before upload places every workload,
// and placement near a bucket needs the bucket's location. Push reads it
// from Cloud Storage (the lab's emulator) as plan does: a bucket that
// exists is pushed, read back from the hub; one that does not fails the
// push naming the workload, file:line and URL, and nothing is uploaded.
func TestPushNamingABucket(t *testing.T) {
	_, clusters := labtest.New(t, lab.ClusterSpec{Name: "hub", APIServerOnly: true})
	hub := clusters[0]
	ctx := t.Context()
	labtest.InstallCRD(t, hub.RESTConfig(), filepath.Join("..", "..", "..", "manifests", "controller", "crd", "geofed.io_topologies.yaml"))
	scheme := runtime.NewScheme()
	must(t, clientgoscheme.AddToScheme(scheme))
	must(t, v1alpha1.AddToScheme(scheme))
	c, err := client.New(hub.RESTConfig(), client.Options{Scheme: scheme})
	must(t, err)
	const ns = "geofed-system"
	must(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	gcs, err := gcsemu.Start(ctx, gcsemu.Options{})
	must(t, err)
	t.Cleanup(gcs.Stop)
	must(t, gcsemu.CreateBucket(ctx, gcs.Host, "ckpt-eu", "europe-west4"))

	for _, tc := range []struct {
		name, near string
		wantErr    string // "" for a push that uploads
	}{
		{name: "bucket-exists", near: "gs://ckpt-eu/run1"},
		{name: "bucket-gone", near: "gs://gone/run1", wantErr: `topology.yaml:18: workload "trainer": replicas.near: gs://gone/run1: bucket gone does not exist`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{
				"topology.yaml": `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: ` + tc.name + `}
spec:
  regions:
  - name: us-west1
    clusters:
    - name: m1
      kubeconfig: {context: m1}
  - name: europe-west4
    clusters:
    - name: m2
      kubeconfig: {context: m2}
  workloads:
  - name: trainer
    source: apps/trainer
    placement:
      replicas: {total: 2, divideBy: locality, near: "` + tc.near + `"}
`,
				"apps/trainer/kustomization.yaml": "resources: [deployment.yaml]\n",
				"apps/trainer/deployment.yaml":    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: trainer, namespace: ml}\nspec:\n  selector: {matchLabels: {app: trainer}}\n  template:\n    metadata: {labels: {app: trainer}}\n    spec:\n      containers: [{name: trainer, image: trainer:1}]\n",
			}
			for name, content := range files {
				p := filepath.Join(dir, name)
				must(t, os.MkdirAll(filepath.Dir(p), 0o755))
				must(t, os.WriteFile(p, []byte(content), 0o644))
			}
			topo, err := topology.Load(filepath.Join(dir, "topology.yaml"))
			must(t, err)
			_, err = Run(ctx, Options{Topology: topo, Hub: c, Namespace: ns, Data: datasource.Options{EmulatorHost: gcs.Host}})
			var pushed v1alpha1.Topology
			getErr := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: tc.name}, &pushed)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("push: %v", err)
				}
				if getErr != nil {
					t.Fatalf("reading the pushed Topology back from the hub: %v", getErr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("push: error %v, want one containing %q", err, tc.wantErr)
			}
			if !apierrors.IsNotFound(getErr) {
				t.Errorf("after a refused push, reading Topology %s from the hub: %v, want NotFound", tc.name, getErr)
			}
		})
	}
}
