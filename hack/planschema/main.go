// Command planschema writes docs/plan.schema.json: the JSON schema of the
// plan that `kubectl geofed plan -o json` prints and `plan --out` saves,
// reflected from the Go types in pkg/plan and the types they hold, with
// their doc comments as the descriptions. Run it after changing those
// types:
//
//	go generate ./hack/planschema
//
// Its test fails while the file is not what it writes.
//
//go:generate go run . -o docs/plan.schema.json
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/invopop/jsonschema"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// module is this repository's module path: its packages' comments are the
// schema's descriptions.
const module = "github.com/geofed-io/kubectl-geofed"

// commentDirs hold the types a Plan is made of, relative to the module root.
var commentDirs = []string{"pkg/plan", "pkg/gke", "pkg/placement", "pkg/capacity", "pkg/object", "pkg/cost", "pkg/catalog"}

// undocumented describes what has no doc comment in Go: fields whose name
// and the type's comment say it to a Go reader, and the Kubernetes types.
// A doc comment in Go is better: write one there and delete the entry here
// (the test fails on an entry a comment has made redundant).
var undocumented = map[string]string{
	"plan.Plan.FormatVersion": "The version of this schema, " + strconv.Quote(plan.FormatVersion) + ". It changes only when a field changes meaning or disappears; new fields may be added.",
	"plan.Plan.Topology":      "The topology's metadata.name.",
	"plan.Plan.TopologyFile":  "The topology file as plan was given it: apply of a saved plan loads it again.",
	"plan.Plan.CreatedAt":     "When the plan was computed.",
	"plan.Plan.Regions":       "Every region of the topology with its clusters.",
	"plan.Plan.Placements":    "How each workload's replicas are placed, one entry per workload.",
	"plan.Plan.Warnings":      "What a person should read before applying, such as clusters excluded from a division.",
	"plan.Plan.Summary":       "The plan's changes, counted.",

	"plan.Region.Name":     "The GCP region.",
	"plan.Region.Clusters": "The region's member clusters.",

	"plan.Cluster.Name":          "The cluster's name in the topology.",
	"plan.Cluster.Region":        "The region the cluster is in.",
	"plan.Cluster.ServerVersion": "The Kubernetes version the cluster's API server reported.",
	"plan.Cluster.Objects":       "The cluster's objects: what it should hold, then what geofed applied and would prune.",

	"plan.Object.Action":    "What apply would do to the object.",
	"plan.Object.Group":     "The object's API group, absent for the core group.",
	"plan.Object.Version":   "The object's API version.",
	"plan.Object.Kind":      "The object's kind.",
	"plan.Object.Namespace": "The object's namespace, absent for a cluster-scoped object.",
	"plan.Object.Name":      "The object's name.",
	"plan.Object.Workload":  "The topology's workload the object belongs to.",

	"plan.FieldChange.Path":   "The field, as a JSON-path-like path: spec.template.spec.containers[0].image.",
	"plan.FieldChange.Before": "The live value, absent when the field is added; a Secret's value is \"(sensitive)\".",
	"plan.FieldChange.After":  "The desired value, absent when the field is removed; a Secret's value is \"(sensitive, changed)\".",

	"plan.Summary.ClustersToCreate": "GKE clusters apply would create.",
	"plan.Summary.ClustersToChange": "GKE clusters apply would change in place.",
	"plan.Summary.ObjectsToCreate":  "Objects apply would create.",
	"plan.Summary.ObjectsToChange":  "Objects apply would change.",
	"plan.Summary.ObjectsToDelete":  "Objects apply would prune.",
	"plan.Summary.Unreachable":      "Clusters that could not be reached; a plan with any exits 1, and apply refuses it once saved.",
	"plan.Summary.Attention":        "What a person has to look at (marked ! in the text view) and apply leaves alone.",

	"gke.ClusterChange.Project":   "The cluster's GCP project.",
	"gke.ClusterChange.Location":  "The cluster's location: its region or one of the region's zones.",
	"gke.ClusterChange.Cluster":   "The cluster's name.",
	"gke.ClusterChange.Action":    "What apply would do to the GKE cluster.",
	"gke.ClusterChange.NodePools": "The cluster's node pools and what apply would do to each.",
	"gke.NodePoolChange.Action":   "What apply would do to the node pool.",
	"gke.NodePoolChange.Fields":   "The pool's fields: every field of a pool to create, the fields that differ for the rest.",
	"gke.FieldChange.Path":        "The field: machineType, nodeCount, autoscaling, releaseChannel, …",
	"gke.FieldChange.Before":      "The value in GKE, absent for a create.",
	"gke.FieldChange.After":       "The value the topology asks for, absent for a delete.",

	"placement.Result.Workload": "The workload's name in the topology.",
	"placement.Result.Min":      "The replicas policy's floor per selected cluster.",
	"placement.Result.Max":      "The replicas policy's ceiling per selected cluster.",
	"placement.Result.Resource": "The resource divideBy capacity measures.",
	"placement.Result.Near":     "Where divideBy locality fills the nearest clusters first: a region, or a gs://bucket/prefix URL whose bucket's location (see data) gives the regions.",
	"placement.Result.Warnings": "What the division warns of, such as an excluded cluster or more replicas than fit.",
	"placement.Share.Cluster":   "The selected cluster's name.",
	"placement.Share.Region":    "The cluster's region.",

	"capacity.Estimate.Now":          "What fits now.",
	"capacity.Fit.Replicas":          "How many replicas fit.",
	"capacity.Fit.Insufficient":      "The considered nodes on which not one replica fits, counted by the resource short there (a node short of two resources counts under both).",
	"capacity.PoolEstimate.Name":     "The node pool's name.",
	"capacity.PoolEstimate.MaxNodes": "What the pool's autoscaling can grow it to; absent when it does not autoscale.",

	"v1.ResourceList": "Kubernetes resource quantities by resource name (cpu, memory, nvidia.com/gpu, pods).",
}

