package topology

import (
	"errors"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Selects reports whether the placement puts its workload on ref: the
// cluster is named in clusters, or matches clusterSelector (which sees the
// implicit region and cluster labels); a placement with neither selects
// every cluster.
func (p Placement) Selects(ref ClusterRef) (bool, error) {
	switch {
	case p.ClusterSelector != nil && len(p.Clusters) > 0:
		return false, errors.New("clusterSelector and clusters cannot both be set")
	case len(p.Clusters) > 0:
		return slices.Contains(p.Clusters, ref.Cluster.Name), nil
	case p.ClusterSelector != nil:
		sel, err := metav1.LabelSelectorAsSelector(p.ClusterSelector)
		if err != nil {
			return false, fmt.Errorf("parsing clusterSelector: %w", err)
		}
		return sel.Matches(labels.Set(ref.Labels())), nil
	default:
		return true, nil
	}
}

// Cluster finds a member cluster by name.
func (t *Topology) Cluster(name string) (ClusterRef, bool) {
	for _, ref := range t.Clusters() {
		if ref.Cluster.Name == name {
			return ref, true
		}
	}
	return ClusterRef{}, false
}
