package view

import (
	"bytes"
	"strings"
	"testing"

	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

func renderMarkdown(t *testing.T, p *plan.Plan, o MarkdownOptions) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Markdown(&buf, p, o); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestMarkdown(t *testing.T) {
	tests := []struct {
		golden string
		plan   *plan.Plan
		opts   MarkdownOptions
	}{
		{"full.md.golden", fullPlan(), MarkdownOptions{}},
		{"full-diff.md.golden", fullPlan(), MarkdownOptions{Diff: true}},
		{"no-changes.md.golden", noChangePlan(), MarkdownOptions{}},
		{"no-changes-verbose.md.golden", noChangePlan(), MarkdownOptions{Verbose: true}},
		// Shortened: the warnings and the clusters that need a person
		// kept, the changes cut, a line saying what was left out.
		{"full-shortened.md.golden", fullPlan(), MarkdownOptions{MaxBytes: 3000, FullPlan: "plan.json"}},
		{"big-shortened-diff.md.golden", bigPlan(3, 4, 120, 3, 2), MarkdownOptions{Diff: true, MaxBytes: 4000}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			out := renderMarkdown(t, tt.plan, tt.opts)
			if strings.Contains(out, "\x1b[") {
				t.Error("markdown holds ANSI codes")
			}
			if !strings.HasSuffix(out, "\n") || strings.HasSuffix(out, "\n\n") {
				t.Error("markdown does not end with exactly one newline")
			}
			// Every fence opened is closed, every block opened ends.
			if n := strings.Count(out, "```"); n%2 != 0 {
				t.Errorf("%d code fences: one is left open", n)
			}
			if open, closed := strings.Count(out, "<details>"), strings.Count(out, "</details>"); open != closed {
				t.Errorf("%d <details> and %d </details>", open, closed)
			}
			golden(t, tt.golden, []byte(out))
		})
	}
}

