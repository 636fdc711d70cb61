package topology

import (
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with the file at path, or rewrites it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to accept)\n--- got:\n%s--- want:\n%s", path, got, want)
	}
}

// errorCaseDirs are the workload sources that exist for the files under
// testdata/errors; any other source is missing.
func errorCaseDirs(path string) bool {
	return path == filepath.Join("testdata", "errors", "apps", "trainer") ||
		path == filepath.Join("testdata", "errors", "apps", "web")
}

// TestParseErrors parses every file under testdata/errors, each made to
// break one group of rules, and compares the full message with its golden
// file: the text, the line numbers, the field paths and the order.
func TestParseErrors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "errors", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no test files under testdata/errors")
	}
	opts := Options{IsDir: errorCaseDirs}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			top, err := opts.Parse(file, data)
			if err == nil {
				t.Fatalf("parsed without error: %+v", top)
			}
			if top != nil {
				t.Errorf("got a topology along with the error")
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is a %T, want an ErrorList: %v", err, err)
			}
			for i, e := range list {
				if e.File != file {
					t.Errorf("error %d names file %q, want %q", i, e.File, file)
				}
				if i > 0 && e.Line < list[i-1].Line {
					t.Errorf("errors not sorted by line: %d after %d", e.Line, list[i-1].Line)
				}
			}
			golden(t, strings.TrimSuffix(file, ".yaml")+".golden", err.Error()+"\n")
		})
	}
}

// TestLoadValid loads the valid files from disk (so their workload sources
// are checked on the real filesystem) and compares the defaulted result.
func TestLoadValid(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "valid", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no test files under testdata/valid")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			top, err := Load(file)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if top.Path != file {
				t.Errorf("Path = %q, want %q", top.Path, file)
			}
			out, err := json.MarshalIndent(top, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(file, ".yaml")+".golden.json", string(out)+"\n")
		})
	}
}

// TestLoadDesignExample pins the facts of the DESIGN §2 example that other
// packages rely on, beyond its golden output.
func TestLoadDesignExample(t *testing.T) {
	top, err := Load(filepath.Join("testdata", "valid", "design.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	refs := top.Clusters()
	if len(refs) != 2 || refs[0].Cluster.Name != "training-us" || refs[1].Cluster.Name != "serving-eu" {
		t.Fatalf("clusters = %v, want training-us, serving-eu", refs)
	}
	if !refs[0].Cluster.Managed() || refs[1].Cluster.Managed() {
		t.Errorf("managed = %v, %v; want true, false", refs[0].Cluster.Managed(), refs[1].Cluster.Managed())
	}
	g := refs[0].Cluster.GKE
	if g.Location != "us-west1" || g.Project != "acme-ml" || g.ReleaseChannel != "REGULAR" {
		t.Errorf("gke defaults = %q %q %q", g.Location, g.Project, g.ReleaseChannel)
	}
	w := top.Spec.Workloads[0]
	for _, ref := range refs {
		got, err := w.Placement.Selects(ref)
		if err != nil {
			t.Fatal(err)
		}
		if want := ref.Cluster.Name == "training-us"; got != want {
			t.Errorf("trainer selects %s = %v, want %v", ref.Cluster.Name, got, want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want one wrapping fs.ErrNotExist", err)
	}
	if !strings.HasPrefix(err.Error(), "reading topology: ") {
		t.Errorf("err = %q, want it to say what was being done", err)
	}
}

// TestLoadSourceOnDisk checks the default source check against the real
// filesystem: a directory passes; a file or nothing does not.
func TestLoadSourceOnDisk(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "apps", "ok"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "apps", "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "topology.yaml")
	src := `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: disk}
spec:
  regions:
  - name: us-west1
    clusters: [{name: a, kubeconfig: {context: a}}]
  workloads:
  - {name: ok, source: apps/ok}
  - {name: file, source: apps/file}
  - {name: missing, source: apps/missing}
  - {name: absolute, source: ` + filepath.Join(dir, "apps", "ok") + `}
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want := path + ":10: spec.workloads[1].source: no directory " + filepath.Join(dir, "apps", "file") + " (sources are relative to the topology file)\n" +
		path + ":11: spec.workloads[2].source: no directory " + filepath.Join(dir, "apps", "missing") + " (sources are relative to the topology file)"
	if err == nil || err.Error() != want {
		t.Fatalf("err =\n%v\nwant\n%s", err, want)
	}
}

// TestParseYAMLErrors covers inputs the YAML parser itself rejects, some
// of which cannot sit comfortably in a testdata file.
func TestParseYAMLErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"control character", "apiVersion: \x01\n", "t.yaml: invalid YAML: control characters are not allowed"},
		{"invalid UTF-8", "kind: \xff\n", "t.yaml: invalid YAML: invalid leading UTF-8 octet"},
		{"tab indentation", "spec:\n\tregions: []\n", "t.yaml:2: invalid YAML: found character that cannot start any token"},
		{"broken second document", "kind: Topology\n---\nkind: [\n", "t.yaml:3: invalid YAML: did not find expected node content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Options{IsDir: errorCaseDirs}.Parse("t.yaml", []byte(tt.in))
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v, want %s", err, tt.want)
			}
		})
	}
}

// TestParseChecksDisk: the package Parse, like Load, looks for sources on
// the real disk next to the path it is given.
func TestParseChecksDisk(t *testing.T) {
	file := filepath.Join("testdata", "valid", "design.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(file, data); err != nil {
		t.Errorf("Parse next to the sources: %v", err)
	}
	elsewhere := filepath.Join(t.TempDir(), "design.yaml")
	want := elsewhere + ":32: spec.workloads[0].source: no directory " +
		filepath.Join(filepath.Dir(elsewhere), "apps", "trainer") + " (sources are relative to the topology file)"
	if _, err := Parse(elsewhere, data); err == nil || err.Error() != want {
		t.Errorf("Parse away from the sources: err = %v, want %s", err, want)
	}
}
