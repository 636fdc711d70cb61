package topology

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v3"
)

// FuzzParse feeds arbitrary bytes to Parse, starting from every test file,
// the alias bombs included: the loader refuses those before decoding, so
// their mutants cost no more than any other input. Whatever the input: no
// panic; a failure is a sorted, non-empty ErrorList naming the file and
// lines that exist; a success prints (as YAML) back to the same topology,
// so nothing is decoded that validation did not see and defaulting is
// stable.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/valid/*.yaml", "testdata/errors/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	opts := Options{IsDir: func(string) bool { return true }}
	f.Fuzz(func(t *testing.T, data []byte) {
		top, err := opts.Parse("fuzz.yaml", data)
		if err != nil {
			checkErrorList(t, data, top, err)
			return
		}
		again, err := opts.Parse("fuzz.yaml", printYAML(t, top))
		if err != nil {
			t.Fatalf("printed topology does not parse: %v\n%s", err, printYAML(t, top))
		}
		// The lines are where the printed form put things, not the input.
		if diff := cmp.Diff(top, again, cmpopts.EquateEmpty(), cmpopts.IgnoreUnexported(Topology{})); diff != "" {
			t.Fatalf("topology changed through printing and parsing (-first +again):\n%s", diff)
		}
	})
}

func checkErrorList(t *testing.T, data []byte, top *Topology, err error) {
	t.Helper()
	if top != nil {
		t.Fatalf("got a topology along with error %v", err)
	}
	var list ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("error is not a non-empty ErrorList: %T %v", err, err)
	}
	// YAML breaks lines at \n, \r and (as yaml.v3 reads it) NEL, LS and PS;
	// a parser may point one past the last line at end of input.
	lines := 2 + bytes.Count(data, []byte("\n")) + bytes.Count(data, []byte("\r")) +
		bytes.Count(data, []byte("\u0085")) + bytes.Count(data, []byte("\u2028")) + bytes.Count(data, []byte("\u2029"))
	for i, e := range list {
		if e.File != "fuzz.yaml" || e.Line < 0 || e.Line > lines || e.Msg == "" {
			t.Fatalf("bad error %d: %#v (input has at most %d lines)", i, e, lines)
		}
		if i > 0 && (e.Line < list[i-1].Line || e.Line == list[i-1].Line && e.Path < list[i-1].Path) {
			t.Fatalf("errors not sorted:\n%v", err)
		}
	}
}

// printYAML prints a topology as YAML through its JSON form, with every
// scalar explicitly tagged so strings stay strings.
func printYAML(t *testing.T, top *Topology) []byte {
	t.Helper()
	js, err := json.Marshal(top)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(yamlNode(v))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func yamlNode(v any) *yaml.Node {
	switch v := v.(type) {
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: tagStr, Value: k, Style: yaml.DoubleQuotedStyle}, yamlNode(v[k]))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for _, item := range v {
			n.Content = append(n.Content, yamlNode(item))
		}
		return n
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tagStr, Value: v, Style: yaml.DoubleQuotedStyle}
	case json.Number:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tagInt, Value: v.String()}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tagBool, Value: fmt.Sprint(v)}
	default: // nil: JSON null
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tagNull, Value: "null"}
	}
}
