// Package ociimage builds the images geofed ships — the controller's, and
// the lab's pause image — as OCI image indexes without a container daemon,
// a registry or a base image: each platform's image is one layer holding a
// static binary and the few files a non-root program needs, on top of
// nothing. Everything that could vary between two builds of the same
// commit (file times, owners, entry order, the creation time, gzip
// headers) is fixed, so the same inputs give the same index digest on any
// machine.
package ociimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The user and group the image runs as: distroless's "nonroot", which
// manifests/controller's securityContext names too.
const (
	NonrootUID  = 65532
	NonrootName = "nonroot"
)

// CACertsPath is where the CA bundle goes: the first path Go's crypto/x509
// reads on Linux.
const CACertsPath = "/etc/ssl/certs/ca-certificates.crt"

// Binary is one platform's static executable on disk.
type Binary struct {
	Platform v1.Platform
	Path     string
}

// Options say what goes into an image index.
type Options struct {
	// Binaries holds one static executable per platform; the index lists
	// the platforms in this order.
	Binaries []Binary
	// Entrypoint is where the executable goes in the image (an absolute
	// path) and the image's entrypoint.
	Entrypoint string
	// Created is the image's creation time, and every file's modification
	// time: the commit's time, so that a rebuild of the commit is the same
	// image.
	Created time.Time
	// Labels are the image config's labels (org.opencontainers.image.*).
	Labels map[string]string
	// CACerts is a PEM bundle written to CACertsPath; empty, the image has
	// none (the pause image talks to nobody).
	CACerts []byte
}

// Index builds the image index: one image per binary, each with the
// platform the binary names.
func Index(o Options) (v1.ImageIndex, error) {
	if len(o.Binaries) == 0 {
		return nil, fmt.Errorf("no binaries to build an image from")
	}
	if !path.IsAbs(o.Entrypoint) || path.Clean(o.Entrypoint) != o.Entrypoint {
		return nil, fmt.Errorf("entrypoint %q: must be a clean absolute path", o.Entrypoint)
	}
	adds := make([]mutate.IndexAddendum, 0, len(o.Binaries))
	for _, b := range o.Binaries {
		img, err := Image(b, o)
		if err != nil {
			return nil, err
		}
		p := b.Platform
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	return mutate.AppendManifests(idx, adds...), nil
}

// Image builds one platform's image from its binary.
func Image(b Binary, o Options) (v1.Image, error) {
	exe, err := os.ReadFile(b.Path)
	if err != nil {
		return nil, fmt.Errorf("image for %s: %w", b.Platform.String(), err)
	}
	layerTar, err := Layer(exe, o)
	if err != nil {
		return nil, fmt.Errorf("image for %s: %w", b.Platform.String(), err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("image for %s: layer: %w", b.Platform.String(), err)
	}
	created := v1.Time{Time: o.Created.UTC()}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: created, CreatedBy: "geofed ociimage: " + path.Base(o.Entrypoint)},
	})
	if err != nil {
		return nil, fmt.Errorf("image for %s: %w", b.Platform.String(), err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image for %s: config: %w", b.Platform.String(), err)
	}
	cf = cf.DeepCopy()
	cf.Created = created
	cf.OS = b.Platform.OS
	cf.Architecture = b.Platform.Architecture
	cf.Variant = b.Platform.Variant
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	if len(o.CACerts) > 0 {
		env = append(env, "SSL_CERT_FILE="+CACertsPath)
	}
	cf.Config = v1.Config{
		Entrypoint: []string{o.Entrypoint},
		Env:        env,
		User:       fmt.Sprintf("%d:%d", NonrootUID, NonrootUID),
		WorkingDir: "/",
		Labels:     maps.Clone(o.Labels),
	}
	return mutate.ConfigFile(img, cf)
}

// Layer is the image's only layer, uncompressed: the directories, files
// and executable, sorted by path, owned by root except the nonroot user's
// home, every time set to o.Created.
func Layer(exe []byte, o Options) ([]byte, error) {
	type entry struct {
		mode     int64
		uid      int
		data     []byte
		typeflag byte
	}
	passwd := "root:x:0:0:root:/root:/sbin/nologin\n" +
		fmt.Sprintf("%s:x:%d:%d:%s:/home/%s:/sbin/nologin\n", NonrootName, NonrootUID, NonrootUID, NonrootName, NonrootName)
	group := "root:x:0:\n" + fmt.Sprintf("%s:x:%d:\n", NonrootName, NonrootUID)
	files := map[string]entry{
		"etc/passwd": {mode: 0o644, data: []byte(passwd)},
		"etc/group":  {mode: 0o644, data: []byte(group)},
		// /tmp is sticky and world-writable like any Unix /tmp; the
		// Deployment mounts an emptyDir there since the root is read-only.
		"tmp":                                 {mode: 0o1777, typeflag: tar.TypeDir},
		"home/" + NonrootName:                 {mode: 0o700, uid: NonrootUID, typeflag: tar.TypeDir},
		strings.TrimPrefix(o.Entrypoint, "/"): {mode: 0o755, data: exe},
	}
	if len(o.CACerts) > 0 {
		files[strings.TrimPrefix(CACertsPath, "/")] = entry{mode: 0o644, data: o.CACerts}
	}
	// Every parent directory gets its own entry, root-owned 0755, so that
	// nothing depends on how a runtime creates missing parents.
	for p := range maps.Clone(files) {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if _, ok := files[d]; !ok {
				files[d] = entry{mode: 0o755, typeflag: tar.TypeDir}
			}
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range slices.Sorted(maps.Keys(files)) {
		e := files[p]
		h := &tar.Header{
			Name:     p,
			Mode:     e.mode,
			Uid:      e.uid,
			Gid:      e.uid,
			ModTime:  o.Created.UTC(),
			Typeflag: e.typeflag,
			Format:   tar.FormatUSTAR,
		}
		if e.typeflag == tar.TypeDir {
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.data))
		}
		if e.uid != 0 {
			h.Uname, h.Gname = NonrootName, NonrootName
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", p, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", p, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	return buf.Bytes(), nil
}
