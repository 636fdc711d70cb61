// Package krew_test checks the release as krew users and the krew-index CI
// meet it: hack/krew-release.sh builds the archives and the plugin manifest,
// krew's own validator accepts the manifest, the real krew installs each
// archive, kubectl finds the plugin krew linked and runs it, and krew
// uninstalls it again.
package krew_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// plugin is the part of krew's v1alpha2 Plugin this test reads; krew's
// validator judges the whole manifest.
type plugin struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string `json:"version"`
		ShortDescription string `json:"shortDescription"`
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

// TestReleaseInstallsWithKrew builds the release for this machine's platform
// and windows/amd64 (the one whose binary is named differently), not all
// six: every platform is the same script path, and each costs a cross build
// of the plugin. `make krew` validates the full six-platform manifest.
func TestReleaseInstallsWithKrew(t *testing.T) {
	krewDir := krewBin(t)
	kubectl := kubectlBin(t)

	host := runtime.GOOS + "/" + runtime.GOARCH
	platforms := host
	if host != "windows/amd64" {
		platforms += " windows/amd64"
	}
	out := t.TempDir()
	cmd := exec.Command("bash", "../hack/krew-release.sh", "v0.1.0", out)
	cmd.Env = append(os.Environ(), "KREW_PLATFORMS="+platforms, "KREW_BASE_URL=https://example.com/v0.1.0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("krew-release.sh: %v\n%s", err, b)
	}
	manifest := filepath.Join(out, "geofed.yaml")

	// krew-index CI's check: structure (apiVersion, kind, name matching the
	// file name, semver version, shortDescription, uri, sha256 format, bin,
	// files, selectors on os/arch only), every selector matching a platform
	// krew supports and no two matching the same one. -skip-install: its
	// install step downloads each uri; the installs below use the archives.
	// The validator binary, not krew's validation package: that package is
	// internal to krew's module, and requiring krew here would pull its
	// k8s.io/client-go v11.0.0+incompatible over this module's v0.37.
	if b, err := exec.Command(filepath.Join(krewDir, "validate-krew-manifest"), "-manifest", manifest, "-skip-install").CombinedOutput(); err != nil {
		t.Fatalf("validate-krew-manifest: %v\n%s", err, b)
	}

	raw, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var p plugin
	if err := yaml.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	// What krew does not check but its users see: `kubectl krew search`
	// cuts short descriptions, and the version is the one released.
	if p.Metadata.Name != "geofed" || p.Spec.Version != "v0.1.0" || len(p.Spec.ShortDescription) > 50 {
		t.Errorf("name %q, version %q, shortDescription %q (%d chars): want geofed, v0.1.0, at most 50",
			p.Metadata.Name, p.Spec.Version, p.Spec.ShortDescription, len(p.Spec.ShortDescription))
	}
	if got, want := len(p.Spec.Platforms), len(strings.Fields(platforms)); got != want {
		t.Fatalf("%d platforms in the manifest, want the %d built (%s)", got, want, platforms)
	}
	license, err := os.ReadFile("../LICENSE")
	if err != nil {
		t.Fatal(err)
	}

	for _, pl := range p.Spec.Platforms {
		goos, goarch := pl.Selector.MatchLabels["os"], pl.Selector.MatchLabels["arch"]
		t.Run(goos+"_"+goarch, func(t *testing.T) {
			name := "kubectl-geofed_" + goos + "_" + goarch + ".tar.gz"
			if pl.URI != "https://example.com/v0.1.0/"+name {
				t.Errorf("uri %q, want the base URL and %s", pl.URI, name)
			}
			wantBin := "kubectl-geofed"
			if goos == "windows" {
				wantBin += ".exe"
			}
			if pl.Bin != wantBin {
				t.Errorf("bin %q, want %q", pl.Bin, wantBin)
			}
			archive := filepath.Join(out, name)
			data, err := os.ReadFile(archive)
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(data); pl.Sha256 != hex.EncodeToString(sum[:]) {
				t.Errorf("sha256 %s, the archive's is %x", pl.Sha256, sum)
			}
			checkArchive(t, data, []string{wantBin, "LICENSE", "README.md"})

			root := t.TempDir()
			installed := installWithKrew(t, krewDir, root, manifest, archive, goos, goarch)
			if got, err := binaryPlatform(installed); err != nil || got != goos+"/"+goarch {
				t.Errorf("installed %s is for %q (%v), want %s/%s", installed, got, err, goos, goarch)
			}
			// validate-krew-manifest's install step insists on a license
			// among the installed files; users get it beside the binary.
			if got, err := os.ReadFile(filepath.Join(filepath.Dir(installed), "LICENSE")); err != nil || !bytes.Equal(got, license) {
				t.Errorf("LICENSE not installed beside the binary as the repository's (%v)", err)
			}
			runs := goos+"/"+goarch == host
			if runs {
				if b, err := kubectlGeofedVersion(t, kubectl, root); err != nil || !strings.HasPrefix(b, "kubectl-geofed v0.1.0 ") {
					t.Errorf("kubectl geofed version, with the plugin krew installed: %v\n%s", err, b)
				}
			}
			uninstallWithKrew(t, krewDir, root, goos, goarch)
			if runs {
				if b, err := kubectlGeofedVersion(t, kubectl, root); err == nil {
					t.Errorf("kubectl geofed version still runs after krew uninstall:\n%s", b)
				}
			}
		})
	}
}

