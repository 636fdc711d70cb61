package topology

import (
	"fmt"
	"math"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The YAML core schema tags the decoder distinguishes.
const (
	tagNull      = "!!null"
	tagBool      = "!!bool"
	tagStr       = "!!str"
	tagInt       = "!!int"
	tagFloat     = "!!float"
	tagTimestamp = "!!timestamp"
	tagBinary    = "!!binary"
	tagMerge     = "!!merge"
)

// decoder fills Go values from a YAML node tree by their json tags, strictly:
// unknown fields, duplicate keys and values of the wrong type are errors with
// the line they are on. It walks the tree itself, rather than going through
// JSON, so that every field path keeps its line for the validator. Paths are
// carried as the strings field.Path prints, built as the walk goes down:
// printing a field.Path at every value costs more than the rest of the walk.
//
// The tree must have passed checkExpansion: aliases are followed, and only
// that check bounds what they stand for and rules out cycles.
type decoder struct {
	file  string
	lines positions
	errs  *problems
	// holes is set when a value could not be decoded and was left zero:
	// validating such a tree would report errors the user did not make.
	holes bool
	// visits counts the nodes walked, aliases expanded; checkExpansion's
	// count bounds it.
	visits int
}

func newDecoder(file string, errs *problems) *decoder {
	return &decoder{file: file, lines: positions{}, errs: errs}
}

func (d *decoder) errorf(line int, path string, format string, args ...any) {
	d.errs.add(&FieldError{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// decode stores n into v. line is where the value's key (or list item)
// starts, which is where errors about the value point.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, line int) {
	d.visits++
	n = unalias(n)
	if isNull(n) {
		return // null leaves the field unset, as in JSON
	}
	switch v.Kind() {
	case reflect.Pointer:
		e := reflect.New(v.Type().Elem())
		d.decode(n, e.Elem(), path, line)
		v.Set(e)
	case reflect.Struct:
		d.decodeStruct(n, v, path, line)
	case reflect.Slice:
		d.decodeSlice(n, v, path, line)
	case reflect.Map:
		d.decodeMap(n, v, path, line)
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Float64:
		d.decodeScalar(n, v, path, line)
	default:
		d.errorf(line, path, "cannot decode into a Go %s", v.Type())
		d.holes = true
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string, line int) {
	if n.Kind != yaml.MappingNode {
		d.typeError(n, v, path, line)
		return
	}
	fields := jsonFields(v.Type())
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	for _, e := range d.entries(n, path) {
		f, ok := findField(fields, e.key)
		if !ok {
			d.errorf(e.line, path, "unknown field %q%s", e.key, d.errs.didYouMean(e.key, names))
			continue
		}
		p := childString(path, f.name)
		d.lines[p] = e.line
		d.decode(e.value, v.Field(f.index), p, e.line)
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string, line int) {
	if n.Kind != yaml.SequenceNode {
		d.typeError(n, v, path, line)
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		p := indexString(path, i)
		d.lines[p] = item.Line
		d.decode(item, s.Index(i), p, item.Line)
	}
	v.Set(s)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string, line int) {
	if n.Kind != yaml.MappingNode {
		d.typeError(n, v, path, line)
		return
	}
	entries := d.entries(n, path)
	m := reflect.MakeMapWithSize(v.Type(), len(entries))
	for _, e := range entries {
		p := keyString(path, e.key)
		d.lines[p] = e.line
		val := reflect.New(v.Type().Elem()).Elem()
		d.decode(e.value, val, p, e.line)
		m.SetMapIndex(reflect.ValueOf(e.key).Convert(v.Type().Key()), val)
	}
	v.Set(m)
}

func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string, line int) {
	if n.Kind != yaml.ScalarNode {
		d.typeError(n, v, path, line)
		return
	}
	tag := n.ShortTag()
	switch v.Kind() {
	case reflect.String:
		if tag != tagStr {
			d.typeError(n, v, path, line)
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if tag != tagBool || n.Decode(&b) != nil {
			d.typeError(n, v, path, line)
			return
		}
		v.SetBool(b)
	case reflect.Float64:
		// A price: 2 and 2.5 both are; .inf and .nan are not amounts.
		var f float64
		if (tag != tagInt && tag != tagFloat) || n.Decode(&f) != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			d.typeError(n, v, path, line)
			return
		}
		v.SetFloat(f)
	default: // the integer kinds
		var i int64
		if tag != tagInt || n.Decode(&i) != nil {
			d.typeError(n, v, path, line)
			return
		}
		if v.OverflowInt(i) {
			d.errorf(line, path, "%d is out of range for a %d-bit integer", i, v.Type().Bits())
			d.holes = true
			return
		}
		v.SetInt(i)
	}
}

// typeError reports that n is not the kind of value v holds.
func (d *decoder) typeError(n *yaml.Node, v reflect.Value, path string, line int) {
	msg := fmt.Sprintf("expected %s, got %s", want(v.Type()), describe(n))
	if v.Kind() == reflect.String && n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case tagInt, tagFloat, tagBool, tagTimestamp:
			msg += "; quote it to make it a string"
		}
	}
	d.errorf(line, path, "%s", msg)
	d.holes = true
}

// entry is one key of a mapping, with merge keys ("<<: *anchor") expanded.
type entry struct {
	key   string
	line  int
	value *yaml.Node
}

// entries lists n's keys in file order, reporting duplicates; keys merged in
// with "<<" come after, and keys written in n win over merged ones, as the
// YAML merge key type says.
func (d *decoder) entries(n *yaml.Node, path string) []entry {
	var out []entry
	seen := map[string]int{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := unalias(n.Content[i]), n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == tagMerge {
			merges = append(merges, val)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(n.Content[i].Line, path, "mapping keys must be strings, got %s", describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(n.Content[i].Line, path, "duplicate key %q (first at line %d)", k.Value, first)
			continue
		}
		seen[k.Value] = n.Content[i].Line
		out = append(out, entry{key: k.Value, line: n.Content[i].Line, value: val})
	}
	for _, m := range merges {
		for _, src := range d.mergeSources(m, path) {
			d.visits++
			for _, e := range d.entries(src, path) {
				if _, ok := seen[e.key]; !ok {
					seen[e.key] = e.line
					out = append(out, e)
				}
			}
		}
	}
	return out
}

// mergeSources returns the mappings a "<<" value names: one mapping or a
// list of them.
func (d *decoder) mergeSources(m *yaml.Node, path string) []*yaml.Node {
	line := m.Line
	m = unalias(m)
	items := []*yaml.Node{m}
	if m.Kind == yaml.SequenceNode {
		items = m.Content
	}
	var out []*yaml.Node
	for _, item := range items {
		item = unalias(item)
		if item.Kind != yaml.MappingNode {
			d.errorf(line, path, "merge key \"<<\" needs a mapping or a list of mappings, got %s", describe(item))
			d.holes = true
			continue
		}
		out = append(out, item)
	}
	return out
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == tagNull }

// unalias follows an alias to its anchored node.
func unalias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// jsonField is a struct field as encoding/json names it.
type jsonField struct {
	name  string
	index int
}

func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out = append(out, jsonField{name: name, index: i})
	}
	return out
}

func findField(fields []jsonField, name string) (jsonField, bool) {
	for _, f := range fields {
		if f.name == name {
			return f, true
		}
	}
	return jsonField{}, false
}

// want names the kind of YAML value a Go type is decoded from; decode has
// already looked through pointers.
func want(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	case reflect.Float64:
		return "a number"
	default:
		return "an integer"
	}
}

// describe names a YAML value for an error message.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	v := shorten(n.Value)
	switch tag := n.ShortTag(); tag {
	case tagStr:
		return fmt.Sprintf("the string %q", v)
	case tagInt:
		return "the integer " + v
	case tagFloat:
		return "the number " + v
	case tagBool:
		return "the boolean " + v
	case tagTimestamp:
		return "the timestamp " + v
	case tagBinary:
		return "binary data"
	default:
		return fmt.Sprintf("a value tagged %s", shorten(tag))
	}
}

// shorten keeps a quoted value from flooding a one-line message.
func shorten(s string) string {
	const limit = 40
	if r := []rune(s); len(r) > limit {
		return string(r[:limit]) + "..."
	}
	return s
}
