package bundle

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

// ChunkKey is the binaryData (ConfigMap) or data (Secret) key of a chunk.
const ChunkKey = "chunk"

// DefaultChunkSize keeps a chunk, with its object's metadata, well within
// the 1 MiB a ConfigMap or a Secret may hold.
const DefaultChunkSize = 768 << 10

// LabelBundle marks the ConfigMaps and Secrets of a pushed bundle with its
// digest's hex prefix; they also carry object.LabelTopology.
const LabelBundle = "geofed.io/bundle"

// Objects are the ConfigMaps and Secrets that hold p in the hub, and the
// Sources that name them. Their names hold the digest, so a push never
// overwrites the chunks a controller may be reading: it writes new ones,
// points the Topology at them, then deletes the old.
func Objects(namespace, topo string, p *Packed, chunkSize int) ([]*corev1.ConfigMap, []*corev1.Secret, *v1alpha1.Sources) {
	if chunkSize <= 0 {
		chunkSize = DefaultChunkSize
	}
	id := ShortDigest(p.Digest)
	labels := map[string]string{object.LabelTopology: topo, LabelBundle: id, object.LabelManagedBy: object.ManagedByValue}
	meta := func(kind string, i int) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: namespace, Name: fmt.Sprintf("geofed-%s-%s-%s-%d", topo, kind, id, i), Labels: labels}
	}
	src := &v1alpha1.Sources{Path: p.Topology, Digest: p.Digest}
	var cms []*corev1.ConfigMap
	for i, c := range Chunks(p.Public, chunkSize) {
		cm := &corev1.ConfigMap{ObjectMeta: meta("src", i), BinaryData: map[string][]byte{ChunkKey: c}, Immutable: ptrTrue()}
		cms = append(cms, cm)
		src.ConfigMaps = append(src.ConfigMaps, cm.Name)
	}
	var secrets []*corev1.Secret
	for i, c := range Chunks(p.Secret, chunkSize) {
		s := &corev1.Secret{ObjectMeta: meta("secret", i), Type: corev1.SecretTypeOpaque, Data: map[string][]byte{ChunkKey: c}, Immutable: ptrTrue()}
		secrets = append(secrets, s)
		src.Secrets = append(src.Secrets, s.Name)
	}
	return cms, secrets, src
}

func ptrTrue() *bool { b := true; return &b }

// ShortDigest is the hex prefix of a digest that names a bundle's objects.
func ShortDigest(digest string) string {
	hex := strings.TrimPrefix(digest, "sha256:")
	return hex[:min(12, len(hex))]
}

// Read fetches the chunks src names from namespace and unpacks them.
func Read(ctx context.Context, c client.Reader, namespace string, src *v1alpha1.Sources) (*Bundle, error) {
	p := &Packed{Topology: src.Path, Digest: src.Digest}
	for _, name := range src.ConfigMaps {
		var cm corev1.ConfigMap
		if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &cm); err != nil {
			return nil, fmt.Errorf("reading the pushed sources: ConfigMap %s/%s: %w", namespace, name, err)
		}
		p.Public = append(p.Public, cm.BinaryData[ChunkKey]...)
	}
	for _, name := range src.Secrets {
		var s corev1.Secret
		if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &s); err != nil {
			return nil, fmt.Errorf("reading the pushed sources: Secret %s/%s: %w", namespace, name, err)
		}
		p.Secret = append(p.Secret, s.Data[ChunkKey]...)
	}
	return Unpack(p)
}