// checkArchive checks the archive holds exactly names, in that order, as
// reproducible as the release script promises.
func checkArchive(t *testing.T, data []byte, names []string) {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Errorf("gzip header holds name %q, time %v: a rebuild would differ", gz.Name, gz.ModTime)
	}
	tr := tar.NewReader(gz)
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, h.Name)
		wantMode := int64(0o644)
		if h.Name == names[0] {
			wantMode = 0o755
		}
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) || h.Mode != wantMode {
			t.Errorf("%s: uid %d gid %d mtime %v mode %o, want 0 0 2000-01-01 %o", h.Name, h.Uid, h.Gid, h.ModTime, h.Mode, wantMode)
		}
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("archive holds %q, want %q", got, names)
	}
}

// krewEnv is the environment of krew and kubectl here: KREW_ROOT and the
// platform to install, no upgrade check, and a proxy that refuses every
// connection, so that a download krew should not make fails the test
// instead of passing on a machine with network.
func krewEnv(root, goos, goarch, path string) []string {
	return append(os.Environ(),
		"KREW_ROOT="+root, "KREW_OS="+goos, "KREW_ARCH="+goarch, "KREW_NO_UPGRADE_CHECK=1",
		"HTTPS_PROXY=http://127.0.0.1:1", "HTTP_PROXY=http://127.0.0.1:1", "NO_PROXY=", "no_proxy=",
		"PATH="+path)
}

// installWithKrew installs the archive for goos/goarch into a fresh krew
// root and returns the file krew's bin link points to.
func installWithKrew(t *testing.T, krewDir, root, manifest, archive, goos, goarch string) string {
	t.Helper()
	// krew uninstall refuses to run without an initialised index (one git
	// checkout per index under index/). A user's krew has the default index
	// cloned since krew installed itself; here there is no network to
	// clone it, and --manifest never reads it, so an empty one stands in.
	if err := os.MkdirAll(filepath.Join(root, "index", "default", ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(krewDir, "krew"), "install", "--manifest="+manifest, "--archive="+archive)
	cmd.Env = krewEnv(root, goos, goarch, filepath.Join(root, "bin"))
	b, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(b), "Installed plugin: geofed") {
		t.Fatalf("krew install: %v\n%s", err, b)
	}
	link := filepath.Join(root, "bin", linkName(goos))
	target, err := filepath.EvalSymlinks(link)
	if err != nil {
		t.Fatalf("krew linked no %s: %v\n%s", link, err, b)
	}
	if want := filepath.Join(root, "store", "geofed", "v0.1.0"); filepath.Dir(target) != want {
		t.Errorf("%s points to %s, want a file in %s", link, target, want)
	}
	return target
}

