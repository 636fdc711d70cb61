// Package push uploads a topology to a control plane: its spec as a
// Topology object, and a bundle of its workloads' kustomize sources as
// ConfigMaps (and Secrets, for what holds secrets) beside it, so the
// controller renders offline what `kubectl geofed render` renders here.
package push

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/datasource"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/bundle"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// Options say what to push where.
type Options struct {
	// Topology is the topology as loaded from its file (topology.Load).
	Topology *topology.Topology
	// Hub is a client of the hub cluster that knows the geofed.io types.
	Hub       client.Client
	Namespace string
	// Mode, Paused and Failover go into the Topology's spec; an empty Mode
	// keeps what the hub has (Apply for a new Topology).
	Mode     v1alpha1.Mode
	Paused   bool
	Failover *v1alpha1.Failover
	// DeletionPolicy goes into the Topology's spec; empty keeps what the
	// hub has (Orphan for a new Topology), so a push that does not say
	// never turns a Delete into an Orphan or the reverse.
	DeletionPolicy v1alpha1.DeletionPolicy
	// ChunkSize bounds one ConfigMap's or Secret's chunk;
	// bundle.DefaultChunkSize when zero.
	ChunkSize int
	// Data says how to reach Cloud Storage (the emulator's address, say)
	// for the location of the buckets the workloads name: the check
	// before upload places them as plan does, so it reads those locations
	// as plan does. A topology naming no bucket reaches nothing.
	Data datasource.Options
}

// Result says what was pushed.
type Result struct {
	Created    bool
	Digest     string
	ConfigMaps int
	Secrets    int
	// Files and SensitiveFiles count the files bundled.
	Files, SensitiveFiles int
	// Deleted counts the chunks of earlier pushes removed.
	Deleted int
}

// Run collects and checks the sources (placing every workload, which reads
// the location of the buckets they name), writes the new chunks, points the
// Topology at them, and only then deletes the chunks of earlier pushes: a
// controller reading the Topology at any moment finds the chunks it names.
func Run(ctx context.Context, o Options) (*Result, error) {
	t := o.Topology
	b, err := bundle.Collect(t)
	if err != nil {
		return nil, err
	}
	// A bucket that is gone fails here, named as plan names it, rather
	// than in the controller after the upload.
	data, err := datasource.Resolve(ctx, t, o.Data)
	if err != nil {
		return nil, err
	}
	if err := bundle.Check(t, b, data); err != nil {
		return nil, err
	}
	packed, err := b.Pack()
	if err != nil {
		return nil, err
	}
	spec, err := rawSpec(t.Path)
	if err != nil {
		return nil, err
	}
	cms, secrets, src := bundle.Objects(o.Namespace, t.Metadata.Name, packed, o.ChunkSize)
	res := &Result{Digest: packed.Digest, ConfigMaps: len(cms), Secrets: len(secrets), Files: len(b.Files)}
	for _, s := range b.Sensitive {
		if s {
			res.SensitiveFiles++
		}
	}
	for _, cm := range cms {
		if err := create(ctx, o.Hub, cm); err != nil {
			return nil, err
		}
	}
	for _, s := range secrets {
		if err := create(ctx, o.Hub, s); err != nil {
			return nil, err
		}
	}

	key := types.NamespacedName{Namespace: o.Namespace, Name: t.Metadata.Name}
	var topo v1alpha1.Topology
	// The controller writes the status as it goes, which moves the
	// resourceVersion: read and write again on a conflict.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		topo = v1alpha1.Topology{}
		err := o.Hub.Get(ctx, key, &topo)
		switch {
		case apierrors.IsNotFound(err):
			topo = v1alpha1.Topology{ObjectMeta: metav1.ObjectMeta{Namespace: o.Namespace, Name: t.Metadata.Name}}
			fill(&topo, o, spec, src)
			if err := o.Hub.Create(ctx, &topo, client.FieldOwner(object.FieldManager)); err != nil {
				return err
			}
			res.Created = true
			return nil
		case err != nil:
			return err
		}
		fill(&topo, o, spec, src)
		return o.Hub.Update(ctx, &topo, client.FieldOwner(object.FieldManager))
	})
	if err != nil {
		return nil, fmt.Errorf("writing Topology %s: %w", key, err)
	}
	// Owned by the Topology, the chunks go with it: the garbage collector
	// deletes them when the Topology is deleted. They are written before
	// it (the controller must find every chunk a Topology names), so they
	// get its UID only now.
	var chunks []client.Object
	for _, cm := range cms {
		chunks = append(chunks, cm)
	}
	for _, s := range secrets {
		chunks = append(chunks, s)
	}
	for _, obj := range chunks {
		if err := own(ctx, o.Hub, obj, &topo); err != nil {
			return nil, err
		}
	}

	res.Deleted, err = deleteStale(ctx, o.Hub, o.Namespace, t.Metadata.Name, bundle.ShortDigest(packed.Digest))
	return res, err
}

