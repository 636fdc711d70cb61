package view

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// bigPlan is an operator upgrade's worth of change: on each of clusters
// clusters, configMaps ConfigMaps whose two data files of dataBytes
// change, and a CRD whose schema's descriptions (descriptions of them)
// and two fields change; every object with its diff. One cluster cannot
// be reached and one failed part-way; warnings warnings.
func bigPlan(clusters, configMaps, dataBytes, descriptions, warnings int) *plan.Plan {
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Topology: "operator"}
	file := func(seed, n int) string {
		var b strings.Builder
		for i := 0; b.Len() < n; i++ {
			fmt.Fprintf(&b, "key-%d-%d = value %d\n", seed, i, i*seed)
		}
		return b.String()
	}
	region := plan.Region{Name: "us-west1"}
	for c := range clusters {
		cl := plan.Cluster{Name: fmt.Sprintf("member-%02d", c), Region: region.Name, Mode: "joined", ServerVersion: "v1.33.1"}
		crd := plan.Object{Action: object.ActionUpdate, Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition", Name: "widgets.example.com"}
		var diff strings.Builder
		diff.WriteString("--- live/CustomResourceDefinition widgets.example.com\n+++ desired/CustomResourceDefinition widgets.example.com\n")
		for i := range descriptions {
			path := fmt.Sprintf("spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.field%d.description", i)
			before, after := fmt.Sprintf("Field %d of the widget, as release 1 describes it.", i), fmt.Sprintf("Field %d of the widget, as release 2 describes it at length.", i)
			crd.Changes = append(crd.Changes, plan.FieldChange{Path: path, Before: before, After: after})
			fmt.Fprintf(&diff, "@@ -%d +%d @@\n-  description: %s\n+  description: %s\n", i*9, i*9, before, after)
		}
		crd.Changes = append(crd.Changes,
			plan.FieldChange{Path: "spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.replicas.type", Before: "integer", After: "string"},
			plan.FieldChange{Path: "spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.description.type", After: "string"})
		crd.Diff = diff.String()
		cl.Objects = append(cl.Objects, crd)
		for i := range configMaps {
			cm := plan.Object{Action: object.ActionUpdate, Version: "v1", Kind: "ConfigMap", Namespace: "operator", Name: fmt.Sprintf("settings-%03d", i)}
			for _, k := range []string{"app.conf", "extra.conf"} {
				before, after := file(i, dataBytes), file(i+1, dataBytes)
				cm.Changes = append(cm.Changes, plan.FieldChange{Path: `data["` + k + `"]`, Before: before, After: after})
				cm.Diff += "--- live\n+++ desired\n-" + strings.ReplaceAll(before, "\n", "\n-") + "\n+" + strings.ReplaceAll(after, "\n", "\n+") + "\n"
			}
			cl.Objects = append(cl.Objects, cm)
		}
		switch c {
		case 1:
			cl.Error = "planning cluster member-01: listing configmaps in namespace operator: the server was unable to return a response in the time allotted"
		case 2:
			cl = plan.Cluster{Name: cl.Name, Region: cl.Region, Mode: "joined", Unreachable: "dial tcp 10.0.0.9:6443: i/o timeout"}
		}
		region.Clusters = append(region.Clusters, cl)
		p.Summary.ObjectsToChange += len(cl.Objects)
	}
	p.Regions = []plan.Region{region}
	for i := range warnings {
		p.Warnings = append(p.Warnings, fmt.Sprintf("workload operator-%d: member-02 unreachable (i/o timeout): excluded", i))
	}
	p.Summary.Errors = min(1, clusters/2)
	p.Summary.Unreachable = min(1, clusters/3)
	return p
}

func markdownOf(t *testing.T, p *plan.Plan, o MarkdownOptions) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Markdown(&buf, p, o); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// wantWellFormed checks what GitHub needs to render the document as
// meant: every fence and <details> closed, one final newline.
func wantWellFormed(t *testing.T, out string) {
	t.Helper()
	if !strings.HasSuffix(out, "\n") || strings.HasSuffix(out, "\n\n") {
		t.Error("markdown does not end with exactly one newline")
	}
	var fence string
	for _, l := range strings.Split(out, "\n") {
		switch {
		case fence == "" && strings.HasPrefix(l, "```"):
			fence = strings.TrimRight(l, "abcdefghijklmnopqrstuvwxyz")
		case fence != "" && l == fence:
			fence = ""
		}
	}
	if fence != "" {
		t.Errorf("a %s code block is left open", fence)
	}
	if open, closed := strings.Count(out, "<details>"), strings.Count(out, "</details>"); open != closed {
		t.Errorf("%d <details> and %d </details>", open, closed)
	}
}

