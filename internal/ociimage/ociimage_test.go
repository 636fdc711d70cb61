package ociimage

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var created = time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)

// testOptions builds options over two small stand-in binaries, one per
// platform, with different contents, as a real build's would have.
func testOptions(t *testing.T) Options {
	t.Helper()
	dir := t.TempDir()
	var bins []Binary
	for _, arch := range []string{"amd64", "arm64"} {
		p := filepath.Join(dir, "prog-"+arch)
		if err := os.WriteFile(p, []byte("\x7fELF program for "+arch), 0o755); err != nil {
			t.Fatal(err)
		}
		bins = append(bins, Binary{Platform: v1.Platform{OS: "linux", Architecture: arch}, Path: p})
	}
	return Options{
		Binaries:   bins,
		Entrypoint: "/usr/local/bin/prog",
		Created:    created,
		Labels:     map[string]string{"org.opencontainers.image.licenses": "Apache-2.0"},
		CACerts:    []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"),
	}
}

func mustIndex(t *testing.T, o Options) v1.ImageIndex {
	t.Helper()
	idx, err := Index(o)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func mustDigest(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// tarEntry is what a test checks of one layer entry.
type tarEntry struct {
	Type     byte
	Mode     int64
	UID, GID int
	ModTime  time.Time
	Data     string
}

func layerEntries(t *testing.T, img v1.Image) (names []string, entries map[string]tarEntry) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("image has %d layers, want 1", len(layers))
	}
	if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
		t.Errorf("layer media type %s, want %s", mt, types.OCILayer)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	entries = map[string]tarEntry{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		entries[h.Name] = tarEntry{Type: h.Typeflag, Mode: h.Mode, UID: h.Uid, GID: h.Gid, ModTime: h.ModTime.UTC(), Data: string(data)}
	}
	return names, entries
}

func TestLayerContents(t *testing.T) {
	o := testOptions(t)
	idx := mustIndex(t, o)
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, desc := range im.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		arch := desc.Platform.Architecture
		names, entries := layerEntries(t, img)
		if !slices.IsSorted(names) {
			t.Errorf("%s: layer entries not sorted: %v", arch, names)
		}
		dir := func(mode int64, id int) tarEntry {
			return tarEntry{Type: tar.TypeDir, Mode: mode, UID: id, GID: id, ModTime: created}
		}
		file := func(mode int64, data string) tarEntry {
			return tarEntry{Type: tar.TypeReg, Mode: mode, ModTime: created, Data: data}
		}
		want := map[string]tarEntry{
			"etc/":                              dir(0o755, 0),
			"etc/group":                         file(0o644, "root:x:0:\nnonroot:x:65532:\n"),
			"etc/passwd":                        file(0o644, "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"),
			"etc/ssl/":                          dir(0o755, 0),
			"etc/ssl/certs/":                    dir(0o755, 0),
			"etc/ssl/certs/ca-certificates.crt": file(0o644, string(o.CACerts)),
			"home/":                             dir(0o755, 0),
			"home/nonroot/":                     dir(0o700, 65532),
			"tmp/":                              dir(0o1777, 0),
			"usr/":                              dir(0o755, 0),
			"usr/local/":                        dir(0o755, 0),
			"usr/local/bin/":                    dir(0o755, 0),
			"usr/local/bin/prog":                file(0o755, "\x7fELF program for "+arch),
		}
		if diff := cmp.Diff(want, entries); diff != "" {
			t.Errorf("%s: layer (-want +got):\n%s", arch, diff)
		}
	}
}

