package plan

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"sort"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/pmezard/go-difflib/difflib"
	"sigs.k8s.io/yaml"
)

const (
	sensitive        = "(sensitive)"
	sensitiveChanged = "(sensitive, changed)"
	// lastApplied repeats a Secret's values in clear when the Secret was
	// ever applied client-side.
	lastApplied = "kubectl.kubernetes.io/last-applied-configuration"
)

// fieldChanges lists the leaves that differ between before and after, in
// path order. Secret values are never shown, only that they change.
func fieldChanges(before, after map[string]interface{}, secret bool) []FieldChange {
	b, a := map[string]interface{}{}, map[string]interface{}{}
	flatten("", before, b)
	flatten("", after, a)
	paths := map[string]bool{}
	for p := range b {
		paths[p] = true
	}
	for p := range a {
		paths[p] = true
	}
	var out []FieldChange
	for _, p := range sortedPaths(paths) {
		bv, inB := b[p]
		av, inA := a[p]
		if inB && inA && reflect.DeepEqual(bv, av) {
			continue
		}
		fc := FieldChange{Path: p}
		if inB {
			fc.Before = formatLeaf(bv)
		}
		if inA {
			fc.After = formatLeaf(av)
		}
		if secret && isSensitivePath(p) {
			if inB {
				fc.Before = sensitive
			}
			if inA {
				fc.After = sensitiveChanged
			}
		}
		out = append(out, fc)
	}
	return out
}

// sensitivePath matches a Secret's values and what is derived from them:
// kubectl's last-applied record repeats them, and geofed's applied-hash is a
// function of them (a guessable value could be checked against it offline).
var sensitivePath = regexp.MustCompile(`^(data|stringData)(\.|\[)|^metadata\.annotations\["(kubectl\.kubernetes\.io/last-applied-configuration|geofed\.io/applied-hash)"\]$`)

func isSensitivePath(p string) bool { return sensitivePath.MatchString(p) }

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// flatten turns a nested object into leaf paths like
// spec.template.spec.containers[0].image and metadata.labels["app/name"].
func flatten(prefix string, v interface{}, out map[string]interface{}) {
	switch t := v.(type) {
	case map[string]interface{}:
		if len(t) == 0 && prefix != "" {
			out[prefix] = t
			return
		}
		for k, child := range t {
			var p string
			switch {
			case identifier.MatchString(k) && prefix == "":
				p = k
			case identifier.MatchString(k):
				p = prefix + "." + k
			default:
				p = fmt.Sprintf("%s[%q]", prefix, k)
			}
			flatten(p, child, out)
		}
	case []interface{}:
		if len(t) == 0 {
			out[prefix] = t
			return
		}
		for i, child := range t {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), child, out)
		}
	default:
		out[prefix] = t
	}
}

func formatLeaf(v interface{}) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// unifiedDiff renders live and desired as YAML and diffs them, the way
// kubectl diff does, with Secret values masked.
func unifiedDiff(before, after map[string]interface{}, secret bool, name string) (string, error) {
	if secret {
		before, after = maskSecret(before, after)
	}
	by, err := yaml.Marshal(before)
	if err != nil {
		return "", fmt.Errorf("encoding live %s: %w", name, err)
	}
	ay, err := yaml.Marshal(after)
	if err != nil {
		return "", fmt.Errorf("encoding desired %s: %w", name, err)
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        difflib.SplitLines(string(by)),
		B:        difflib.SplitLines(string(ay)),
		FromFile: "live/" + name,
		ToFile:   "desired/" + name,
		Context:  3,
	})
}

// maskSecret replaces a Secret's values (and a last-applied annotation that
// would repeat them) in copies of before and after; a value that changes
// reads "(sensitive, changed)" on the after side.
func maskSecret(before, after map[string]interface{}) (map[string]interface{}, map[string]interface{}) {
	b, a := deepCopyJSON(before), deepCopyJSON(after)
	for _, field := range []string{"data", "stringData"} {
		bm, _ := b[field].(map[string]interface{})
		am, _ := a[field].(map[string]interface{})
		for k, av := range am {
			if bv, ok := bm[k]; ok && reflect.DeepEqual(bv, av) {
				am[k] = sensitive
			} else {
				am[k] = sensitiveChanged
			}
		}
		for k := range bm {
			bm[k] = sensitive
		}
	}
	for _, key := range []string{lastApplied, object.AnnotationAppliedHash} {
		bv, bok := annotation(b, key)
		av, aok := annotation(a, key)
		if bok {
			setAnnotation(b, key, sensitive)
		}
		if aok {
			if bok && bv == av {
				setAnnotation(a, key, sensitive)
			} else {
				setAnnotation(a, key, sensitiveChanged)
			}
		}
	}
	return b, a
}

func annotation(obj map[string]interface{}, key string) (interface{}, bool) {
	md, _ := obj["metadata"].(map[string]interface{})
	ann, _ := md["annotations"].(map[string]interface{})
	v, ok := ann[key]
	return v, ok
}

func setAnnotation(obj map[string]interface{}, key string, value interface{}) {
	md, _ := obj["metadata"].(map[string]interface{})
	ann, _ := md["annotations"].(map[string]interface{})
	ann[key] = value
}

func deepCopyJSON(m map[string]interface{}) map[string]interface{} {
	raw, err := json.Marshal(m)
	if err != nil {
		return map[string]interface{}{}
	}
	out := map[string]interface{}{}
	_ = json.Unmarshal(raw, &out)
	return out
}

var listIndex = regexp.MustCompile(`\[(\d+)\]`)

// sortedPaths orders paths with list indexes by number, so env[2] comes
// before env[10].
func sortedPaths(paths map[string]bool) []string {
	out := slices.Sorted(maps.Keys(paths))
	key := func(p string) string {
		return listIndex.ReplaceAllStringFunc(p, func(m string) string {
			return fmt.Sprintf("[%010s]", m[1:len(m)-1])
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return key(out[i]) < key(out[j]) })
	return out
}
