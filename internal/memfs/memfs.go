// Package memfs builds in-memory kustomize filesystems and topologies for
// tests, so the packages that render and plan test against the same
// fixtures the same way, without the disk.
package memfs

import (
	"path/filepath"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// New builds an in-memory tree from path -> content.
func New(t testing.TB, files map[string]string) filesys.FileSystem {
	t.Helper()
	fs := filesys.MakeFsInMemory()
	for path, content := range files {
		if err := fs.MkdirAll(filepath.Dir(path)); err != nil {
			t.Fatal(err)
		}
		if err := fs.WriteFile(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	return fs
}

// Topology parses a topology held at path, checking workload sources
// against fs instead of the disk.
func Topology(t testing.TB, fs filesys.FileSystem, path, doc string) *topology.Topology {
	t.Helper()
	topo, err := topology.Options{IsDir: fs.IsDir}.Parse(path, []byte(doc))
	if err != nil {
		t.Fatalf("parsing topology: %v", err)
	}
	return topo
}
