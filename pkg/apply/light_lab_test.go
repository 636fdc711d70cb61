package apply

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/readiness"
)

// TestLightApplyOnLab applies the same objects three ways to a real
// apiserver: answered whole (no Metadata), answered with metadata only for
// the kinds whose readiness reads no more (Metadata), and answered with
// metadata only for all (Metadata and NoReadiness, apply --wait=false).
// Every way must record in the inventory the UID and fields digest that a
// read of the live object gives, and judge readiness as the whole object
// would be judged.
func TestLightApplyOnLab(t *testing.T) {
	_, clusters := labtest.New(t, lab.ClusterSpec{Name: "c1", APIServerOnly: true, Lean: true})
	ctx := context.Background()
	conn := member.Connect(ctx, []member.Target{{Name: "c1", Region: "us-west1", Config: clusters[0].RESTConfig()}}, member.Options{Timeout: 30 * time.Second})[0]
	if conn.Err != nil {
		t.Fatal(conn.Err)
	}
	meta, err := metadata.NewForConfig(conn.Config)
	if err != nil {
		t.Fatal(err)
	}
	manifests := func(p string) []string {
		return []string{
			namespace(p),
			configMap(p, "settings"),
			"apiVersion: v1\nkind: Secret\nmetadata: {name: token, namespace: " + p + "}\nstringData: {token: s3cr3t}\n",
			"apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: runner, namespace: " + p + "}\nautomountServiceAccountToken: false\n",
			"apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: reader, namespace: " + p + "}\nrules: [{apiGroups: [''], resources: [configmaps], verbs: [get]}]\n",
			"apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: reader, namespace: " + p + "}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}\nsubjects: [{kind: ServiceAccount, name: runner, namespace: " + p + "}]\n",
			"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: " + p + "-viewer}\nrules: [{apiGroups: [''], resources: [namespaces], verbs: [list]}]\n",
			"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: " + p + "-viewer}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: " + p + "-viewer}\nsubjects: [{kind: ServiceAccount, name: runner, namespace: " + p + "}]\n",
			deployment(p, "web", "{cpu: 100m}"),
		}
	}
	const n = 9

	type way struct {
		meta        metadata.Interface
		noReadiness bool
		wantLive    int
	}
	digests := map[string]map[string]string{} // way → kind → fields digest
	for _, tt := range []struct {
		name string
		way
	}{
		{"whole", way{wantLive: n}},
		{"light", way{meta: meta, wantLive: n}},
		{"bare", way{meta: meta, noReadiness: true, wantLive: 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Cluster(ctx, ClusterOptions{Topology: tt.name, Cluster: "c1", Client: conn.Dynamic, Mapper: conn.Mapper, Discovery: conn.Discovery,
				Prune: true, Objects: rendered(t, tt.name, manifests(tt.name)...), Metadata: tt.meta, NoReadiness: tt.noReadiness})
			if err != nil || res.Applied != n || len(res.Live) != tt.wantLive {
				t.Fatalf("Cluster = %d applied, %d live, %v; want %d applied, %d live", res.Applied, len(res.Live), err, n, tt.wantLive)
			}
			inv, err := inventory.Read(ctx, conn.Dynamic, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if len(inv.Entries) != n {
				t.Fatalf("inventory of %s holds %d entries, want %d", tt.name, len(inv.Entries), n)
			}
			live := map[string]readiness.Verdict{}
			for _, l := range res.Live {
				live[l.GetKind()+"/"+l.GetName()] = readiness.Of(l, func() (int64, error) { return 0, nil })
			}
			digests[tt.name] = map[string]string{}
			for _, e := range inv.Entries {
				rc, err := (&clusterRun{ClusterOptions: ClusterOptions{Client: conn.Dynamic, Mapper: conn.Mapper}}).resourceFor(
					schema.GroupVersionKind{Group: e.Group, Version: e.Version, Kind: e.Kind}, e.Namespace)
				if err != nil {
					t.Fatalf("%s %s: %v", e.Kind, e.Name, err)
				}
				got, err := rc.Get(ctx, e.Name, metav1.GetOptions{})
				if err != nil {
					t.Fatalf("reading %s %s back: %v", e.Kind, e.Name, err)
				}
				if e.UID == "" || e.UID != got.GetUID() {
					t.Errorf("inventory records %s %s with UID %q, the server has %q", e.Kind, e.Name, e.UID, got.GetUID())
				}
				if want := inventory.FieldsDigest(got, object.FieldManager); e.FieldsDigest == "" || e.FieldsDigest != want {
					t.Errorf("inventory records %s %s with fields digest %q, its managedFields give %q", e.Kind, e.Name, e.FieldsDigest, want)
				}
				digests[tt.name][e.Kind] = e.FieldsDigest
				if tt.wantLive == 0 {
					continue
				}
				v, ok := live[e.Kind+"/"+e.Name]
				if !ok {
					t.Errorf("apply returned no %s %s for readiness", e.Kind, e.Name)
					continue
				}
				if want := readiness.Of(forReadiness(got), func() (int64, error) { return 0, nil }); v != want {
					t.Errorf("readiness of %s %s as apply returned it: %+v; read whole: %+v", e.Kind, e.Name, v, want)
				}
			}
		})
	}
	// The same objects under other names: geofed owns the same fields, so
	// the digests of the three ways agree kind by kind.
	for _, w := range []string{"light", "bare"} {
		if fmt.Sprint(digests[w]) != fmt.Sprint(digests["whole"]) {
			t.Errorf("fields digests applied %s: %v; applied whole: %v", w, digests[w], digests["whole"])
		}
	}
}