func TestLayerWithoutCACerts(t *testing.T) {
	o := testOptions(t)
	o.CACerts = nil
	img, err := Image(o.Binaries[0], o)
	if err != nil {
		t.Fatal(err)
	}
	_, entries := layerEntries(t, img)
	if _, ok := entries["etc/ssl/certs/ca-certificates.crt"]; ok {
		t.Error("layer has a CA bundle although none was given")
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(cf.Config.Env, "SSL_CERT_FILE="+CACertsPath) {
		t.Errorf("env %v names a CA bundle the image does not hold", cf.Config.Env)
	}
}

func TestConfig(t *testing.T) {
	o := testOptions(t)
	idx := mustIndex(t, o)
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, desc := range im.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		got := struct {
			OS, Arch, User, WorkingDir string
			Entrypoint, Cmd, Env       []string
			Labels                     map[string]string
			Created                    time.Time
			HistoryCreated             []time.Time
		}{cf.OS, cf.Architecture, cf.Config.User, cf.Config.WorkingDir, cf.Config.Entrypoint, cf.Config.Cmd, cf.Config.Env,
			cf.Config.Labels, cf.Created.UTC(), nil}
		for _, h := range cf.History {
			got.HistoryCreated = append(got.HistoryCreated, h.Created.UTC())
		}
		want := got
		want.OS, want.Arch, want.User, want.WorkingDir = "linux", desc.Platform.Architecture, "65532:65532", "/"
		want.Entrypoint, want.Cmd = []string{"/usr/local/bin/prog"}, nil
		want.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
		want.Labels = map[string]string{"org.opencontainers.image.licenses": "Apache-2.0"}
		want.Created, want.HistoryCreated = created, []time.Time{created}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: config (-want +got):\n%s", desc.Platform.Architecture, diff)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
			t.Errorf("%s: manifest %s with config %s, want OCI media types", desc.Platform.Architecture, m.MediaType, m.Config.MediaType)
		}
	}
}

func TestIndexPlatforms(t *testing.T) {
	idx := mustIndex(t, testOptions(t))
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.OCIImageIndex {
		t.Errorf("index media type %s, want %s", im.MediaType, types.OCIImageIndex)
	}
	var got []string
	for _, d := range im.Manifests {
		got = append(got, d.Platform.String())
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != d.Platform.Architecture {
			t.Errorf("index says %s, its image's config %s", d.Platform.Architecture, cf.Architecture)
		}
	}
	if diff := cmp.Diff([]string{"linux/amd64", "linux/arm64"}, got); diff != "" {
		t.Errorf("index platforms (-want +got):\n%s", diff)
	}
}

func TestDeterministic(t *testing.T) {
	base := testOptions(t)
	first := mustDigest(t, mustIndex(t, base))

	// The same inputs from other paths: the digest depends on contents only.
	again := testOptions(t)
	if got := mustDigest(t, mustIndex(t, again)); got != first {
		t.Errorf("second build: digest %s, first %s", got, first)
	}

	// And each input matters, or the check above proves nothing.
	changes := map[string]func(*Options){
		"created":    func(o *Options) { o.Created = o.Created.Add(time.Second) },
		"label":      func(o *Options) { o.Labels = map[string]string{"org.opencontainers.image.version": "v2"} },
		"entrypoint": func(o *Options) { o.Entrypoint = "/prog" },
		"ca certs":   func(o *Options) { o.CACerts = nil },
		"binary": func(o *Options) {
			if err := os.WriteFile(o.Binaries[1].Path, []byte("another program"), 0o755); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, change := range changes {
		o := testOptions(t)
		change(&o)
		if got := mustDigest(t, mustIndex(t, o)); got == first {
			t.Errorf("changing the %s left the digest %s", name, got)
		}
	}
}

func TestIndexRejects(t *testing.T) {
	cases := map[string]func(*Options){
		"no binaries":         func(o *Options) { o.Binaries = nil },
		"relative entrypoint": func(o *Options) { o.Entrypoint = "usr/bin/prog" },
		"unclean entrypoint":  func(o *Options) { o.Entrypoint = "/usr/../prog" },
		"missing binary":      func(o *Options) { o.Binaries[0].Path += ".missing" },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			o := testOptions(t)
			change(&o)
			if _, err := Index(o); err == nil {
				t.Fatal("Index: no error")
			}
		})
	}
}