// kubectlGeofedVersion runs `kubectl geofed version` the way a user does
// after `kubectl krew install geofed`: kubectl's plugin discovery looks for
// kubectl-geofed on PATH. PATH holds only krew's bin and a directory with
// nothing but kubectl in it, so only what krew installed can answer.
func kubectlGeofedVersion(t *testing.T, kubectl, root string) (string, error) {
	t.Helper()
	kdir := t.TempDir()
	if err := os.Symlink(kubectl, filepath.Join(kdir, "kubectl")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(kdir, "kubectl"), "geofed", "version")
	cmd.Env = krewEnv(root, runtime.GOOS, runtime.GOARCH, filepath.Join(root, "bin")+string(os.PathListSeparator)+kdir)
	cmd.Env = append(cmd.Env, "HOME="+t.TempDir(), "KUBECONFIG="+filepath.Join(t.TempDir(), "none"))
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// uninstallWithKrew uninstalls geofed and checks krew left nothing of it:
// no bin link, store directory or receipt.
func uninstallWithKrew(t *testing.T, krewDir, root, goos, goarch string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(krewDir, "krew"), "uninstall", "geofed")
	cmd.Env = krewEnv(root, goos, goarch, filepath.Join(root, "bin"))
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "Uninstalled plugin: geofed") {
		t.Fatalf("krew uninstall geofed: %v\n%s", err, b)
	}
	for _, p := range []string{
		filepath.Join(root, "bin", linkName(goos)),
		filepath.Join(root, "store", "geofed"),
		filepath.Join(root, "receipts", "geofed.yaml"),
	} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after krew uninstall, %s is still there (%v)", p, err)
		}
	}
}

// linkName is the file krew links the plugin as, in $KREW_ROOT/bin.
func linkName(goos string) string {
	if goos == "windows" {
		return "kubectl-geofed.exe"
	}
	return "kubectl-geofed"
}

// binaryPlatform reads the GOOS/GOARCH an executable was built for from its
// headers, so that an archive cannot hold another platform's binary.
func binaryPlatform(path string) (string, error) {
	if f, err := elf.Open(path); err == nil {
		defer f.Close()
		switch f.Machine {
		case elf.EM_X86_64:
			return "linux/amd64", nil
		case elf.EM_AARCH64:
			return "linux/arm64", nil
		}
		return "", fmt.Errorf("ELF for machine %v", f.Machine)
	}
	if f, err := macho.Open(path); err == nil {
		defer f.Close()
		switch f.Cpu {
		case macho.CpuAmd64:
			return "darwin/amd64", nil
		case macho.CpuArm64:
			return "darwin/arm64", nil
		}
		return "", fmt.Errorf("Mach-O for CPU %v", f.Cpu)
	}
	if f, err := pe.Open(path); err == nil {
		defer f.Close()
		switch f.Machine {
		case pe.IMAGE_FILE_MACHINE_AMD64:
			return "windows/amd64", nil
		case pe.IMAGE_FILE_MACHINE_ARM64:
			return "windows/arm64", nil
		}
		return "", fmt.Errorf("PE for machine %#x", f.Machine)
	}
	return "", errors.New("neither ELF, Mach-O nor PE")
}

// krewBin is the directory of the pinned krew and validate-krew-manifest,
// built by hack/krew-bin.sh (once; later runs reuse its cache).
func krewBin(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("bash", "../hack/krew-bin.sh")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("hack/krew-bin.sh (builds krew from the Go module proxy): %v\n%s", err, stderr.Bytes())
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// kubectlBin is the lab's kubectl when GEOFED_LAB_BIN is set, else the
// kubectl on PATH: plugin discovery is kubectl's, so the test needs one.
func kubectlBin(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("GEOFED_LAB_BIN"); dir != "" {
		p, err := filepath.Abs(filepath.Join(dir, "kubectl"))
		if err == nil {
			_, err = os.Stat(p)
		}
		if err != nil {
			t.Fatalf("no kubectl in GEOFED_LAB_BIN=%q (make lab-bin builds it): %v", dir, err)
		}
		return p
	}
	p, err := exec.LookPath("kubectl")
	if err == nil {
		p, err = filepath.Abs(p)
	}
	if err != nil {
		t.Fatalf("no kubectl: set GEOFED_LAB_BIN (make lab-bin builds the lab's) or put one on PATH: %v", err)
	}
	return p
}
