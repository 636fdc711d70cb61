// Package inventory records what geofed applied to a member cluster, following
// the ApplySet specification (KEP-3659): one parent ConfigMap per topology per
// cluster, members labelled applyset.kubernetes.io/part-of. Plan reads it to
// find prune candidates and to skip dry-runs for objects nobody touched; apply
// writes it.
package inventory

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

const (
	// Tooling is the ApplySet tooling annotation value (<tool>/<semver>).
	Tooling = "kubectl-geofed/v1"
	// ParentNamespace holds the parent ConfigMaps: it exists in every
	// cluster, so the inventory never depends on a namespace geofed manages.
	ParentNamespace = "kube-system"
	// dataKey is the parent ConfigMap key holding the entries as JSON.
	dataKey = "inventory.json"
)

var configMapGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// ParentName is the name of the parent ConfigMap of a topology.
func ParentName(topology string) string { return "geofed-" + topology }

// The ApplySet parent's annotations (KEP-3659), as kubectl names them.
const (
	AnnotationTooling              = "applyset.kubernetes.io/tooling"
	AnnotationContainsGroupKinds   = "applyset.kubernetes.io/contains-group-kinds"
	AnnotationAdditionalNamespaces = "applyset.kubernetes.io/additional-namespaces"
)

// ID is the ApplySet id of a topology's parent: the label value that marks
// its members. The specification's rule, as kubectl computes it (a test
// holds the two together): "applyset-" + base64url(sha256 of
// name.namespace.kind.group) + "-v1". Not kubectl's function itself:
// importing kubectl's apply command costs every geofed run its
// translations and command tables at start-up, a third of the time a
// small plan takes.
func ID(topology string) string {
	parent := strings.Join([]string{ParentName(topology), ParentNamespace, "ConfigMap", ""}, ".")
	sum := sha256.Sum256([]byte(parent))
	return "applyset-" + base64.RawURLEncoding.EncodeToString(sum[:]) + "-v1"
}

// Entry is one object geofed applied, with what it knew after applying it.
type Entry struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// UID is the object's UID when geofed applied it: prune deletes with
	// it as a precondition, so an object someone else re-created under the
	// same name is never deleted. Empty while the entry is only widened
	// (recorded before the object was sent).
	UID types.UID `json:"uid,omitempty"`
	// AppliedHash is the geofed.io/applied-hash of the manifest applied.
	AppliedHash string `json:"appliedHash"`
	// FieldsDigest is the digest of geofed's managedFields entry right after
	// applying; when another writer takes a field away, it moves.
	FieldsDigest string `json:"fieldsDigest"`
}

// Key identifies the object an entry is about: group/kind/namespace/name.
func (e Entry) Key() string { return object.Key(e.Group, e.Kind, e.Namespace, e.Name) }

// Inventory is the content of one cluster's parent object.
type Inventory struct {
	Topology string
	// Exists is false when the cluster has no parent yet (never applied).
	Exists bool
	// ResourceVersion of the parent as read, for staleness checks.
	ResourceVersion string
	Entries         []Entry
	// index maps an entry's key to its place in Entries (Lookup).
	index map[string]int
}

// Lookup returns the entry for key. The first call indexes the entries:
// plan looks up every desired object, and a scan each time made a plan of
// n objects cost n² key comparisons. Entries must not change after it.
func (inv *Inventory) Lookup(key string) (Entry, bool) {
	if inv.index == nil {
		inv.index = make(map[string]int, len(inv.Entries))
		for i, e := range inv.Entries {
			inv.index[e.Key()] = i
		}
	}
	i, ok := inv.index[key]
	if !ok {
		return Entry{}, false
	}
	return inv.Entries[i], true
}

// Read fetches a topology's inventory from a cluster with one GET. A missing
// parent is an empty inventory, not an error.
func Read(ctx context.Context, client dynamic.Interface, topology string) (*Inventory, error) {
	inv := &Inventory{Topology: topology}
	obj, err := client.Resource(configMapGVR).Namespace(ParentNamespace).Get(ctx, ParentName(topology), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return inv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading inventory ConfigMap %s/%s: %w", ParentNamespace, ParentName(topology), err)
	}
	if tool := obj.GetAnnotations()[AnnotationTooling]; tool != "" && !strings.HasPrefix(tool, "kubectl-geofed/") {
		return nil, fmt.Errorf("inventory ConfigMap %s/%s belongs to %q, not kubectl-geofed: refusing to use it", ParentNamespace, ParentName(topology), tool)
	}
	inv.Exists = true
	inv.ResourceVersion = obj.GetResourceVersion()
	data, _, _ := unstructured.NestedString(obj.Object, "data", dataKey)
	if data != "" {
		if err := json.Unmarshal([]byte(data), &inv.Entries); err != nil {
			return nil, fmt.Errorf("decoding inventory ConfigMap %s/%s: %w", ParentNamespace, ParentName(topology), err)
		}
	}
	return inv, nil
}

// Parent builds the parent ConfigMap for entries, with the ApplySet labels
// and annotations (contains-group-kinds, additional-namespaces) kubectl
// understands, so `kubectl apply --prune --applyset` could read it too.
func Parent(topology string, entries []Entry) (*unstructured.Unstructured, error) {
	sorted := append([]Entry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Key() < sorted[j].Key() })
	data, err := json.Marshal(sorted)
	if err != nil {
		return nil, err
	}
	gks := map[string]bool{}
	nss := map[string]bool{}
	for _, e := range sorted {
		gk := e.Kind
		if e.Group != "" {
			gk += "." + e.Group
		}
		gks[gk] = true
		if e.Namespace != "" && e.Namespace != ParentNamespace {
			nss[e.Namespace] = true
		}
	}
	obj := &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata": map[string]interface{}{
			"name":      ParentName(topology),
			"namespace": ParentNamespace,
			"labels": map[string]interface{}{
				object.LabelApplySetID: ID(topology),
				object.LabelManagedBy:  object.ManagedByValue,
				object.LabelTopology:   topology,
			},
			"annotations": map[string]interface{}{
				AnnotationTooling:              Tooling,
				AnnotationContainsGroupKinds:   strings.Join(slices.Sorted(maps.Keys(gks)), ","),
				AnnotationAdditionalNamespaces: strings.Join(slices.Sorted(maps.Keys(nss)), ","),
			},
		},
		"data": map[string]interface{}{dataKey: string(data)},
	}}
	return obj, nil
}
