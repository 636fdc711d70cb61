// Package render turns a workload's kustomize app into the objects one member
// cluster receives: it picks the overlay for the cluster, runs kustomize
// in-process, labels every object as geofed's and sets the cluster's share of
// replicas. It is pure over a filesystem: the disk in production, an
// in-memory tree in tests.
package render

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// ChooseOverlay returns the kustomize root that cluster, in region, renders
// for the workload source: source/overlays/<cluster> if it is a directory
// holding a kustomization, else source/overlays/<region>, else source/base,
// else source itself. A missing source, or one where none of the four holds a
// kustomization, is an error.
func ChooseOverlay(fs filesys.FileSystem, source, cluster, region string) (string, error) {
	source = filepath.Clean(source)
	if !fs.IsDir(source) {
		return "", fmt.Errorf("source %s is not a directory", source)
	}
	var candidates []string
	if cluster != "" {
		candidates = append(candidates, filepath.Join(source, "overlays", cluster))
	}
	if region != "" {
		candidates = append(candidates, filepath.Join(source, "overlays", region))
	}
	candidates = append(candidates, filepath.Join(source, "base"), source)
	for _, dir := range candidates {
		if hasKustomization(fs, dir) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("no kustomization in any of %v (looked for %v)",
		candidates, konfig.RecognizedKustomizationFileNames())
}

func hasKustomization(fs filesys.FileSystem, dir string) bool {
	if !fs.IsDir(dir) {
		return false
	}
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		if fs.Exists(filepath.Join(dir, name)) {
			return true
		}
	}
	return false
}

// Options says which workload to render for which cluster.
type Options struct {
	// FS holds the kustomize apps: filesys.MakeFsOnDisk() in production.
	FS filesys.FileSystem
	// Topology and Workload name the owner, for the ownership labels.
	Topology string
	Workload string
	// Source is the workload's kustomize root as FS sees it: the caller joins
	// the topology file's directory with the workload's source. Errors quote
	// it as given, so a path relative to the working directory reads best.
	Source  string
	Cluster string
	Region  string
}

// Output is what one cluster receives of one workload.
type Output struct {
	// Overlay is the kustomize root that was rendered (see ChooseOverlay).
	Overlay string
	// Objects are in Sort order.
	Objects []*unstructured.Unstructured
}

// Workload renders the workload for the cluster: the chosen overlay's
// kustomize output with the ownership labels on every object's
// metadata.labels (overriding any the app sets itself); the cluster's
// replica share is the caller's to set (SetReplicas), once placement
// has counted the rendered pod templates. Nothing else changes:
// selectors and pod templates in particular are left alone, because
// selectors are immutable once applied and kustomize's commonLabels would
// rewrite them.
func Workload(opts Options) (Output, error) {
	if err := opts.validate(); err != nil {
		return Output{}, fmt.Errorf("rendering workload %s for cluster %s: %w", opts.Workload, opts.Cluster, err)
	}
	overlay, err := ChooseOverlay(opts.FS, opts.Source, opts.Cluster, opts.Region)
	if err != nil {
		return Output{}, fmt.Errorf("rendering workload %s for cluster %s: %w", opts.Workload, opts.Cluster, err)
	}
	wrap := func(err error) error {
		return fmt.Errorf("rendering workload %s for cluster %s (overlay %s): %w", opts.Workload, opts.Cluster, overlay, err)
	}

	// Default options: resources in the order the kustomizations list them
	// (Sort orders them afterwards), loads restricted to the kustomization
	// root, plugins off.
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(opts.FS, overlay)
	if err != nil {
		return Output{}, wrap(err)
	}

	out := Output{Overlay: overlay}
	for _, r := range m.Resources() {
		// Through JSON so numbers become int64 and float64, the types
		// unstructured (and its DeepCopy) expects.
		b, err := r.MarshalJSON()
		if err != nil {
			return Output{}, wrap(fmt.Errorf("%s: %w", r.CurId(), err))
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(b); err != nil {
			return Output{}, wrap(fmt.Errorf("%s: %w", r.CurId(), err))
		}
		labelOwned(obj, opts.Topology, opts.Workload)
		out.Objects = append(out.Objects, obj)
	}
	object.Sort(out.Objects)
	return out, nil
}

func (o Options) validate() error {
	var errs []error
	if o.FS == nil {
		errs = append(errs, errors.New("no filesystem"))
	}
	for _, f := range []struct{ name, value string }{
		{"topology", o.Topology}, {"workload", o.Workload}, {"source", o.Source},
		{"cluster", o.Cluster}, {"region", o.Region},
	} {
		if f.value == "" {
			errs = append(errs, fmt.Errorf("no %s name", f.name))
		}
	}
	return errors.Join(errs...)
}

func labelOwned(obj *unstructured.Unstructured, topology, workload string) {
	labels := obj.GetLabels()
	if labels == nil {
		labels = make(map[string]string, 3)
	}
	labels[object.LabelManagedBy] = object.ManagedByValue
	labels[object.LabelTopology] = topology
	labels[object.LabelWorkload] = workload
	obj.SetLabels(labels)
}

// replicaField is the field holding the replica count of a scalable kind,
// nil for other kinds. Matched by group and kind, any version.
func replicaField(group, kind string) []string {
	switch {
	case group == "apps" && (kind == "Deployment" || kind == "StatefulSet" || kind == "ReplicaSet"):
		return []string{"spec", "replicas"}
	case group == "batch" && kind == "Job":
		return []string{"spec", "parallelism"}
	}
	return nil
}

// Scalable reports whether obj is of a kind whose replicas a division sets:
// a Deployment, StatefulSet, ReplicaSet or Job.
func Scalable(obj *unstructured.Unstructured) bool {
	gvk := obj.GroupVersionKind()
	return replicaField(gvk.Group, gvk.Kind) != nil
}

// SetReplicas sets a scalable object's replica count, the cluster's share
// of the workload's replicas: spec.replicas of a Deployment, StatefulSet or
// ReplicaSet (group apps), spec.parallelism of a Job (group batch); other
// kinds are left alone.
func SetReplicas(obj *unstructured.Unstructured, n int32) error {
	if n < 0 {
		return fmt.Errorf("negative replicas %d", n)
	}
	gvk := obj.GroupVersionKind()
	field := replicaField(gvk.Group, gvk.Kind)
	if field == nil {
		return nil
	}
	return unstructured.SetNestedField(obj.Object, int64(n), field...)
}
