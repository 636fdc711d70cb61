package capacity

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// String is the Fit in one line for a cluster's explanation, e.g.
// "3 nodes considered, 2 left out (1 not Ready, 1 taint
// nvidia.com/gpu=present:NoSchedule not tolerated) · 5 replicas fit".
// Reasons are counted, largest first, so the line stays short on big
// clusters and leads with what matters most.
func (f Fit) String() string {
	return f.describe(true)
}

// Counted is String without the replicas: the nodes counted and why the
// others hold none, e.g. "3 nodes considered, 1 left out (1 not Ready)".
func (f Fit) Counted() string {
	return f.describe(false)
}

func (f Fit) describe(replicas bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s considered", count(f.Considered, "node", "nodes"))
	if left := f.Nodes() - f.Considered; left > 0 {
		fmt.Fprintf(&b, ", %d left out (%s)", left, counted(f.LeftOut, ""))
	}
	if replicas {
		verb := "fit"
		if f.Replicas == 1 {
			verb = "fits"
		}
		fmt.Fprintf(&b, " · %s %s", count(f.Replicas, "replica", "replicas"), verb)
	}
	if f.NoRoom > 0 {
		verb := "fit"
		if f.NoRoom == 1 {
			verb = "fits"
		}
		fmt.Fprintf(&b, " · %s %s none (%s)", count(f.NoRoom, "node", "nodes"), verb, counted(f.Insufficient, "Insufficient "))
	}
	return b.String()
}

func count[N int | int64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// counted lists m as "2 reason, 1 other reason": largest count first, ties
// in name order, so that the same Fit always prints the same.
func counted[K ~string](m map[K]int, prefix string) string {
	keys := make([]K, 0, len(m))
	for k, n := range m {
		if n > 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b K) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b))
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s%s", m[k], prefix, k)
	}
	return strings.Join(parts, ", ")
}
