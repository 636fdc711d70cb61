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

// kubeconfigFile is the kubeconfig file a joined cluster names, resolved as
// connecting resolves it (relative to the topology file), or "" for the
// default resolution (--kubeconfig, $KUBECONFIG, ~/.kube/config).
func (t *Topology) kubeconfigFile(k *KubeconfigRef) string {
	if k.Path == "" {
		return ""
	}
	p := filepath.FromSlash(k.Path)
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(t.Dir(), p)
}
