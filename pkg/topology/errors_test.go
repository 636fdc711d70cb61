package topology

import "testing"

func TestFieldErrorFormat(t *testing.T) {
	tests := []struct {
		name string
		err  FieldError
		want string
	}{
		{"everything", FieldError{File: "topology.yaml", Line: 14, Path: "spec.regions[0].name", Msg: "required"},
			"topology.yaml:14: spec.regions[0].name: required"},
		{"no path", FieldError{File: "t.yaml", Line: 3, Msg: "invalid YAML: bad"}, "t.yaml:3: invalid YAML: bad"},
		{"no line", FieldError{File: "t.yaml", Msg: "file is empty"}, "t.yaml: file is empty"},
		{"path without line", FieldError{File: "t.yaml", Path: "spec", Msg: "m"}, "t.yaml: spec: m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorListSorted(t *testing.T) {
	l := ErrorList{
		{File: "f", Line: 9, Path: "b", Msg: "1"},
		{File: "f", Line: 2, Path: "z", Msg: "2"},
		{File: "f", Line: 9, Path: "a", Msg: "3"},
		{File: "f", Line: 9, Path: "b", Msg: "4"},
		{File: "f", Msg: "5"},
	}
	want := "f: 5\nf:2: z: 2\nf:9: a: 3\nf:9: b: 1\nf:9: b: 4"
	if got := l.sorted().Error(); got != want {
		t.Errorf("sorted list =\n%s\nwant\n%s", got, want)
	}
}
