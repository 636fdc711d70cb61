// Package bundle carries a topology's kustomize sources from the machine
// that pushes them to the control plane: the files are collected from disk,
// packed into two deterministic gzipped tars (one of them for everything
// that holds a secret), cut into chunks small enough for a ConfigMap or a
// Secret, and unpacked in the controller into an in-memory filesystem that
// kustomize renders from, as `kubectl geofed render` renders from the disk.
package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// Bundle is the files of a topology's workload sources, by slash-separated
// path relative to the bundle's root.
type Bundle struct {
	// Topology is the topology file's path in the bundle; workload sources
	// are relative to its directory.
	Topology string
	// Files holds every file's content.
	Files map[string][]byte
	// Sensitive names the files that go into Secrets: manifests of Secrets
	// and what secret generators read.
	Sensitive map[string]bool
}

// MaxFileSize bounds one file of the sources: a kustomize app holds
// manifests, not data sets.
const MaxFileSize = 8 << 20

// Collect reads every file under the sources of t's workloads from disk.
// The bundle's root is the deepest directory holding the topology file and
// every source, so a source outside the topology's directory
// ("../apps/x") keeps its relative place. Files a kustomization reads
// from outside its source directory are not collected: Check finds them.
func Collect(t *topology.Topology) (*Bundle, error) {
	topoAbs, err := filepath.Abs(t.Path)
	if err != nil {
		return nil, err
	}
	dirs := []string{filepath.Dir(topoAbs)}
	for i := range t.Spec.Workloads {
		dir, err := filepath.Abs(t.SourceDir(&t.Spec.Workloads[i]))
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, dir)
	}
	root := commonDir(dirs)
	b := &Bundle{Files: map[string][]byte{}, Sensitive: map[string]bool{}}
	rel, err := filepath.Rel(root, topoAbs)
	if err != nil {
		return nil, err
	}
	b.Topology = filepath.ToSlash(rel)
	for _, dir := range dirs[1:] {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != dir && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir // .git and the like
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if info.Size() > MaxFileSize {
				return fmt.Errorf("%s: %d bytes; a workload source file may hold at most %d", p, info.Size(), MaxFileSize)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			b.Files[filepath.ToSlash(rel)] = data
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("collecting workload sources: %w", err)
		}
	}
	b.Sensitive = sensitiveFiles(b.Files)
	return b, nil
}

// commonDir is the deepest directory holding every one of dirs (absolute,
// cleaned).
func commonDir(dirs []string) string {
	root := dirs[0]
	for _, d := range dirs[1:] {
		for root != filepath.Dir(root) && d != root && !strings.HasPrefix(d, root+string(filepath.Separator)) {
			root = filepath.Dir(root)
		}
	}
	return root
}

// TopologyPath is the topology file's path when the bundle is laid out
// under root; the controller parses its Topology as if it had been read
// from there.
func (b *Bundle) TopologyPath(root string) string { return path.Join(root, b.Topology) }

// FS lays the bundle's files out under root (an absolute, slash-separated
// path) in memory.
func (b *Bundle) FS(root string) (filesys.FileSystem, error) {
	fsys := filesys.MakeFsInMemory()
	if err := fsys.MkdirAll(path.Join(root, path.Dir(b.Topology))); err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(b.Files)) {
		p := path.Join(root, name)
		if err := fsys.MkdirAll(path.Dir(p)); err != nil {
			return nil, err
		}
		if err := fsys.WriteFile(p, b.Files[name]); err != nil {
			return nil, err
		}
	}
	return fsys, nil
}

// Packed is a bundle as it travels: two gzipped tars, and one digest of
// both.
type Packed struct {
	Topology string
	Public   []byte
	Secret   []byte
	Digest   string
}

// Pack packs the bundle. The tars are deterministic (sorted, no times, no
// owners), so pushing the same sources again gives the same digest.
func (b *Bundle) Pack() (*Packed, error) {
	var public, secret []string
	for _, name := range slices.Sorted(maps.Keys(b.Files)) {
		if b.Sensitive[name] {
			secret = append(secret, name)
		} else {
			public = append(public, name)
		}
	}
	p := &Packed{Topology: b.Topology}
	var err error
	if p.Public, err = packTar(b.Files, public); err != nil {
		return nil, err
	}
	if p.Secret, err = packTar(b.Files, secret); err != nil {
		return nil, err
	}
	p.Digest = digest(b.Topology, p.Public, p.Secret)
	return p, nil
}

func digest(topologyPath string, public, secret []byte) string {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(topologyPath), public, secret} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func packTar(files map[string][]byte, names []string) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	for _, name := range names {
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[name]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Unpack checks p's digest and unpacks it.
func Unpack(p *Packed) (*Bundle, error) {
	if got := digest(p.Topology, p.Public, p.Secret); got != p.Digest {
		return nil, fmt.Errorf("the pushed sources have digest %s, not %s as the Topology says: a push is under way, or the sources were changed by hand", got, p.Digest)
	}
	b := &Bundle{Topology: p.Topology, Files: map[string][]byte{}, Sensitive: map[string]bool{}}
	for _, part := range []struct {
		data      []byte
		sensitive bool
	}{{p.Public, false}, {p.Secret, true}} {
		if err := unpackTar(part.data, func(name string, data []byte) {
			b.Files[name] = data
			b.Sensitive[name] = part.sensitive
		}); err != nil {
			return nil, fmt.Errorf("unpacking the pushed sources: %w", err)
		}
	}
	return b, nil
}

// maxUnpacked bounds what one tar may unpack to, against a bundle that
// expands without end.
const maxUnpacked = 256 << 20

func unpackTar(data []byte, add func(name string, data []byte)) error {
	if len(data) == 0 {
		return nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	total := int64(0)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			return fmt.Errorf("%s: not a regular file", hdr.Name)
		}
		name := path.Clean(hdr.Name)
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("%s: a path outside the bundle", hdr.Name)
		}
		total += hdr.Size
		if hdr.Size > MaxFileSize || total > maxUnpacked {
			return fmt.Errorf("%s: the bundle unpacks to more than %d bytes", hdr.Name, maxUnpacked)
		}
		content, err := io.ReadAll(io.LimitReader(tr, hdr.Size))
		if err != nil {
			return err
		}
		add(name, content)
	}
}

// Chunks cuts data into pieces of at most size bytes, in order; nothing is
// no chunk.
func Chunks(data []byte, size int) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		n := min(size, len(data))
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}