func TestWriteLayoutAndArchive(t *testing.T) {
	idx := mustIndex(t, testOptions(t))
	want := mustDigest(t, idx)
	ref, err := name.NewTag("ghcr.io/geofed-io/prog:v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	var archives [][]byte
	for i := range 2 {
		dir := filepath.Join(t.TempDir(), "prog")
		if i == 1 {
			// A rebuild replaces the earlier layout in place.
			if err := WriteLayout(dir, mustIndex(t, Options{
				Binaries: testOptions(t).Binaries[:1], Entrypoint: "/other", Created: created,
			}), ref); err != nil {
				t.Fatal(err)
			}
		}
		byDigest := ref.Context().Digest(want.String())
		if err := WriteLayout(dir, idx, ref, byDigest); err != nil {
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
		wantAnns := []map[string]string{
			{AnnotationRefName: "v1.2.3", AnnotationContainerdRef: "ghcr.io/geofed-io/prog:v1.2.3"},
			{AnnotationContainerdRef: "ghcr.io/geofed-io/prog@" + want.String()},
		}
		var gotAnns []map[string]string
		for _, d := range tm.Manifests {
			if d.Digest != want || d.MediaType != types.OCIImageIndex {
				t.Errorf("index.json names %s %s, want the image index %s", d.MediaType, d.Digest, want)
			}
			gotAnns = append(gotAnns, d.Annotations)
		}
		if diff := cmp.Diff(wantAnns, gotAnns); diff != "" {
			t.Errorf("index.json annotations (-want +got):\n%s", diff)
		}
		var buf bytes.Buffer
		if err := WriteArchive(&buf, dir, created); err != nil {
			t.Fatal(err)
		}
		archives = append(archives, buf.Bytes())
		checkArchive(t, buf.Bytes(), dir)
	}
	if !bytes.Equal(archives[0], archives[1]) {
		t.Error("two archives of the same index differ")
	}
}

// checkArchive checks the archive holds exactly the layout's files, with
// the same bytes, in sorted order, root-owned and timed at created.
func checkArchive(t *testing.T, archive []byte, dir string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(archive))
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(created) {
			t.Errorf("archive entry %s: uid %d gid %d time %s", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		got, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(dir, h.Name))
		if err != nil {
			t.Errorf("archive entry %s: not in the layout: %v", h.Name, err)
		} else if !bytes.Equal(got, want) {
			t.Errorf("archive entry %s differs from the layout's file", h.Name)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("archive entries not sorted: %v", names)
	}
	for _, n := range []string{"oci-layout", "index.json", "blobs/sha256/"} {
		if !slices.Contains(names, n) {
			t.Errorf("archive lacks %s: %v", n, names)
		}
	}
	var il struct {
		ImageLayoutVersion string `json:"imageLayoutVersion"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "oci-layout"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &il); err != nil || il.ImageLayoutVersion != "1.0.0" {
		t.Errorf("oci-layout %s: %v", b, err)
	}
}

func TestWriteLayoutRefusesOtherDirs(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "keep")
	if err := os.WriteFile(keep, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	ref, _ := name.NewTag("example.com/prog:v1")
	if err := WriteLayout(dir, mustIndex(t, testOptions(t)), ref); err == nil {
		t.Fatal("WriteLayout over a directory that is not a layout: no error")
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("WriteLayout removed what it refused to replace: %v", err)
	}
}

func TestCACerts(t *testing.T) {
	rest := CACerts()
	n := 0
	for len(rest) > 0 {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			t.Fatalf("after %d certificates: %d bytes that are not PEM", n, len(rest))
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			t.Fatalf("certificate %d: %v", n, err)
		}
		n++
	}
	// NSS holds well over a hundred roots; a handful means the bundle broke.
	if n < 100 {
		t.Errorf("%d certificates, want the NSS roots (over 100)", n)
	}
	if !bytes.Equal(CACerts(), CACerts()) {
		t.Error("two calls gave different bundles")
	}
}