// TestMarkdownOfABigPlan: an operator upgrade of ~2 MB as text fits a
// pull-request comment, the summary, the clusters that need a person and
// the warnings kept.
func TestMarkdownOfABigPlan(t *testing.T) {
	p := bigPlan(3, 120, 1100, 1500, 12)
	var text bytes.Buffer
	if err := Text(&text, p, TextOptions{Diff: true}); err != nil {
		t.Fatal(err)
	}
	if text.Len() < 2_000_000 || text.Len() > 3_000_000 {
		t.Fatalf("the plan is %d bytes as text with --diff, want a plan of 2 MB", text.Len())
	}
	unbounded := markdownOf(t, p, MarkdownOptions{Diff: true})
	for _, diff := range []bool{false, true} {
		out := markdownOf(t, p, MarkdownOptions{Diff: diff, MaxBytes: DefaultMarkdownBytes, FullPlan: "plan.json"})
		t.Logf("--diff %t: text %d bytes, markdown unbounded %d bytes, bounded %d bytes", diff, text.Len(), len(unbounded), len(out))
		if testing.Verbose() {
			t.Logf("%s", out[:2000])
		}
		if len(out) > DefaultMarkdownBytes {
			t.Errorf("--diff %t: %d bytes, over %d", diff, len(out), DefaultMarkdownBytes)
		}
		wantWellFormed(t, out)
		for _, want := range []string{
			"### kubectl geofed plan: operator\n\n**Plan: 0 clusters to create, 0 to change · 0 objects to create, 242 to change, 0 to delete. 1 clusters unreachable, 1 errors.**\n\n",
			"\n**Shortened to fit 60000 bytes, left out: ",
			"The full plan is in plan.json (plan --out).\n",
			"- ! planning cluster member-01: listing configmaps in namespace operator: the server was unable",
			"- ! cluster member-02 (joined): unreachable: dial tcp 10.0.0.9:6443: i/o timeout\n",
			"#### Warnings\n\n- ! workload operator-0: member-02 unreachable (i/o timeout): excluded\n",
			"- ! workload operator-11: member-02 unreachable (i/o timeout): excluded\n",
			"<details><summary>~ cluster member-00 (joined, v1.33.1)</summary>\n\n",
			"~   apiextensions.k8s.io/CustomResourceDefinition widgets.example.com\n",
			"more lines of changes left out\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("--diff %t: markdown lacks %q", diff, want)
			}
		}
		if !diff && !strings.Contains(out, "(1500 schema description changes not shown; --diff shows them)") {
			t.Error("the CRD's description changes are not counted")
		}
		if strings.Contains(out, "release 1 describes it") != diff {
			t.Errorf("--diff %t: the CRD's descriptions shown %t", diff, !diff)
		}
	}
}

// TestMarkdownNeverExceedsMaxBytes renders plans of many shapes at many
// bounds: never over the bound, always well formed, the summary always
// there, and shortened only when the whole would not fit.
func TestMarkdownNeverExceedsMaxBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(24, 60000))
	for i := range 300 {
		p := bigPlan(1+rng.IntN(4), rng.IntN(30), rng.IntN(3000), rng.IntN(200), rng.IntN(60))
		o := MarkdownOptions{Diff: rng.IntN(2) == 0, Verbose: rng.IntN(2) == 0}
		whole := markdownOf(t, p, o)
		o.MaxBytes = MinMarkdownBytes + rng.IntN(len(whole)+len(whole)/10)
		if rng.IntN(10) == 0 {
			o.FullPlan = strings.Repeat("plans/", rng.IntN(40)) + "plan.json"
		}
		out := markdownOf(t, p, o)
		if len(out) > o.MaxBytes {
			t.Fatalf("case %d: %d bytes, over the bound %d (whole %d)", i, len(out), o.MaxBytes, len(whole))
		}
		wantWellFormed(t, out)
		if !strings.Contains(out, "**"+inline(summaryLine(p.Summary))+"**") {
			t.Fatalf("case %d (bound %d): the summary is missing", i, o.MaxBytes)
		}
		if shortened := strings.Contains(out, "**Shortened to fit"); shortened != (len(whole) > o.MaxBytes) || (!shortened && out != whole) {
			t.Fatalf("case %d: whole %d bytes, bound %d, shortened %t", i, len(whole), o.MaxBytes, shortened)
		}
	}
}

// A bound that cannot hold the summary is refused, never met by leaving
// the summary out.
func TestMarkdownRefusesATinyBound(t *testing.T) {
	err := Markdown(&bytes.Buffer{}, fullPlan(), MarkdownOptions{MaxBytes: 100})
	if err == nil || !strings.Contains(err.Error(), "at least 2000") {
		t.Errorf("Markdown with 100 bytes: %v, want a refusal naming the least", err)
	}
	long := MarkdownOptions{MaxBytes: MinMarkdownBytes, FullPlan: strings.Repeat("a-very-long-directory/", 80) + "plan.json"}
	err = Markdown(&bytes.Buffer{}, bigPlan(1, 5, 500, 0, 0), long)
	if err == nil || !strings.Contains(err.Error(), "the title, the summary and the line saying what is left out need") {
		t.Errorf("Markdown with a path longer than the bound: %v, want a refusal", err)
	}
}
