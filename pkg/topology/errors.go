package topology

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
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