func main() {
	out := flag.String("o", "docs/plan.schema.json", "Where to write the schema, relative to the module root")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "planschema:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if err := os.Chdir(root); err != nil {
		return err
	}
	b, err := generate()
	if err != nil {
		return err
	}
	return os.WriteFile(out, b, 0o644)
}

// moduleRoot is the nearest directory up from the working one with a
// go.mod: go generate runs this in hack/planschema, a person anywhere.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// generate returns the schema, indented, ending in a newline. It reads the
// Go sources for their comments, so the working directory must be the
// module root.
func generate() ([]byte, error) {
	s, err := reflectSchema()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	// The descriptions quote "<" and "&" as they are.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("encoding the schema: %w", err)
	}
	return buf.Bytes(), nil
}

var (
	actionType   = reflect.TypeOf(object.Action(""))
	actionDef    = "object.Action"
	quantityType = reflect.TypeOf(resource.Quantity{})
)

func reflectSchema() (*jsonschema.Schema, error) {
	comments, err := goComments()
	if err != nil {
		return nil, err
	}
	actions, err := actionValues()
	if err != nil {
		return nil, err
	}
	r := &jsonschema.Reflector{
		Anonymous:      true,
		ExpandedStruct: true,
		// plan.FieldChange and gke.FieldChange are different types.
		Namer: func(t reflect.Type) string {
			if t.Name() == "" {
				return ""
			}
			return pkgName(t) + "." + t.Name()
		},
		CommentMap: comments,
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			switch t {
			case actionType:
				// A definition of its own: a field's description would
				// replace the one of the values.
				return &jsonschema.Schema{Ref: "#/$defs/" + actionDef}
			case quantityType:
				return &jsonschema.Schema{Type: "string", Description: "A Kubernetes quantity: \"8\", \"500m\", \"16Gi\"."}
			}
			return nil
		},
	}
	s := r.Reflect(&plan.Plan{})
	s.Definitions[actionDef] = actions
	s.Title = "kubectl geofed plan"
	// The version is the one this schema describes.
	if p, ok := s.Properties.Get("formatVersion"); ok {
		p.Const = plan.FormatVersion
	}
	nullableSlices(s, reflect.TypeOf(plan.Plan{}), map[reflect.Type]bool{})
	return s, nil
}

// pkgName is the last element of t's package path: "plan", "gke", "v1".
func pkgName(t reflect.Type) string {
	return t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
}

