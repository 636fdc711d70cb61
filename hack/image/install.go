package main

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// installYAML is `kustomize build` of the controller's kustomization in
// dir with its image set to image (REPO@DIGEST): one file that installs
// the whole control plane. It builds in memory, over a copy of dir, so
// nothing is written beside the manifests.
func installYAML(dir, image, version, revision string) ([]byte, error) {
	fsys := filesys.MakeFsInMemory()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return fsys.WriteFile(path.Join("/controller", filepath.ToSlash(rel)), data)
	})
	if err != nil {
		return nil, fmt.Errorf("reading the manifests %s: %w", dir, err)
	}
	if err := fsys.WriteFile("/install/kustomization.yaml", kustomization("../controller", image, corev1.PullIfNotPresent)); err != nil {
		return nil, err
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, "/install")
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s with image %s: %w", dir, image, err)
	}
	body, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	head := fmt.Sprintf("# geofed control plane %s (%s), image %s.\n"+
		"# Install it in the hub cluster:\n#   kubectl apply -f install.yaml\n---\n", version, revision, image)
	return append([]byte(head), body...), nil
}

func writeInstall(file, dir, image, version, revision string) error {
	b, err := installYAML(dir, image, version, revision)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o644)
}

// writeOverlay writes a kustomization in dir over the manifests in
// manifests: the controller's image pinned by digest and never pulled,
// for a cluster whose nodes had the image imported and that has no
// registry to pull from (the lab's).
func writeOverlay(dir, manifests, image string) error {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	absManifests, err := filepath.Abs(manifests)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(absDir, absManifests)
	if err != nil {
		return fmt.Errorf("overlay %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "kustomization.yaml"), kustomization(filepath.ToSlash(rel), image, corev1.PullNever), 0o644)
}

// kustomization is a kustomization over base that sets the controller's
// image and its pull policy.
func kustomization(base, image string, pull corev1.PullPolicy) []byte {
	repo, digest, _ := strings.Cut(image, "@")
	return fmt.Appendf(nil, `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- %s
images:
- name: %s
  newName: %s
  digest: %s
patches:
- patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: geofed-controller}
    spec:
      template:
        spec:
          containers:
          - name: controller
            imagePullPolicy: %s
`, base, ControllerRepo, repo, digest, pull)
}
