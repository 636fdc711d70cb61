package topology

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
)

// FieldError is one problem in a topology file, located by line and field
// path so an editor (or a person) can jump to it.
type FieldError struct {
	File string // the path as given to Load or Parse
	Line int    // 1-based; 0 when the problem has no line (an empty file)
	Path string // field path such as spec.regions[0].name; "" for the whole file
	Msg  string
}

// Error formats the error as file:line: path: message, leaving out the
// parts that are unknown.
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(place(e.File, e.Line))
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in a file, sorted by line then path, so
// one run reports them all.
type ErrorList []*FieldError

// Error prints one problem per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sorted orders the list by line then path; problems on the same field keep
// the order they were found in, which follows the file.
func (l ErrorList) sorted() ErrorList {
	slices.SortStableFunc(l, func(a, b *FieldError) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Path, b.Path))
	})
	return l
}

// didYouMean is the " (did you mean "x"?)" suffix for a misspelt name, or ""
// when no candidate is close.
func didYouMean(suggestion string) string {
	if suggestion == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", suggestion)
}

// place is file:line, or just file when the line is unknown.
func place(file string, line int) string {
	if line <= 0 {
		return file
	}
	return fmt.Sprintf("%s:%d", file, line)
}

// maxErrors is how many problems one load reports. A file past it is
// broken throughout (often not a topology at all), and finding, suggesting
// and sorting every one of its problems would cost more than the first
// hundred tell.
const maxErrors = 100

// problems collects a file's errors up to maxErrors and counts the rest.
type problems struct {
	list    ErrorList
	dropped int
}

func (p *problems) add(e *FieldError) {
	if p.full() {
		p.dropped++
		return
	}
	p.list = append(p.list, e)
}

// full reports whether further errors are only counted, so a caller can
// skip the work of describing them.
func (p *problems) full() bool { return len(p.list) >= maxErrors }

// didYouMean is the suggestion suffix for a misspelt name among
// candidates, skipped once the errors are only counted.
func (p *problems) didYouMean(name string, candidates []string) string {
	if p.full() {
		return ""
	}
	return didYouMean(catalog.Suggest(name, candidates))
}

// sorted is the errors in file order; when some were left out, a first
// line says how many.
func (p *problems) sorted(file string) ErrorList {
	list := p.list.sorted()
	if p.dropped > 0 {
		note := &FieldError{File: file, Msg: fmt.Sprintf("%d problems; the first %d found follow", len(list)+p.dropped, len(list))}
		list = append(ErrorList{note}, list...)
	}
	return list
}
