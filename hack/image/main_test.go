package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/internal/ociimage"
)

const manifests = "../../manifests/controller"

// testIndex is an index built the way run builds one, over stand-in
// binaries: what matters here is that its digest is the one pinned.
func testIndex(t *testing.T) (v1.ImageIndex, v1.Hash) {
	t.Helper()
	dir := t.TempDir()
	o := ociimage.Options{Entrypoint: "/usr/local/bin/geofed-controller", Created: time.Unix(1700000000, 0)}
	for _, arch := range []string{"amd64", "arm64"} {
		p := filepath.Join(dir, arch)
		if err := os.WriteFile(p, []byte("program for "+arch), 0o755); err != nil {
			t.Fatal(err)
		}
		o.Binaries = append(o.Binaries, ociimage.Binary{Platform: v1.Platform{OS: "linux", Architecture: arch}, Path: p})
	}
	idx, err := ociimage.Index(o)
	if err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return idx, d
}

// deployment finds the controller's Deployment in a multi-document YAML
// stream and fails when it is not there exactly once.
func deployment(t *testing.T, stream []byte) *appsv1.Deployment {
	t.Helper()
	var found []*appsv1.Deployment
	for _, doc := range strings.Split(string(stream), "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("document %q: %v", doc, err)
		}
		if meta.Kind != "Deployment" {
			continue
		}
		d := &appsv1.Deployment{}
		if err := yaml.UnmarshalStrict([]byte(doc), d); err != nil {
			t.Fatalf("Deployment: %v", err)
		}
		found = append(found, d)
	}
	if len(found) != 1 || found[0].Name != "geofed-controller" || len(found[0].Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("want one Deployment geofed-controller with one container, got %d Deployments", len(found))
	}
	return found[0]
}

func TestInstallYAML(t *testing.T) {
	_, digest := testIndex(t)
	image := ControllerRepo + "@" + digest.String()
	b, err := installYAML(manifests, image, "v1.2.3", "abc123")
	if err != nil {
		t.Fatal(err)
	}
	d := deployment(t, b)
	c := d.Spec.Template.Spec.Containers[0]
	ref, err := name.NewDigest(c.Image)
	if err != nil {
		t.Fatalf("image %q is not pinned by digest: %v", c.Image, err)
	}
	if ref.DigestStr() != digest.String() || ref.Context().Name() != ControllerRepo {
		t.Errorf("image %s, want %s", c.Image, image)
	}
	if c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("imagePullPolicy %q, want IfNotPresent: a digest never changes, so a node that has it need not ask", c.ImagePullPolicy)
	}
	for _, kind := range []string{"kind: Namespace", "kind: CustomResourceDefinition", "kind: ServiceAccount", "kind: Role", "kind: RoleBinding"} {
		if !bytes.Contains(b, []byte("\n"+kind+"\n")) {
			t.Errorf("install.yaml has no %s: it must install everything", kind)
		}
	}
	if !bytes.HasPrefix(b, []byte("# geofed control plane v1.2.3 (abc123), image "+image+".\n")) {
		t.Errorf("install.yaml does not start by saying what it installs:\n%.200s", b)
	}
}

// TestControllerRunsAsTheImageUser checks the Deployment asks for what the
// image provides and forbids everything else.
func TestControllerRunsAsTheImageUser(t *testing.T) {
	_, digest := testIndex(t)
	b, err := installYAML(manifests, ControllerRepo+"@"+digest.String(), "v1", "r")
	if err != nil {
		t.Fatal(err)
	}
	pod := deployment(t, b).Spec.Template.Spec
	c := pod.Containers[0]
	uid := int64(ociimage.NonrootUID)
	wantPod := &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      &uid,
		RunAsGroup:     &uid,
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if diff := cmp.Diff(wantPod, pod.SecurityContext); diff != "" {
		t.Errorf("pod securityContext (-want +got):\n%s", diff)
	}
	wantContainer := &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
	if diff := cmp.Diff(wantContainer, c.SecurityContext); diff != "" {
		t.Errorf("container securityContext (-want +got):\n%s", diff)
	}
	for probe, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", probe)
		}
	}
	var tmp bool
	for _, m := range c.VolumeMounts {
		tmp = tmp || m.MountPath == "/tmp"
	}
	if !tmp {
		t.Error("no volume on /tmp: the root filesystem is read-only")
	}
}

