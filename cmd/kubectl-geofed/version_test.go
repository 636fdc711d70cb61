package main

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"
)

func TestVersionText(t *testing.T) {
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	o := &VersionOptions{IOStreams: streams}
	if err := o.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if err := o.Run(); err != nil {
		t.Fatalf("Run() = %v", err)
	}
	got := out.String()
	for _, want := range []string{"kubectl-geofed " + version, runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH, "commit "} {
		if !strings.Contains(got, want) {
			t.Errorf("version text %q does not contain %q", got, want)
		}
	}
	if !strings.HasSuffix(got, "\n") || strings.Count(got, "\n") != 1 {
		t.Errorf("version text %q is not one line", got)
	}
	if errOut.Len() != 0 {
		t.Errorf("ErrOut = %q, want nothing", errOut.String())
	}
}

func TestVersionStructured(t *testing.T) {
	tests := []struct {
		output string
		decode func([]byte, any) error
	}{
		{"json", strictJSON},
		{"yaml", func(b []byte, v any) error { return yaml.UnmarshalStrict(b, v) }},
	}
	for _, tt := range tests {
		t.Run(tt.output, func(t *testing.T) {
			streams, _, out, _ := genericiooptions.NewTestIOStreams()
			o := &VersionOptions{printFlags: printFlags{Output: tt.output}, IOStreams: streams}
			if err := o.Validate(); err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			if err := o.Run(); err != nil {
				t.Fatalf("Run() = %v", err)
			}
			var got VersionInfo
			if err := tt.decode(out.Bytes(), &got); err != nil {
				t.Fatalf("decoding %s: %v\n%s", tt.output, err, out)
			}
			if got.Version != version {
				t.Errorf("version = %q, want %q", got.Version, version)
			}
			if got.Commit == "" {
				t.Error("commit is empty, want a revision or \"unknown\"")
			}
			if got.GoVersion != runtime.Version() {
				t.Errorf("goVersion = %q, want %q", got.GoVersion, runtime.Version())
			}
			if want := runtime.GOOS + "/" + runtime.GOARCH; got.Platform != want {
				t.Errorf("platform = %q, want %q", got.Platform, want)
			}
		})
	}
}

// The JSON keys are part of the output contract, spelled as documented.
func TestVersionJSONKeys(t *testing.T) {
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	if err := (&VersionOptions{printFlags: printFlags{Output: "json"}, IOStreams: streams}).Run(); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "commit", "goVersion", "platform"} {
		if _, ok := m[k].(string); !ok {
			t.Errorf("key %q missing or not a string in %s", k, out)
		}
	}
	if len(m) != 4 {
		t.Errorf("got %d keys, want 4: %s", len(m), out)
	}
}

func TestVersionBadOutput(t *testing.T) {
	for _, output := range []string{"wide", "JSON", "name"} {
		o := &VersionOptions{printFlags: printFlags{Output: output}}
		err := o.Validate()
		if err == nil {
			t.Errorf("Validate() with -o %s = nil, want an error", output)
			continue
		}
		if !strings.Contains(err.Error(), `"`+output+`"`) {
			t.Errorf("Validate() with -o %s = %q, want it to quote the value", output, err)
		}
	}
}

// strictJSON decodes b into v, refusing fields v does not have.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
