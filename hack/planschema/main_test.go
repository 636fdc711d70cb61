package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	validator "github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/plan/view"
)

var update = flag.Bool("update", false, "rewrite docs/plan.schema.json from the current Go types")

const schemaFile = "docs/plan.schema.json"

// inRoot makes the module root the working directory, as generate needs.
func inRoot(t *testing.T) {
	t.Helper()
	t.Chdir("../..")
}

// TestSchemaIsGenerated fails while docs/plan.schema.json is not what the
// Go types make of it now: run go generate ./hack/planschema, or this test
// with -update.
func TestSchemaIsGenerated(t *testing.T) {
	inRoot(t)
	got, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("reading %s (run go generate ./hack/planschema): %v", schemaFile, err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s is not what the plan's Go types make (run go generate ./hack/planschema) (-file +generated):\n%s", schemaFile, diff)
	}
}

// TestSchemaDescribesEveryField: a field added to the plan without a doc
// comment fails here, not in a reader's hands.
func TestSchemaDescribesEveryField(t *testing.T) {
	inRoot(t)
	s := schemaDoc(t)
	described := func(where string, v map[string]any) {
		if d, _ := v["description"].(string); strings.TrimSpace(d) == "" {
			t.Errorf("%s has no description: give it a doc comment in Go", where)
		}
	}
	var properties func(where string, def map[string]any)
	properties = func(where string, def map[string]any) {
		props, _ := def["properties"].(map[string]any)
		for name, p := range props {
			described(where+"."+name, p.(map[string]any))
		}
	}
	described("the plan", s)
	properties("the plan", s)
	defs := s["$defs"].(map[string]any)
	for name, def := range defs {
		described(name, def.(map[string]any))
		properties(name, def.(map[string]any))
	}
	if len(defs) < 10 {
		t.Errorf("%d definitions: the walk misses the types a plan holds", len(defs))
	}
}

// TestUndocumentedIsStillNeeded: a description kept in the generator for a
// field Go has since documented, or for one that is gone, is dead.
func TestUndocumentedIsStillNeeded(t *testing.T) {
	inRoot(t)
	s, err := reflectSchema()
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	comments, err := goComments()
	if err != nil {
		t.Fatal(err)
	}
	for key, text := range undocumented {
		if c := comments[fullKey(key)]; c != text {
			t.Errorf("%s: has a doc comment in Go now (%q): delete it from undocumented", key, c)
		}
		quoted, _ := json.Marshal(text)
		if !bytes.Contains(out, quoted) {
			t.Errorf("%s: its description is not in the schema: the field is gone or renamed", key)
		}
	}
	// And the other way round: what Go documents is used as written.
	for _, want := range []string{
		"SourceDigest hashes the topology file and every rendered manifest",
		"Unreachable is why the cluster could not be planned; its objects are unknown and it is excluded from replica division.",
		"- conflict: an update that takes fields another manager owns; apply refuses it without --force-conflicts.",
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the schema lacks the Go comment %q", want)
		}
	}
}

// schemaDoc reads docs/plan.schema.json as a document.
func schemaDoc(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", schemaFile, err)
	}
	return doc
}

// compiled is docs/plan.schema.json, ready to validate with; formats
// (createdAt's date-time) are asserted too.
func compiled(t *testing.T) *validator.Schema {
	t.Helper()
	f, err := os.Open(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := validator.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", schemaFile, err)
	}
	c := validator.NewCompiler()
	c.AssertFormat()
	const url = "file:///plan.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compiling %s: %v", schemaFile, err)
	}
	return sch
}

// validate checks one plan document against the schema.
func validate(t *testing.T, sch *validator.Schema, name string, doc []byte) error {
	t.Helper()
	inst, err := validator.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("%s: not JSON: %v", name, err)
	}
	return sch.Validate(inst)
}

// planJSON is p as plan -o json prints it.
func planJSON(t *testing.T, p *plan.Plan) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := view.JSON(&buf, p); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSchemaValidatesPlans validates the plans the view's goldens pin, and
// an empty plan (whose lists encoding/json writes as null); and checks that
// what is not a plan fails, so that passing means something.
func TestSchemaValidatesPlans(t *testing.T) {
	inRoot(t)
	sch := compiled(t)
	goldens, err := filepath.Glob("pkg/plan/view/testdata/*.json.golden")
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no plan JSON goldens in pkg/plan/view/testdata (%v)", err)
	}
	for _, path := range goldens {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate(t, sch, path, b); err != nil {
			t.Errorf("%s does not validate: %v", path, err)
		}
	}
	empty := planJSON(t, &plan.Plan{FormatVersion: plan.FormatVersion})
	if err := validate(t, sch, "an empty plan", empty); err != nil {
		t.Errorf("an empty plan does not validate: %v\n%s", err, empty)
	}

	// A golden plan, spoilt one way at a time.
	full, err := os.ReadFile("pkg/plan/view/testdata/full.json.golden")
	if err != nil {
		t.Fatal(err)
	}
	spoil := func(f func(p map[string]any)) []byte {
		var p map[string]any
		if err := json.Unmarshal(full, &p); err != nil {
			t.Fatal(err)
		}
		f(p)
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	firstObject := func(p map[string]any) map[string]any {
		r := p["regions"].([]any)[0].(map[string]any)
		for _, c := range r["clusters"].([]any) {
			if objs, ok := c.(map[string]any)["objects"].([]any); ok {
				return objs[0].(map[string]any)
			}
		}
		t.Fatal("the golden plan has no objects")
		return nil
	}
	for name, doc := range map[string][]byte{
		"another format version": spoil(func(p map[string]any) { p["formatVersion"] = "geofed.io/plan/v0" }),
		"no summary":             spoil(func(p map[string]any) { delete(p, "summary") }),
		"an unknown field":       spoil(func(p map[string]any) { p["extra"] = true }),
		"createdAt not a time":   spoil(func(p map[string]any) { p["createdAt"] = "yesterday" }),
		"an unknown action":      spoil(func(p map[string]any) { firstObject(p)["action"] = "explode" }),
		"an object without kind": spoil(func(p map[string]any) { delete(firstObject(p), "kind") }),
		"a count as a string":    spoil(func(p map[string]any) { p["summary"].(map[string]any)["objectsToCreate"] = "4" }),
	} {
		if err := validate(t, sch, name, doc); err == nil {
			t.Errorf("a plan with %s validates", name)
		}
	}
}

// TestSchemaKnowsEveryAction: the enum is read from pkg/object's
// constants; each of them must be in it.
func TestSchemaKnowsEveryAction(t *testing.T) {
	inRoot(t)
	sch := compiled(t)
	for _, a := range []object.Action{
		object.ActionCreate, object.ActionUpdate, object.ActionReplace, object.ActionDelete, object.ActionNoop,
		object.ActionAttention, object.ActionConflict, object.ActionError, object.ActionKeep, object.ActionBeingDeleted, object.ActionForeign,
	} {
		p := &plan.Plan{FormatVersion: plan.FormatVersion, CreatedAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
			Regions: []plan.Region{{Name: "r", Clusters: []plan.Cluster{{Name: "c", Region: "r", Mode: "joined",
				Objects: []plan.Object{{Action: a, Version: "v1", Kind: "ConfigMap", Name: "x"}}}}}}}
		if err := validate(t, sch, string(a), planJSON(t, p)); err != nil {
			t.Errorf("action %q: %v", a, err)
		}
	}
}
