package lab

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"time"
)

// writeImageArchive writes an OCI image archive (the tar of an OCI layout,
// what `ctr images import` reads) of a one-layer linux/amd64 image: exe at
// entrypoint, named ref through containerd's image-name annotation.
func writeImageArchive(w io.Writer, ref, exePath, entrypoint string) error {
	exe, err := os.ReadFile(exePath)
	if err != nil {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	var layer bytes.Buffer
	lt := tar.NewWriter(&layer)
	epoch := time.Unix(0, 0).UTC()
	if err := lt.WriteHeader(&tar.Header{Name: path.Base(entrypoint), Mode: 0o755, Size: int64(len(exe)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := lt.Write(exe); err != nil {
		return err
	}
	if err := lt.Close(); err != nil {
		return err
	}
	type desc struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int               `json:"size"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	blobs := map[string][]byte{}
	add := func(mt string, data []byte) desc {
		sum := sha256.Sum256(data)
		d := "sha256:" + hex.EncodeToString(sum[:])
		blobs["blobs/sha256/"+hex.EncodeToString(sum[:])] = data
		return desc{MediaType: mt, Digest: d, Size: len(data)}
	}
	layerDesc := add("application/vnd.oci.image.layer.v1.tar", layer.Bytes())
	config, _ := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"config":       map[string]any{"Entrypoint": []string{entrypoint}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{layerDesc.Digest}},
	})
	configDesc := add("application/vnd.oci.image.config.v1+json", config)
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        configDesc,
		"layers":        []desc{layerDesc},
	})
	manifestDesc := add("application/vnd.oci.image.manifest.v1+json", manifest)
	manifestDesc.Annotations = map[string]string{"io.containerd.image.name": ref}
	index, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": []desc{manifestDesc}})

	tw := tar.NewWriter(w)
	files := []struct {
		name string
		data []byte
	}{{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)}, {"index.json", index}}
	for name, data := range blobs {
		files = append(files, struct {
			name string
			data []byte
		}{name, data})
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	return tw.Close()
}
