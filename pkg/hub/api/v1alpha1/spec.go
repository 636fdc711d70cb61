package v1alpha1

import (
	"encoding/json"
	"fmt"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// DeepCopyInto copies the spec; it is written by hand because pkg/topology's
// types have no generated deep copy. The topology part goes through JSON: its
// types (pkg/topology) carry no generated deep copy, and JSON is the form
// the API server holds them in anyway, so nothing the resource can say is
// lost.
func (in *TopologySpec) DeepCopyInto(out *TopologySpec) {
	*out = *in
	data, err := json.Marshal(in.Spec)
	if err != nil {
		panic(fmt.Sprintf("copying a Topology spec: %v", err))
	}
	out.Spec = topology.Spec{}
	if err := json.Unmarshal(data, &out.Spec); err != nil {
		panic(fmt.Sprintf("copying a Topology spec: %v", err))
	}
	if in.Failover != nil {
		out.Failover = in.Failover.DeepCopy()
	}
	if in.Sources != nil {
		out.Sources = in.Sources.DeepCopy()
	}
}

// DeepCopy copies the spec into a new one.
func (in *TopologySpec) DeepCopy() *TopologySpec {
	if in == nil {
		return nil
	}
	out := new(TopologySpec)
	in.DeepCopyInto(out)
	return out
}

// Document is the topology file this resource holds: apiVersion, kind,
// metadata.name and the topology part of the spec, without the
// controller's fields. The controller loads it with topology.Options.Parse,
// so a resource is validated exactly as `kubectl geofed plan -f` validates
// the file (and its errors name lines of this document).
func (t *Topology) Document() ([]byte, error) {
	doc := topology.Topology{
		APIVersion: topology.APIVersion,
		Kind:       topology.Kind,
		Metadata:   topology.ObjectMeta{Name: t.Name},
		Spec:       t.Spec.Spec,
	}
	data, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("topology %s/%s: %w", t.Namespace, t.Name, err)
	}
	return data, nil
}

// FailoverAfter is spec.failover.after, defaulted.
func (s *TopologySpec) FailoverAfter() time.Duration {
	if s.Failover != nil && s.Failover.After != nil {
		return s.Failover.After.Duration
	}
	return DefaultFailoverAfter * time.Second
}

// FailoverRestoreAfter is spec.failover.restoreAfter, defaulted.
func (s *TopologySpec) FailoverRestoreAfter() time.Duration {
	if s.Failover != nil && s.Failover.RestoreAfter != nil {
		return s.Failover.RestoreAfter.Duration
	}
	return DefaultFailoverRestoreAfter * time.Second
}

// EffectiveMode is spec.mode, defaulted to Apply.
func (s *TopologySpec) EffectiveMode() Mode {
	if s.Mode == "" {
		return ModeApply
	}
	return s.Mode
}

// EffectiveDeletionPolicy is spec.deletionPolicy, defaulted to Orphan.
func (s *TopologySpec) EffectiveDeletionPolicy() DeletionPolicy {
	if s.DeletionPolicy == "" {
		return DeletionOrphan
	}
	return s.DeletionPolicy
}
