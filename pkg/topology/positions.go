package topology

import (
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// positions maps field paths (as field.Path prints them) to the line they
// were written on.
type positions map[string]int

// line finds where path was written. A field the file does not have (a
// missing required one) is reported at the nearest parent it does have.
func (p positions) line(path string) int {
	for {
		if l, ok := p[path]; ok {
			return l
		}
		if path == "" {
			return 0
		}
		path = parentPath(path)
	}
}

// parentPath drops the last element of a printed field path: a .name, an
// [index] or a [key]. Every step is shorter, so callers' loops end.
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

// pathString prints path, with the root (nil) as "".
func pathString(path *field.Path) string {
	if path == nil {
		return ""
	}
	return path.String()
}

// childString, indexString and keyString extend a printed path as
// field.Path's Child, Index and Key would, with "" as the root.
func childString(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func indexString(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func keyString(path, key string) string { return path + "[" + key + "]" }

// ClusterLine is the line the named cluster's entry was written on (its
// name: line), so a check made after loading can point at the file; 0 when
// the topology has no such cluster or was not loaded from a file.
func (t *Topology) ClusterLine(name string) int {
	for i := range t.Spec.Regions {
		for j := range t.Spec.Regions[i].Clusters {
			if t.Spec.Regions[i].Clusters[j].Name == name {
				return t.lines[clusterPath(i, j).Child("name").String()]
			}
		}
	}
	return 0
}

// ClusterPlace is file:line of the named cluster's entry, or just the file
// when the line is unknown.
func (t *Topology) ClusterPlace(name string) string { return place(t.Path, t.ClusterLine(name)) }

// clusterPath is the field path of spec.regions[region].clusters[cluster].
func clusterPath(region, cluster int) *field.Path {
	return field.NewPath("spec", "regions").Index(region).Child("clusters").Index(cluster)
}
