package topology

import (
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// maxFileSize is the largest topology file read. A fleet of a thousand
// clusters, each with labels and node pools, is a few hundred KiB.
const maxFileSize = 1 << 20

// maxValues bounds the values (YAML nodes, keys included) a file may hold
// once every alias is expanded. yaml.v3 keeps an alias as one node, but
// decoding walks what it stands for, so a few lines of anchors that alias
// each other ("billion laughs") stand for millions of values. Real
// topologies stay far below: a cluster with labels and two node pools is
// about fifty values.
const maxValues = 100_000

// expansion counts the values the tree under root stands for with its
// aliases expanded, without expanding them: the size of an anchored node
// is computed once and added at each alias to it, so the count costs one
// walk of the tree as parsed whatever the aliases multiply. It refuses a
// tree past maxValues, naming the alias that takes it past, and an anchor
// used inside itself, which stands for an endless value.
type expansion struct {
	file string
	// sizes holds the expanded size of anchored nodes already counted;
	// open holds those being counted, so an alias to one is a cycle.
	sizes map[*yaml.Node]int
	open  map[*yaml.Node]bool
	// trail is the way from the root to the node being walked: each
	// parent and the index of the child taken, from which an error's path
	// is printed (only then: a string per node would cost more than the
	// walk). alias is the alias being counted.
	trail []step
	alias *yaml.Node
	err   *FieldError
}

type step struct {
	parent *yaml.Node
	i      int
}

// checkExpansion returns the expanded size of root, or an error when it
// is past maxValues or endless.
func checkExpansion(file string, root *yaml.Node) (int, *FieldError) {
	e := &expansion{file: file, sizes: map[*yaml.Node]int{}, open: map[*yaml.Node]bool{}}
	n := e.walk(root, 0)
	if e.err == nil && n > maxValues {
		// Past the limit without an alias doing it: simply a huge file.
		e.err = &FieldError{File: file, Line: root.Line, Msg: fmt.Sprintf("more than %d values; a topology holds at most %d", maxValues, maxValues)}
	}
	return n, e.err
}

// walk adds up n as written, in file order: total is what came before n,
// so the alias that takes the file past the limit is the one reported,
// with the path to it.
func (e *expansion) walk(n *yaml.Node, total int) int {
	if e.err != nil {
		return total
	}
	if n.Kind == yaml.AliasNode {
		e.alias = n
		size := e.size(n.Alias)
		if e.err == nil && total+size > maxValues {
			e.err = e.errorf("alias *%s stands for %s values (anchor &%s, line %d); with it the file expands to more than %d values, the most a topology holds",
				n.Value, count(size), n.Alias.Anchor, n.Alias.Line, maxValues)
		}
		return total + size
	}
	total++
	for i, c := range n.Content {
		e.trail = append(e.trail, step{parent: n, i: i})
		total = e.walk(c, total)
		e.trail = e.trail[:len(e.trail)-1]
		if e.err != nil {
			return total
		}
	}
	return total
}

// errorf is an error at the alias being counted.
func (e *expansion) errorf(format string, args ...any) *FieldError {
	path := ""
	for _, s := range e.trail {
		path = childPath(s.parent, path, s.i)
	}
	return &FieldError{File: e.file, Line: e.alias.Line, Path: path, Msg: fmt.Sprintf(format, args...)}
}

// size is the expanded size of n, capped just past maxValues so that
// sums cannot overflow.
func (e *expansion) size(n *yaml.Node) int {
	if n == nil || e.err != nil {
		return 1
	}
	if n.Kind == yaml.AliasNode {
		return e.size(n.Alias)
	}
	if s, ok := e.sizes[n]; ok {
		return s
	}
	if e.open[n] {
		e.err = e.errorf("anchor &%s (line %d) is used inside itself, which stands for an endless value", n.Anchor, n.Line)
		return 1
	}
	anchored := n.Anchor != ""
	if anchored {
		e.open[n] = true
		defer delete(e.open, n)
	}
	s := 1
	for _, c := range n.Content {
		s = min(s+e.size(c), maxValues+1)
		if e.err != nil {
			return s
		}
	}
	if anchored {
		e.sizes[n] = s
	}
	return s
}

// childPath names the i-th node of n's content as field paths print it:
// a mapping's value by its key, a list item by its index. Keys themselves
// are reported at their mapping.
func childPath(n *yaml.Node, path string, i int) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return indexString(path, i)
	case yaml.MappingNode:
		if i%2 == 0 {
			return path
		}
		k := unalias(n.Content[i-1])
		if k.Kind != yaml.ScalarNode {
			return path
		}
		return childString(path, k.Value)
	default: // a document
		return path
	}
}

// count prints a size, which is capped just past maxValues.
func count(n int) string {
	if n > maxValues {
		return fmt.Sprintf("more than %d", maxValues)
	}
	return strconv.Itoa(n)
}