// goComments reads the doc comments of commentDirs' types and fields,
// keyed as the reflector looks them up (import path, type, field), with
// their lines joined into paragraphs, and adds undocumented.
func goComments() (map[string]string, error) {
	r := &jsonschema.Reflector{}
	for _, dir := range commentDirs {
		if err := r.AddGoComments(module, dir, jsonschema.WithFullComment()); err != nil {
			return nil, fmt.Errorf("reading the comments of %s: %w", dir, err)
		}
	}
	comments := map[string]string{}
	for k, v := range r.CommentMap {
		if v = paragraphs(v); v != "" {
			comments[k] = v
		}
	}
	for k, v := range undocumented {
		comments[fullKey(k)] = v
	}
	return comments, nil
}

// fullKey turns an undocumented key ("plan.Plan.Topology") into the
// reflector's ("github.com/…/pkg/plan.Plan.Topology").
func fullKey(k string) string {
	if rest, ok := strings.CutPrefix(k, "v1."); ok {
		return "k8s.io/api/core/v1." + rest
	}
	pkg, rest, _ := strings.Cut(k, ".")
	return module + "/pkg/" + pkg + "." + rest
}

// paragraphs joins a comment's wrapped lines; blank lines stay paragraph
// breaks and indented lines (code) keep their own line.
func paragraphs(comment string) string {
	var b strings.Builder
	for _, para := range strings.Split(strings.TrimSpace(comment), "\n\n") {
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		for i, line := range strings.Split(para, "\n") {
			switch {
			case i == 0:
			case strings.HasPrefix(line, "\t") || strings.HasPrefix(line, " "):
				b.WriteString("\n")
			default:
				b.WriteString(" ")
			}
			b.WriteString(line)
		}
	}
	return b.String()
}

// actionValues is the schema of object.Action: its values and what each
// means, read from the constants in pkg/object, where the vocabulary is
// defined.
func actionValues() (*jsonschema.Schema, error) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, "pkg/object", func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("reading pkg/object: %w", err)
	}
	var files []*ast.File
	for _, p := range pkgs {
		for _, f := range p.Files {
			files = append(files, f)
		}
	}
	d, err := doc.NewFromFiles(fset, files, module+"/pkg/object")
	if err != nil {
		return nil, err
	}
	s := &jsonschema.Schema{Type: "string"}
	lines := []string{"What apply would do to an object, a GKE cluster or a node pool:"}
	for _, t := range d.Types {
		if t.Name != actionType.Name() {
			continue
		}
		for _, v := range t.Consts {
			for _, spec := range v.Decl.Specs {
				vs := spec.(*ast.ValueSpec)
				for _, val := range vs.Values {
					lit, ok := val.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						return nil, fmt.Errorf("pkg/object: an Action constant that is not a string literal: %s", vs.Names[0])
					}
					value, _ := strconv.Unquote(lit.Value)
					s.Enum = append(s.Enum, value)
					meaning := paragraphs(vs.Doc.Text())
					// "ActionCreate: it does not exist…" reads "create: it does not exist…".
					if _, after, ok := strings.Cut(meaning, ": "); ok {
						meaning = after
					}
					lines = append(lines, "- "+value+": "+meaning)
				}
			}
		}
	}
	if len(s.Enum) == 0 {
		return nil, errors.New("pkg/object: no Action constants found")
	}
	s.Description = strings.Join(lines, "\n")
	return s, nil
}

// nullableSlices lets the slices and maps encoding/json writes as null when
// empty (those without omitempty) be null, as plan -o json prints them.
func nullableSlices(s *jsonschema.Schema, t reflect.Type, seen map[reflect.Type]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] || t.PkgPath() == "time" {
		return
	}
	seen[t] = true
	def := s
	if t != reflect.TypeOf(plan.Plan{}) {
		def = s.Definitions[pkgName(t)+"."+t.Name()]
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || def == nil {
			continue
		}
		nullableSlices(s, f.Type, seen)
		omitempty := strings.Contains(","+opts+",", ",omitempty,")
		if (f.Type.Kind() != reflect.Slice && f.Type.Kind() != reflect.Map) || omitempty {
			continue
		}
		if p, ok := def.Properties.Get(name); ok {
			desc := p.Description
			p.Description = ""
			def.Properties.Set(name, &jsonschema.Schema{
				Description: desc,
				AnyOf:       []*jsonschema.Schema{p, {Type: "null"}},
			})
		}
	}
}
