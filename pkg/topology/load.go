package topology

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Options control how a topology is loaded. The zero value checks workload
// sources on the real disk.
type Options struct {
	// IsDir reports whether path is a directory; workload sources must be.
	// Paths are the topology file's directory joined with the source. Nil
	// means os.Stat.
	IsDir func(path string) bool
}

// Load reads, decodes, validates and defaults the topology file at path.
// Problems in the file come back as an ErrorList.
func Load(path string) (*Topology, error) { return Options{}.Load(path) }

// Parse decodes, validates and defaults a topology held in data. path names
// the file in messages and anchors relative workload sources.
func Parse(path string, data []byte) (*Topology, error) { return Options{}.Parse(path, data) }

// Load is the package Load with these options.
func (o Options) Load(path string) (*Topology, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading topology: %w", err)
	}
	defer f.Close()
	// One byte past the limit is enough for Parse to refuse the file.
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading topology: %w", err)
	}
	return o.Parse(path, data)
}

// Parse is the package Parse with these options.
func (o Options) Parse(path string, data []byte) (*Topology, error) {
	t, errs, _ := o.parse(path, data)
	if len(errs) > 0 {
		return nil, errs
	}
	return t, nil
}

// work is what parsing one file cost, in the units the loader bounds so
// that no input of at most maxFileSize costs more than a moment: values
// the file stands for with aliases expanded, nodes the decoder walked, and
// selector-by-cluster matches the validator tried.
type work struct {
	values, visits, selectorChecks int
}

func (o Options) parse(path string, data []byte) (*Topology, ErrorList, work) {
	var w work
	if len(data) > maxFileSize {
		return nil, ErrorList{{File: path, Msg: fmt.Sprintf("file is larger than 1 MiB (%d bytes), the most a topology file holds", maxFileSize)}}, w
	}
	root, errs := parseDocument(path, data)
	if len(errs) == 0 {
		var err *FieldError
		if w.values, err = checkExpansion(path, root); err != nil {
			errs = ErrorList{err}
		}
	}
	if len(errs) == 0 {
		// Another apiVersion or kind is another schema: its fields would
		// only bury the one error that matters.
		errs = checkHeader(path, root)
	}
	if len(errs) > 0 {
		return nil, errs.sorted(), w
	}
	t := &Topology{Path: path}
	found := &problems{}
	d := newDecoder(path, found)
	d.lines[""] = root.Line
	d.decode(root, reflect.ValueOf(t).Elem(), "", root.Line)
	w.visits = d.visits
	if !d.holes {
		w.selectorChecks = o.validate(t, d.lines, found)
	}
	if len(found.list) > 0 {
		return nil, found.sorted(path), w
	}
	Default(t)
	t.lines = d.lines
	return t, nil, w
}

const emptyFile = "file is empty; want a geofed.io/v1alpha1 Topology"

// yamlLine picks the line out of the YAML parser's messages.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseDocument parses data as exactly one YAML document holding a mapping.
func parseDocument(path string, data []byte) (*yaml.Node, ErrorList) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrorList{{File: path, Msg: emptyFile}}
		}
		return nil, ErrorList{syntaxError(path, err)}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, ErrorList{syntaxError(path, err)}
	default:
		return nil, ErrorList{{File: path, Line: next.Line, Msg: "a second YAML document; a topology file holds exactly one"}}
	}
	if len(doc.Content) == 0 || isNull(unalias(doc.Content[0])) {
		return nil, ErrorList{{File: path, Msg: emptyFile}}
	}
	root := unalias(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, ErrorList{{File: path, Line: doc.Content[0].Line, Msg: "expected a mapping (a Topology), got " + describe(root)}}
	}
	return root, nil
}

func syntaxError(path string, err error) *FieldError {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &FieldError{File: path, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &FieldError{File: path, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
}

// checkHeader checks apiVersion and kind before anything else is decoded.
func checkHeader(path string, root *yaml.Node) ErrorList {
	var errs ErrorList
	for _, h := range []struct{ key, want string }{{"apiVersion", APIVersion}, {"kind", Kind}} {
		k, v := lookupKey(root, h.key)
		switch {
		case k == nil:
			errs = append(errs, &FieldError{File: path, Line: root.Line, Path: h.key, Msg: fmt.Sprintf("required: want %q", h.want)})
		case v.Kind != yaml.ScalarNode || v.ShortTag() != tagStr || v.Value != h.want:
			errs = append(errs, &FieldError{File: path, Line: k.Line, Path: h.key, Msg: fmt.Sprintf("got %s, want %q", describe(v), h.want)})
		}
	}
	return errs
}

// lookupKey finds the first key called name in mapping m.
func lookupKey(m *yaml.Node, name string) (key, value *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := unalias(m.Content[i]); k.Kind == yaml.ScalarNode && k.Value == name {
			return m.Content[i], unalias(m.Content[i+1])
		}
	}
	return nil, nil
}
