// Package krew_test checks that the krew release script builds archives and
// a plugin manifest krew can install from: the fields krew's index
// validation requires, and sha256 sums that match the archives.
package krew_test

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// plugin is the part of krew's v1alpha2 Plugin this project fills in.
type plugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string `json:"version"`
		Homepage         string `json:"homepage"`
		ShortDescription string `json:"shortDescription"`
		Description      string `json:"description"`
		Caveats          string `json:"caveats"`
		Platforms        []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			Sha256 string `json:"sha256"`
			Bin    string `json:"bin"`
			Files  []struct {
				From string `json:"from"`
				To   string `json:"to"`
			} `json:"files"`
		} `json:"platforms"`
	} `json:"spec"`
}

func TestReleaseManifest(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command("bash", "../hack/krew-release.sh", "v0.1.0", out)
	cmd.Env = append(os.Environ(), "KREW_PLATFORMS=linux/amd64", "KREW_BASE_URL=https://example.com/v0.1.0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("krew-release.sh: %v\n%s", err, b)
	}

	raw, err := os.ReadFile(filepath.Join(out, "geofed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var p plugin
	if err := yaml.UnmarshalStrict(raw, &p); err != nil {
		t.Fatalf("geofed.yaml is not a krew Plugin: %v\n%s", err, raw)
	}
	// What krew's index validation insists on.
	if p.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || p.Kind != "Plugin" {
		t.Errorf("apiVersion/kind = %s/%s", p.APIVersion, p.Kind)
	}
	if p.Metadata.Name != "geofed" {
		t.Errorf("name %q: krew installs kubectl-<name>, which must be kubectl-geofed", p.Metadata.Name)
	}
	if !regexp.MustCompile(`^v\d+\.\d+\.\d+$`).MatchString(p.Spec.Version) || p.Spec.Version != "v0.1.0" {
		t.Errorf("version %q, want v0.1.0 (semver with a v)", p.Spec.Version)
	}
	if p.Spec.ShortDescription == "" || len(p.Spec.ShortDescription) > 50 || p.Spec.Description == "" || p.Spec.Homepage == "" {
		t.Errorf("shortDescription %q (<= 50 chars), description and homepage are required", p.Spec.ShortDescription)
	}
	if len(p.Spec.Platforms) != 1 {
		t.Fatalf("%d platforms, want the one built", len(p.Spec.Platforms))
	}
	pl := p.Spec.Platforms[0]
	if pl.Selector.MatchLabels["os"] != "linux" || pl.Selector.MatchLabels["arch"] != "amd64" {
		t.Errorf("selector %v", pl.Selector.MatchLabels)
	}
	if pl.URI != "https://example.com/v0.1.0/kubectl-geofed_linux_amd64.tar.gz" {
		t.Errorf("uri %q", pl.URI)
	}
	if pl.Bin != "kubectl-geofed" {
		t.Errorf("bin %q", pl.Bin)
	}

	archive := filepath.Join(out, "kubectl-geofed_linux_amd64.tar.gz")
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if pl.Sha256 != hex.EncodeToString(sum[:]) {
		t.Errorf("sha256 %s does not match the archive's %x", pl.Sha256, sum)
	}

	// The archive holds what files: copies, and bin runs.
	dir := t.TempDir()
	names := untar(t, data, dir)
	for _, f := range pl.Files {
		if !names[f.From] {
			t.Errorf("files: %q is not in the archive (has %v)", f.From, names)
		}
	}
	got, err := exec.Command(filepath.Join(dir, pl.Bin), "version").CombinedOutput()
	if err != nil || !strings.Contains(string(got), "kubectl-geofed v0.1.0") {
		t.Errorf("%s version: %v\n%s", pl.Bin, err, got)
	}
}

func untar(t *testing.T, data []byte, dir string) map[string]bool {
	t.Helper()
	gz, err := gzip.NewReader(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	names := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name] = true
		f, err := os.OpenFile(filepath.Join(dir, filepath.Base(h.Name)), os.O_CREATE|os.O_WRONLY, os.FileMode(h.Mode))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, tr); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}