// TestMarkdownContent checks, independently of the golden files, what a
// reviewer of the pull request relies on; every expected text starts a line.
func TestMarkdownContent(t *testing.T) {
	full := renderMarkdown(t, fullPlan(), MarkdownOptions{})
	lines := strings.Split(full, "\n")
	if len(lines) < 3 || lines[0] != "### kubectl geofed plan: ai-platform" {
		t.Errorf("first line %q, want the title", lines[0])
	}
	if want := "**Plan: 1 clusters to create, 1 to change · 4 objects to create, 3 to change, 1 to delete. 1 of the changes conflict"; !strings.HasPrefix(lines[2], want) {
		t.Errorf("third line %q, want the summary line", lines[2])
	}
	for _, want := range []string{
		"#### Region europe-west1\n\n|   | cluster | mode | + | ~ | - | ! | GKE | replicas |\n",
		// serving-eu: 1 create, 3 updates (a conflict among them), 1
		// delete, 5 to look at and a dry-run the server rejected.
		"| \\~ | serving-eu | joined, v1.33.1 | 1 | 3 | 1 | 6 | — | api as rendered |\n",
		"| ! | serving-eu-2 | joined | ? | ? | ? | ? | — | trainer excluded |\n",
		"| \\~ | training-us | managed, GKE acme-ml/us-west1, v1.33.2-gke.1100 | 0 | 0 | 0 | 0 | update in place · no price | trainer 3 |\n",
		"| \\+ | training-us-b | managed, GKE acme-ml/us-west1-b | 2 | 0 | 0 | 0 | create · $0.268/hour, up to $14.70 | trainer 1 |\n",
		"- ! cluster serving-eu-2 (joined): unreachable: dial tcp 10.0.0.7:6443: connect: connection refused\n",
		"- ! planning cluster flaky-eu: listing configmaps in namespace serving: forbidden\n",
		"<details><summary>~ cluster serving-eu (joined, v1.33.1)</summary>\n\n```diff\n+   ConfigMap serving/api-flags\n",
		"~   Secret serving/creds\n~       data.token: (sensitive) → (sensitive, changed)\n",
		"~   apps/Deployment serving/api (changed outside geofed)\n",
		"+       spec.template.spec.containers[0].args[2]: --fast\n",
		"-       spec.template.spec.containers[0].env[1].value: debug\n",
		"-/+ node pool a100: machineType a2-highgpu-1g → a2-highgpu-2g (forces replacement), spot false → true (forces replacement)\n",
		"<details><summary>+ cluster training-us-b (GKE acme-ml/us-west1-b): create</summary>\n",
		"- ! cluster old-us (GKE acme-ml/us-west1): " + gke.ReasonOrphan + "\n",
		"#### Region asia-east1\n\n- ! cluster old-asia (GKE acme-ml/asia-east1-a): " + gke.ReasonOrphan + "\n",
		"#### Placement\n\n**trainer** (weight)\n\n- weights: training-us 3 (region us-west1), training-us-b 1\n- 4 replicas: training-us 3, training-us-b 1\n",
		"#### Warnings\n\n- ! workload trainer: cluster serving-eu-2 unreachable (connection refused): excluded\n",
	} {
		if !strings.Contains("\n"+full, "\n"+want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	for _, absent := range []string{
		"not shown for a create",
		"node pool same",
		"cluster is created by this plan",
		"--- live/",                           // diffs only with Diff
		"<details><summary>  cluster edge-eu", // nothing to show
		"sha256:",                             // hashes are for apply, not for people
		"2f9c1d4e-0000-4000-8000-000000000100",
	} {
		if strings.Contains(full, absent) {
			t.Errorf("markdown contains %q", absent)
		}
	}

	diff := renderMarkdown(t, fullPlan(), MarkdownOptions{Diff: true})
	for _, want := range []string{
		"<details><summary>diff of apps/Deployment serving/api</summary>\n\n```diff\n--- live/Deployment serving/api\n",
		"-  replicas: 2\n+  replicas: 3\n",
		"<details><summary>diff of Secret serving/creds</summary>\n\n```diff\n",
		"+  token: (sensitive, changed)\n",
	} {
		if !strings.Contains("\n"+diff, "\n"+want) {
			t.Errorf("markdown with diffs lacks %q", want)
		}
	}

	none := renderMarkdown(t, noChangePlan(), MarkdownOptions{})
	if !strings.Contains(none, "**No changes. The clusters match the topology. Plan: 0 clusters to create") || strings.Contains(none, "<details>") {
		t.Errorf("a plan without changes should say so and list no cluster's changes:\n%s", none)
	}
	verbose := renderMarkdown(t, noChangePlan(), MarkdownOptions{Verbose: true})
	if !strings.Contains(verbose, "\n    apps/Deployment ml/trainer\n") || strings.Contains(verbose, "unchanged)") {
		t.Errorf("verbose markdown should list unchanged objects instead of counting them:\n%s", verbose)
	}
}

// What the plan's strings hold must not turn into markup: a reason with
// backticks cannot close its code block (inside which HTML is text), HTML
// elsewhere is escaped, what looks like a list stays text.
func TestMarkdownEscapes(t *testing.T) {
	p := &plan.Plan{
		Topology: "t",
		Regions: []plan.Region{{Name: "us-west1", Clusters: []plan.Cluster{
			{Name: "c1", Region: "us-west1", Mode: "joined", Objects: objs(
				plan.Object{Action: object.ActionError, Version: "v1", Kind: "ConfigMap", Namespace: "ns", Name: "x",
					Reason: "rejected: ```\n</details><img src=x> | *bold*"},
			)},
			{Name: "c2", Region: "us-west1", Mode: "joined", Unreachable: "<script>alert(1)</script> | `x`"},
		}}},
		Warnings: []string{"1. not a list", "- nor this", "<b>nor this</b>"},
		Summary:  plan.Summary{Errors: 1, Unreachable: 1},
	}
	out := renderMarkdown(t, p, MarkdownOptions{})
	if strings.Contains(out, "<script>") || strings.Contains(out, "<b>") {
		t.Errorf("plan strings became HTML:\n%s", out)
	}
	if want := "\n````diff\n!   ConfigMap ns/x (rejected: ```\n</details><img src=x> | *bold*)\n````\n\n</details>\n"; !strings.Contains(out, want) {
		t.Errorf("markdown lacks %q: the fence must be longer than the backticks inside it:\n%s", want, out)
	}
	for _, want := range []string{
		"- ! cluster c2 (joined): unreachable: \\<script\\>alert(1)\\</script\\> \\| \\`x\\`\n",
		"- ! 1. not a list\n",
		"- ! - nor this\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	if got := inline("1. a"); got != `1\. a` {
		t.Errorf("inline(%q) = %q", "1. a", got)
	}
	if got := inline("- a"); got != `\- a` {
		t.Errorf("inline(%q) = %q", "- a", got)
	}
}

func TestMarkdownReportsWriteErrors(t *testing.T) {
	if err := Markdown(&failingWriter{}, fullPlan(), MarkdownOptions{}); err == nil {
		t.Fatal("Markdown succeeded on a failing writer")
	}
}