func fill(topo *v1alpha1.Topology, o Options, spec topology.Spec, src *v1alpha1.Sources) {
	mode, policy := topo.Spec.Mode, topo.Spec.DeletionPolicy
	if o.Mode != "" {
		mode = o.Mode
	}
	if o.DeletionPolicy != "" {
		policy = o.DeletionPolicy
	}
	topo.Spec = v1alpha1.TopologySpec{Spec: spec, Mode: mode, Paused: o.Paused, Failover: o.Failover, Sources: src, DeletionPolicy: policy}
}

// rawSpec is the file's spec as written, without the loader's defaults:
// the controller loads it with the same loader, which defaults it then.
// The file was loaded already, so it decodes.
func rawSpec(path string) (topology.Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return topology.Spec{}, err
	}
	var doc topology.Topology
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return topology.Spec{}, fmt.Errorf("%s: %w", path, err)
	}
	return doc.Spec, nil
}

func create(ctx context.Context, c client.Client, obj client.Object) error {
	err := c.Create(ctx, obj, client.FieldOwner(object.FieldManager))
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("pushing sources: %T %s: %w", obj, obj.GetName(), err)
	}
	return nil
}

// own makes topo an owner of obj, once.
func own(ctx context.Context, c client.Client, obj client.Object, topo *v1alpha1.Topology) error {
	ref := metav1.OwnerReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Topology", Name: topo.Name, UID: topo.UID}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": []metav1.OwnerReference{ref}}})
	if err != nil {
		return err
	}
	// A chunk belongs to one Topology (its name carries the Topology's
	// and the bundle's digest): its owner list is this one reference.
	if err := c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(object.FieldManager)); err != nil {
		return fmt.Errorf("pushing sources: making Topology %s the owner of %T %s: %w", topo.Name, obj, obj.GetName(), err)
	}
	return nil
}

// deleteStale deletes the chunks of the topology's earlier pushes.
func deleteStale(ctx context.Context, c client.Client, namespace, topo, keep string) (int, error) {
	notKeep, err := labels.NewRequirement(bundle.LabelBundle, selection.NotEquals, []string{keep})
	if err != nil {
		return 0, err
	}
	ofTopo, err := labels.NewRequirement(object.LabelTopology, selection.Equals, []string{topo})
	if err != nil {
		return 0, err
	}
	hasBundle, err := labels.NewRequirement(bundle.LabelBundle, selection.Exists, nil)
	if err != nil {
		return 0, err
	}
	sel := client.MatchingLabelsSelector{Selector: labels.NewSelector().Add(*ofTopo, *hasBundle, *notKeep)}
	n := 0
	var cms corev1.ConfigMapList
	if err := c.List(ctx, &cms, client.InNamespace(namespace), sel); err != nil {
		return n, fmt.Errorf("listing earlier pushes: %w", err)
	}
	for i := range cms.Items {
		if err := c.Delete(ctx, &cms.Items[i]); client.IgnoreNotFound(err) != nil {
			return n, err
		}
		n++
	}
	var secrets corev1.SecretList
	if err := c.List(ctx, &secrets, client.InNamespace(namespace), sel); err != nil {
		return n, fmt.Errorf("listing earlier pushes: %w", err)
	}
	for i := range secrets.Items {
		if err := c.Delete(ctx, &secrets.Items[i]); client.IgnoreNotFound(err) != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
