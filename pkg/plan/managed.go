package plan

import (
	"bytes"
	"fmt"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// managedSet is the union of the field sets that manager owns by Apply in
// the objects' managedFields. Diffs compare only these fields: the live
// object's set holds what an apply could remove, the dry-run's what it
// could add or change; anything else (a controller's annotation, a
// defaulted field) an apply cannot touch, so it never makes a change.
// Objects may be nil.
func managedSet(manager string, objs ...*unstructured.Unstructured) (*fieldpath.Set, error) {
	set := &fieldpath.Set{}
	for _, obj := range objs {
		if obj == nil {
			continue
		}
		for _, mf := range obj.GetManagedFields() {
			if mf.Manager != manager || mf.Operation != metav1.ManagedFieldsOperationApply || mf.FieldsV1 == nil {
				continue
			}
			s := &fieldpath.Set{}
			if err := s.FromJSON(bytes.NewReader(mf.FieldsV1.Raw)); err != nil {
				return nil, fmt.Errorf("reading the fields %s owns in %s: %w", manager, object.Describe(obj), err)
			}
			set = set.Union(s)
		}
	}
	return set, nil
}

// restrict returns a deep copy of obj keeping only what set covers, and
// always apiVersion, kind, metadata.name and metadata.namespace, which no
// managedFields entry lists but every diff header needs.
//
// A member of set with no children (an atomic list such as args, an atomic
// struct such as a selector, a scalar) keeps the whole value at its path. A
// member that also has children (FieldsV1's "." next to other entries, as
// every list-map item has) owns the node itself, not everything under it:
// the node is kept, with only its covered children. A kept list-map item
// also keeps its key fields, its identity, so it still matches its key and
// restricting twice gives what restricting once does (but for list indexes,
// which no Kubernetes type uses in managedFields: kept items move up). Items
// of a list keep their order. A path that set covers but obj lacks is
// skipped.
func restrict(obj map[string]interface{}, set *fieldpath.Set) map[string]interface{} {
	out := map[string]interface{}{}
	if set != nil {
		r, _ := restrictValue(obj, set)
		out = r.(map[string]interface{})
	}
	for _, k := range []string{"apiVersion", "kind"} {
		if v, ok := obj[k]; ok {
			out[k] = v
		}
	}
	md, _ := obj["metadata"].(map[string]interface{})
	for _, k := range []string{"name", "namespace"} {
		v, ok := md[k]
		if !ok {
			continue
		}
		omd, ok := out["metadata"].(map[string]interface{})
		if !ok {
			omd = map[string]interface{}{}
			out["metadata"] = omd
		}
		omd[k] = v
	}
	return out
}

// fieldNode is one path element of a set with what the set says of it:
// whether the element itself is a member, and the set below it.
type fieldNode struct {
	pe       fieldpath.PathElement
	member   bool
	children *fieldpath.Set
}

func fieldNodes(s *fieldpath.Set) []fieldNode {
	var out []fieldNode
	s.Members.Iterate(func(pe fieldpath.PathElement) {
		sub, _ := s.Children.Get(pe)
		out = append(out, fieldNode{pe: pe, member: true, children: sub})
	})
	s.Children.Iterate(func(pe fieldpath.PathElement) {
		if !s.Members.Has(pe) {
			sub, _ := s.Children.Get(pe)
			out = append(out, fieldNode{pe: pe, children: sub})
		}
	})
	return out
}

// restrictValue copies what s covers below v. A map or a list comes back as
// a map or a list, empty when s covers nothing in it; ok says whether
// anything was kept.
func restrictValue(v interface{}, s *fieldpath.Set) (out interface{}, ok bool) {
	switch t := v.(type) {
	case map[string]interface{}:
		m := map[string]interface{}{}
		for _, n := range fieldNodes(s) {
			if n.pe.FieldName == nil {
				continue
			}
			child, found := t[*n.pe.FieldName]
			if !found {
				continue
			}
			if r, kept := keep(child, n); kept {
				m[*n.pe.FieldName] = r
			}
		}
		return m, len(m) > 0
	case []interface{}:
		l := []interface{}{}
		nodes := fieldNodes(s)
		for i, item := range t {
			for _, n := range nodes {
				if !matches(n.pe, i, item) {
					continue
				}
				if r, kept := keep(item, n); kept {
					l = append(l, withKeyFields(r, item, n.pe))
				}
				break
			}
		}
		return l, len(l) > 0
	default:
		return v, false
	}
}

// keep copies what node n covers of v, the value at n's path.
func keep(v interface{}, n fieldNode) (interface{}, bool) {
	if n.children == nil || n.children.Empty() {
		if n.member {
			return copyJSONValue(v), true
		}
		return nil, false
	}
	r, kept := restrictValue(v, n.children)
	return r, kept || n.member
}

// matches says whether the list item at index i is the one pe selects.
// Numbers compare by value: managedFields decode them as float64, objects
// hold int64.
func matches(pe fieldpath.PathElement, i int, item interface{}) bool {
	switch {
	case pe.Key != nil:
		m, ok := item.(map[string]interface{})
		if !ok {
			return false
		}
		for _, f := range *pe.Key {
			v, ok := m[f.Name]
			if !ok || !value.Equals(value.NewValueInterface(v), f.Value) {
				return false
			}
		}
		return true
	case pe.Value != nil:
		return value.Equals(value.NewValueInterface(item), *pe.Value)
	case pe.Index != nil:
		return *pe.Index == i
	default:
		return false
	}
}

// withKeyFields adds a list-map item's key fields to what was kept of it.
func withKeyFields(kept, item interface{}, pe fieldpath.PathElement) interface{} {
	km, ok := kept.(map[string]interface{})
	if pe.Key == nil || !ok {
		return kept
	}
	im := item.(map[string]interface{})
	for _, f := range *pe.Key {
		km[f.Name] = copyJSONValue(im[f.Name])
	}
	return km
}

func copyJSONValue(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, e := range t {
			m[k] = copyJSONValue(e)
		}
		return m
	case []interface{}:
		l := make([]interface{}, len(t))
		for i, e := range t {
			l[i] = copyJSONValue(e)
		}
		return l
	default:
		return v
	}
}
