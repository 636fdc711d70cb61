package bundle

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const topologyDoc = `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: t}
spec:
  regions:
  - name: us-west1
    clusters:
    - name: c1
      kubeconfig: {context: c1}
  workloads:
  - name: web
    source: ../apps/web
`

func tree() map[string]string {
	return map[string]string{
		"topo/topology.yaml": topologyDoc,
		"apps/web/base/kustomization.yaml": `resources: [cm.yaml, secret.yaml]
secretGenerator:
- name: creds
  files: [password.txt]
- name: env
  envs: [app.env]
`,
		"apps/web/base/cm.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {level: info}\n",
		"apps/web/base/secret.yaml":  "apiVersion: v1\nkind: Secret\nmetadata: {name: tok}\nstringData: {token: TOKEN-VALUE}\n",
		"apps/web/base/password.txt": "PASSWORD-VALUE",
		"apps/web/base/app.env":      "KEY=ENV-VALUE\n",
		"apps/web/README.md":         "not rendered, still bundled\n",
	}
}

func load(t *testing.T, dir string) *topology.Topology {
	t.Helper()
	topo, err := topology.Load(filepath.Join(dir, "topo", "topology.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestCollectPackUnpack(t *testing.T) {
	dir := writeTree(t, tree())
	topo := load(t, dir)
	b, err := Collect(topo)
	if err != nil {
		t.Fatal(err)
	}
	// The root holds the topology's directory and ../apps/web.
	if b.Topology != "topo/topology.yaml" {
		t.Errorf("topology at %q, want topo/topology.yaml", b.Topology)
	}
	wantSensitive := []string{"apps/web/base/app.env", "apps/web/base/password.txt", "apps/web/base/secret.yaml"}
	for name := range b.Files {
		want := false
		for _, s := range wantSensitive {
			want = want || s == name
		}
		if b.Sensitive[name] != want {
			t.Errorf("%s: sensitive %v, want %v", name, b.Sensitive[name], want)
		}
	}
	if len(b.Files) != 6 {
		t.Errorf("%d files bundled, want 6: %v", len(b.Files), b.Files)
	}
	if err := Check(topo, b, nil); err != nil {
		t.Fatalf("Check: %v", err)
	}

	p, err := b.Pack()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := b.Pack()
	if again.Digest != p.Digest || !bytes.Equal(again.Public, p.Public) {
		t.Error("packing twice gave different bundles")
	}
	// Tiny chunks: several ConfigMaps; no secret value in any of them.
	cms, secrets, src := Objects("ns", "t", p, 64)
	if len(cms) < 2 || len(secrets) < 2 || len(src.ConfigMaps) != len(cms) || len(src.Secrets) != len(secrets) {
		t.Fatalf("%d ConfigMaps, %d Secrets, sources %+v: want the tars cut in 64-byte chunks", len(cms), len(secrets), src)
	}
	var public []byte
	for _, cm := range cms {
		public = append(public, cm.BinaryData[ChunkKey]...)
	}
	var pubFiles []string
	if err := unpackTar(public, func(name string, data []byte) {
		pubFiles = append(pubFiles, name)
		for _, v := range []string{"TOKEN-VALUE", "PASSWORD-VALUE", "ENV-VALUE"} {
			if strings.Contains(string(data), v) {
				t.Errorf("%s, in a ConfigMap, holds %s", name, v)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(pubFiles) != 3 {
		t.Errorf("ConfigMaps hold %v, want the 3 files without secrets", pubFiles)
	}

	var secret []byte
	for _, s := range secrets {
		secret = append(secret, s.Data[ChunkKey]...)
	}
	back, err := Unpack(&Packed{Topology: src.Path, Public: public, Secret: secret, Digest: src.Digest})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range b.Files {
		if !bytes.Equal(back.Files[name], data) || back.Sensitive[name] != b.Sensitive[name] {
			t.Errorf("%s did not survive the round trip", name)
		}
	}

	// A chunk missing (a push half done) is caught by the digest.
	if _, err := Unpack(&Packed{Topology: src.Path, Public: public[:len(public)-1], Secret: secret, Digest: src.Digest}); err == nil || !strings.Contains(err.Error(), "digest") {
		t.Errorf("Unpack of a cut bundle: %v, want a digest error", err)
	}
}

// A kustomization that reads a file outside its workload's source is found
// at push time.
func TestCheckFindsFilesOutsideTheSource(t *testing.T) {
	files := tree()
	files["apps/shared/kustomization.yaml"] = "resources: [extra.yaml]\n"
	files["apps/shared/extra.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n"
	files["apps/web/base/kustomization.yaml"] = "resources: [cm.yaml, ../../shared]\n"
	dir := writeTree(t, files)
	topo := load(t, dir)
	b, err := Collect(topo)
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(topo, b, nil); err == nil || !strings.Contains(err.Error(), "outside its workload's source directory") {
		t.Fatalf("Check: %v, want an error naming files outside the source", err)
	}
}

func TestUnpackRefusesPathsOutside(t *testing.T) {
	data, err := packTar(map[string][]byte{"../evil": []byte("x")}, []string{"../evil"})
	if err != nil {
		t.Fatal(err)
	}
	p := &Packed{Topology: "t.yaml", Public: data}
	p.Digest = digest(p.Topology, p.Public, p.Secret)
	if _, err := Unpack(p); err == nil || !strings.Contains(err.Error(), "outside the bundle") {
		t.Fatalf("Unpack: %v, want a refusal", err)
	}
}