func TestOverlay(t *testing.T) {
	_, digest := testIndex(t)
	image := ControllerRepo + "@" + digest.String()
	dir := filepath.Join(t.TempDir(), "lab")
	if err := writeOverlay(dir, manifests, image); err != nil {
		t.Fatal(err)
	}
	// Built from disk as `kubectl apply -k DIR` would.
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	c := deployment(t, b).Spec.Template.Spec.Containers[0]
	if c.Image != image || c.ImagePullPolicy != corev1.PullNever {
		t.Errorf("overlay runs %s pulled %q, want %s never pulled", c.Image, c.ImagePullPolicy, image)
	}
	if len(m.Resources()) < 6 {
		t.Errorf("overlay holds %d objects: it must be the whole install", len(m.Resources()))
	}
}

// TestBuild runs the program's build as make release does, twice, on a
// small program of its own instead of the controller: the same digest both
// times; the layout, the archive and install.yaml all name it.
func TestBuild(t *testing.T) {
	t.Chdir("../..")
	var digests []string
	for range 2 {
		out := t.TempDir()
		o := &options{
			out: out, repo: "example.com/hello", tag: "v0.0.1", version: "v0.0.1", revision: "abc",
			created:   time.Unix(1700000000, 0).UTC(),
			platforms: []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}},
			install:   filepath.Join(out, "install.yaml"), manifests: "manifests/controller",
			goCmd: "go", pkg: "./hack/image/testdata/hello", entry: "/hello",
		}
		var stdout, stderr bytes.Buffer
		if err := build(t.Context(), o, &stdout, &stderr); err != nil {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
		fields := strings.Fields(stdout.String())
		if len(fields) != 2 || fields[0] != "example.com/hello:v0.0.1" {
			t.Fatalf("stdout %q, want %q and a digest", stdout.String(), "example.com/hello:v0.0.1")
		}
		digest := fields[1]
		digests = append(digests, digest)

		p, err := layout.FromPath(filepath.Join(out, "hello"))
		if err != nil {
			t.Fatal(err)
		}
		top, err := p.ImageIndex()
		if err != nil {
			t.Fatal(err)
		}
		tm, err := top.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(tm.Manifests) != 1 || tm.Manifests[0].Digest.String() != digest {
			t.Errorf("layout index.json %+v, want one entry %s", tm.Manifests, digest)
		}
		names := archiveNames(t, filepath.Join(out, "hello.tar"))
		want := []string{"example.com/hello:v0.0.1", "example.com/hello@" + digest}
		if diff := cmp.Diff(want, names); diff != "" {
			t.Errorf("archive names (-want +got):\n%s", diff)
		}
		idx, err := top.ImageIndex(tm.Manifests[0].Digest)
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(im.Manifests) != 2 {
			t.Fatalf("index has %d images, want amd64 and arm64", len(im.Manifests))
		}
		img, err := idx.Image(im.Manifests[1].Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		wantLabels := map[string]string{
			"org.opencontainers.image.title":    "hello",
			"org.opencontainers.image.source":   source,
			"org.opencontainers.image.revision": "abc",
			"org.opencontainers.image.version":  "v0.0.1",
			"org.opencontainers.image.licenses": "Apache-2.0",
			"org.opencontainers.image.created":  "2023-11-14T22:13:20Z",
		}
		if diff := cmp.Diff(wantLabels, cf.Config.Labels); diff != "" {
			t.Errorf("labels (-want +got):\n%s", diff)
		}
		if cf.Architecture != "arm64" || cf.Config.Entrypoint[0] != "/hello" {
			t.Errorf("arm64 image: architecture %s, entrypoint %v", cf.Architecture, cf.Config.Entrypoint)
		}

		b, err := os.ReadFile(o.install)
		if err != nil {
			t.Fatal(err)
		}
		if got := deployment(t, b).Spec.Template.Spec.Containers[0].Image; got != "example.com/hello@"+digest {
			t.Errorf("install.yaml runs %s, want the image built, example.com/hello@%s", got, digest)
		}
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds: %s then %s", digests[0], digests[1])
	}
}

// archiveNames reads index.json out of an OCI archive and returns the
// names containerd would import it under.
func archiveNames(t *testing.T, file string) []string {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := untar(f, dir); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range tm.Manifests {
		if _, err := top.ImageIndex(d.Digest); err != nil {
			t.Errorf("archive lacks the index %s: %v", d.Digest, err)
		}
		names = append(names, d.Annotations[ociimage.AnnotationContainerdRef])
	}
	return names
}

var errNotInDir = errors.New("entry outside the directory")

func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dir, h.Name)
		if !strings.HasPrefix(p, dir) {
			return errNotInDir
		}
		if strings.HasSuffix(h.Name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
}
