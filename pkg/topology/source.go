package topology

import "path/filepath"

// Dir is the directory of the topology file, which relative paths in it
// (workload sources, kubeconfig paths) start from.
func (t *Topology) Dir() string { return filepath.Dir(t.Path) }

// SourceDir is a workload's kustomize root on disk: its source joined to
// the topology's directory, or the source itself when absolute.
func (t *Topology) SourceDir(w *Workload) string {
	src := filepath.FromSlash(w.Source)
	if filepath.IsAbs(src) {
		return src
	}
	return filepath.Join(t.Dir(), src)
}
