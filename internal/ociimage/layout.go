package ociimage

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// The annotations that name the index in a layout's index.json: the OCI
// one holds the tag, containerd's the whole reference, which `ctr images
// import` takes as the image's name.
const (
	AnnotationRefName       = "org.opencontainers.image.ref.name"
	AnnotationContainerdRef = "io.containerd.image.name"
)

// WriteLayout writes idx as an OCI image layout in dir, with one entry in
// its index.json for each of refs, all naming idx. A tag is named by both
// annotations; a digest reference (repo@sha256:...) by containerd's only,
// for an importer that should also know the image by digest. A dir that
// exists must be an earlier layout (it is replaced, so no blob of an
// earlier build lingers); anything else there is an error rather than
// something to delete.
func WriteLayout(dir string, idx v1.ImageIndex, refs ...name.Reference) error {
	if _, err := os.Stat(dir); err == nil {
		if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
			return fmt.Errorf("%s exists and is not an OCI layout: not replacing it", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("replacing the layout %s: %w", dir, err)
		}
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("layout %s: %w", dir, err)
	}
	for _, ref := range refs {
		ann := map[string]string{AnnotationContainerdRef: ref.Name()}
		if t, ok := ref.(name.Tag); ok {
			ann[AnnotationRefName] = t.TagStr()
		}
		if err := p.AppendIndex(idx, layout.WithAnnotations(ann)); err != nil {
			return fmt.Errorf("layout %s: %s: %w", dir, ref, err)
		}
	}
	return nil
}

// WriteArchive writes the layout in dir as an OCI archive (a tar of the
// layout, what `ctr images import` and `skopeo copy oci-archive:` read) to
// w: entries sorted by path, root-owned, every time set to mtime.
func WriteArchive(w io.Writer, dir string, mtime time.Time) error {
	tw := tar.NewWriter(w)
	// WalkDir visits entries in lexical order.
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: mtime.UTC(), Format: tar.FormatUSTAR}
		switch {
		case d.IsDir():
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
			return tw.WriteHeader(h)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, info.Size()
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.Copy(tw, f)
			return err
		default:
			return fmt.Errorf("%s: not a file or directory", p)
		}
	})
	if err != nil {
		return fmt.Errorf("archiving the layout %s: %w", dir, err)
	}
	return tw.Close()
}

// WriteArchiveFile writes the archive of the layout in dir to file,
// through a temporary file renamed into place, so that a failed build
// never leaves half an archive where an importer looks.
func WriteArchiveFile(file, dir string, mtime time.Time) (err error) {
	f, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".*")
	if err != nil {
		return fmt.Errorf("archive %s: %w", file, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err := WriteArchive(f, dir, mtime); err != nil {
		return fmt.Errorf("archive %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("archive %s: %w", file, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("archive %s: %w", file, err)
	}
	if err := os.Rename(f.Name(), file); err != nil {
		return fmt.Errorf("archive %s: %w", file, err)
	}
	return nil
}
