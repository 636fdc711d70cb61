package topology

import (
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestDecodeFieldNames pins how struct fields are named, beyond what the
// Topology types use today: json tags, "-", untagged and unexported fields,
// and a kind the decoder does not read, which must fail loudly.
func TestDecodeFieldNames(t *testing.T) {
	type odd struct {
		Tagged   string  `json:"tagged,omitempty"`
		Skipped  string  `json:"-"`
		Untagged string  // named by its Go name
		hidden   string  // unexported: never decoded
		Ratio    float64 `json:"ratio"`
		Odds     float32 `json:"odds"`
		Ptr      **int32 `json:"ptr"`
	}
	tests := []struct {
		name, in string
		want     odd
		errs     []string
	}{
		{name: "tags and Go names", in: "tagged: a\nUntagged: b\n", want: odd{Tagged: "a", Untagged: "b"}},
		{name: "json - is unknown", in: "Skipped: x\n", errs: []string{`f:1: unknown field "Skipped"`}},
		{name: "unexported is unknown", in: "hidden: x\n", errs: []string{`f:1: unknown field "hidden"`}},
		{name: "float", in: "ratio: 0.5\n", want: odd{Ratio: 0.5}},
		{name: "integer as float", in: "ratio: 2\n", want: odd{Ratio: 2}},
		{name: "float not finite", in: "ratio: .nan\n", errs: []string{"f:1: ratio: expected a number, got the number .nan"}},
		{name: "float as string", in: "ratio: \"1\"\n", errs: []string{`f:1: ratio: expected a number, got the string "1"`}},
		{name: "unsupported kind", in: "odds: 0.5\n", errs: []string{"f:1: odds: cannot decode into a Go float32"}},
		{name: "pointer to pointer", in: "ptr: x\n", errs: []string{`f:1: ptr: expected an integer, got the string "x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tt.in), &doc); err != nil {
				t.Fatal(err)
			}
			var got odd
			d := newDecoder("f", &problems{})
			d.decode(doc.Content[0], reflect.ValueOf(&got).Elem(), "", 1)
			var errs []string
			for _, e := range d.errs.list {
				errs = append(errs, e.Error())
			}
			if !reflect.DeepEqual(errs, tt.errs) {
				t.Errorf("errors = %q, want %q", errs, tt.errs)
			}
			if tt.errs == nil && got != tt.want {
				t.Errorf("decoded %+v, want %+v", got, tt.want)
			}
		})
	}
}
