// Package view renders Plans for people (terraform-style text, optionally
// coloured and with full diffs; markdown for a pull-request comment) and
// for machines (the versioned JSON the saved plan also uses). Computing a
// plan and showing it are separate: the same Plan value is printed, saved
// and applied.
package view

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/geofed-io/kubectl-geofed/internal/textout"

	"github.com/geofed-io/kubectl-geofed/pkg/cost"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// JSON writes the plan in its stable JSON schema (plan.FormatVersion).
func JSON(w io.Writer, p *plan.Plan) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding plan: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// TextOptions tune the human form.
type TextOptions struct {
	// Color adds ANSI colours (on a TTY, unless NO_COLOR is set).
	Color bool
	// Diff prints every changed object's unified diff.
	Diff bool
	// Verbose also lists unchanged objects.
	Verbose bool
}

// Text writes the plan grouped by region then cluster, with terraform's
// symbols, a placement section and a summary line.
func Text(w io.Writer, p *plan.Plan, o TextOptions) error {
	pr := &printer{textout.Printer{W: w, Color: o.Color}}
	for _, r := range p.Regions {
		pr.Line(0, "", pr.Bold("Region "+r.Name))
		for _, c := range r.Clusters {
			pr.cluster(c, o)
		}
		for _, orphan := range p.Orphans {
			if orphan.Region == r.Name {
				pr.orphan(orphan)
			}
		}
		pr.Blank()
	}
	// Orphans in regions the topology no longer has.
	known := map[string]bool{}
	for _, r := range p.Regions {
		known[r.Name] = true
	}
	// They arrive sorted by region (gke.SortChanges): one heading each.
	current := ""
	for _, orphan := range p.Orphans {
		if known[orphan.Region] {
			continue
		}
		if orphan.Region != current {
			if current != "" {
				pr.Blank()
			}
			pr.Line(0, "", pr.Bold("Region "+orphan.Region))
			current = orphan.Region
		}
		pr.orphan(orphan)
	}
	if current != "" {
		pr.Blank()
	}

	if len(p.Placements) > 0 {
		pr.Line(0, "", pr.Bold("Placement"))
		for _, pl := range p.Placements {
			pr.Line(1, "", pl.Workload+" ("+pl.Mode+")")
			for _, e := range pl.Explanation {
				pr.Line(2, "", e)
			}
		}
		pr.Blank()
	}
	if len(p.Prices) > 0 {
		pr.Line(0, "", pr.Bold("Prices"))
		pr.Line(1, "", cost.Origins(p.Prices))
		pr.Blank()
	}
	if len(p.Warnings) > 0 {
		pr.Line(0, "", pr.Bold("Warnings"))
		for _, wn := range p.Warnings {
			pr.Line(1, pr.Sym("!"), wn)
		}
		pr.Blank()
	}
	pr.Line(0, "", pr.Bold(summaryLine(p.Summary)))
	return pr.Err
}

// summaryLine is the plan's last line in text, its first in markdown.
func summaryLine(s plan.Summary) string {
	summary := fmt.Sprintf("Plan: %d clusters to create, %d to change · %d objects to create, %d to change, %d to delete.",
		s.ClustersToCreate, s.ClustersToChange, s.ObjectsToCreate, s.ObjectsToChange, s.ObjectsToDelete)
	var extra []string
	if s.Conflicts > 0 {
		extra = append(extra, fmt.Sprintf("%d of the changes conflict with another field manager (apply --force-conflicts)", s.Conflicts))
	}
	if s.Attention > 0 {
		extra = append(extra, fmt.Sprintf("%d need attention", s.Attention))
	}
	if s.Unreachable > 0 {
		extra = append(extra, fmt.Sprintf("%d clusters unreachable", s.Unreachable))
	}
	if s.Errors > 0 {
		extra = append(extra, fmt.Sprintf("%d errors", s.Errors))
	}
	if s.Guarded > 0 {
		noun := "clusters"
		if s.Guarded == 1 {
			noun = "cluster"
		}
		extra = append(extra, fmt.Sprintf("%d %s held by the prune guard (apply deletes nothing there without --allow-prune)", s.Guarded, noun))
	}
	if len(extra) > 0 {
		summary += " " + strings.Join(extra, ", ") + "."
	}
	if !s.HasChanges() && len(extra) == 0 {
		summary = "No changes. The clusters match the topology. " + summary
	}
	return summary
}

// printer is the shared line printer with this view's methods.
type printer struct {
	textout.Printer
}

func (p *printer) cluster(c plan.Cluster, o TextOptions) {
	head := clusterHead(c)
	if c.Unreachable != "" {
		p.Line(1, p.Sym("!"), head)
		return
	}
	p.Line(1, p.Sym(clusterSymbol(c)), head)
	if c.Error != "" {
		p.Line(3, p.Sym("!"), c.Error)
	}
	if c.PruneGuard != nil {
		p.Line(3, p.Sym("!"), plan.GuardLine(c.Name, c.PruneGuard))
	}
	for _, l := range changeLines(c, lineOptions{diff: o.Diff, verbose: o.Verbose, descriptions: o.Diff}) {
		text := l.text
		if l.diff {
			text = p.diffLine(text)
		}
		p.Line(3+2*l.depth, p.Sym(l.symbol), text)
	}
}

// clusterHead names a cluster and how it is reached, with what happens to
// it: "cluster training-us (GKE acme-ml/us-west1, v1.33.2): update in place".
func clusterHead(c plan.Cluster) string {
	head := "cluster " + c.Name
	switch {
	case c.GKE != nil:
		head += fmt.Sprintf(" (GKE %s/%s", c.GKE.Project, c.GKE.Location)
	default:
		head += " (joined"
	}
	if c.ServerVersion != "" {
		head += ", " + c.ServerVersion
	}
	head += ")"
	switch {
	case c.Unreachable != "":
		head += ": unreachable: " + c.Unreachable
	case c.GKE != nil:
		if a := gkeAction(c.GKE.Action); a != "" {
			head += ": " + a
		}
	}
	return head
}

// gkeAction says what apply does to a GKE cluster, "" for nothing.
func gkeAction(a object.Action) string {
	switch a {
	case object.ActionCreate:
		return "create"
	case object.ActionUpdate:
		return "update in place"
	case object.ActionAttention:
		return "needs attention"
	}
	return ""
}

// change is one line under a cluster, as the text and markdown views list
// it: at depth 0 the GKE reasons, fields and node pools, the objects and
// the count of the unchanged; at depth 1 an object's field changes or,
// when diff is set, a line of its unified diff.
type change struct {
	depth  int
	symbol string
	text   string
	diff   bool
}

// lineOptions tune changeLines.
type lineOptions struct {
	// diff puts an object's unified diff in place of its field changes.
	diff bool
	// verbose lists unchanged objects instead of counting them.
	verbose bool
	// descriptions lists the changes of a CRD's schema descriptions
	// instead of counting them.
	descriptions bool
}

// changeLines lists a cluster's changes, its Error apart.
func changeLines(c plan.Cluster, lo lineOptions) []change {
	withDiff, verbose := lo.diff, lo.verbose
	var out []change
	add := func(depth int, symbol, text string) {
		out = append(out, change{depth: depth, symbol: symbol, text: text})
	}
	if c.GKE != nil {
		for _, r := range c.GKE.Reasons {
			add(0, "!", r)
		}
		for _, f := range c.GKE.Fields {
			if c.GKE.Action == object.ActionCreate {
				continue
			}
			add(0, "~", fmt.Sprintf("%s: %s → %s", f.Path, f.Before, f.After))
		}
		for _, np := range c.GKE.NodePools {
			if np.Action == object.ActionNoop {
				continue
			}
			name := "node pool " + np.Name
			if np.Pool != "" {
				name += " (" + np.Pool + " in GKE)"
			}
			add(0, np.Symbol(), name+": "+poolSummary(np))
		}
	}
	if c.Cost != nil && len(c.Cost.Pools) > 0 {
		for _, pool := range c.Cost.Pools {
			add(0, "$", pool.Line())
		}
		add(0, "$", c.Cost.Line())
	}
	unchanged := 0
	for _, obj := range c.Objects {
		if obj.Action == object.ActionNoop {
			unchanged++
			if !verbose {
				continue
			}
		}
		add(0, obj.Action.Symbol(), objectLine(obj))
		if !obj.Action.IsChange() {
			continue
		}
		if withDiff && obj.Diff != "" {
			for _, l := range strings.Split(strings.TrimRight(obj.Diff, "\n"), "\n") {
				out = append(out, change{depth: 1, text: l, diff: true})
			}
			continue
		}
		descriptions := 0
		for _, f := range obj.Changes {
			switch {
			case !lo.descriptions && isSchemaDescription(obj, f.Path):
				// An operator upgrade rewrites thousands of them.
				descriptions++
			case f.Before == "":
				add(1, "+", fmt.Sprintf("%s: %s", f.Path, f.After))
			case f.After == "":
				add(1, "-", fmt.Sprintf("%s: %s", f.Path, f.Before))
			default:
				add(1, "~", fmt.Sprintf("%s: %s → %s", f.Path, f.Before, f.After))
			}
		}
		if descriptions > 0 {
			add(1, " ", fmt.Sprintf("(%d schema description changes not shown; --diff shows them)", descriptions))
		}
	}
	if unchanged > 0 && !verbose {
		noun := "objects"
		if unchanged == 1 {
			noun = "object"
		}
		add(0, " ", fmt.Sprintf("(%d %s unchanged)", unchanged, noun))
	}
	if len(c.Objects) == 0 && c.Error == "" {
		add(0, " ", "(no objects)")
	}
	return out
}

// isSchemaDescription reports whether path is the description of a field in
// a CustomResourceDefinition's schema: a leaf named description that is not
// itself a property of the schema (properties.description.type is one).
func isSchemaDescription(o plan.Object, path string) bool {
	if o.Kind != "CustomResourceDefinition" || o.Group != "apiextensions.k8s.io" || !strings.Contains(path, "openAPIV3Schema") {
		return false
	}
	rest, ok := strings.CutSuffix(path, ".description")
	return ok && !strings.HasSuffix(rest, ".properties")
}

// objectLine names an object with why it is listed.
func objectLine(o plan.Object) string {
	text := o.String()
	switch {
	case o.Reason != "" && o.Action.NeedsAttention():
		// What a person has to act on reads as a sentence:
		// "! Namespace ml: kept — holds 2 objects geofed did not apply: …".
		text += ": " + o.Reason
	case o.Reason != "" && o.Action != object.ActionCreate:
		text += " (" + o.Reason + ")"
	}
	return text
}

func clusterSymbol(c plan.Cluster) string {
	if c.GKE != nil && c.GKE.Action != object.ActionNoop {
		return c.GKE.Symbol()
	}
	attention := false
	for _, o := range c.Objects {
		if o.Action.IsProblem() {
			attention = true
			continue
		}
		if o.Action != object.ActionNoop {
			return "~"
		}
	}
	if c.Error != "" || attention {
		return "!"
	}
	return " "
}

// poolSummary renders a node pool change on one line: every field for a
// create or delete, before → after for the rest, then what apply does to
// the nodes when that is more than a GKE operation: "(nodes recreated)"
// after the fields GKE changes by recreating the nodes, and the steps of a
// replacement. (A pool to delete is drained first too; its "-" says it.)
func poolSummary(np gke.NodePoolChange) string {
	var parts []string
	for i, f := range np.Fields {
		var s string
		switch {
		case f.Before == "" && f.After != "":
			s = f.Path + " " + f.After
		case f.After == "" && f.Before != "":
			s = f.Path + " " + f.Before
		default:
			s = fmt.Sprintf("%s %s → %s", f.Path, f.Before, f.After)
		}
		switch {
		case f.Replace:
			s += " (forces replacement)"
		case f.RecreatesNodes && (i+1 == len(np.Fields) || !np.Fields[i+1].RecreatesNodes):
			// Once after a run of such fields: it is one recreation.
			s += " (nodes recreated)"
		}
		parts = append(parts, s)
	}
	out := strings.Join(parts, ", ")
	var steps string
	switch r := np.Replacement; {
	case r != nil && r.Exists:
		steps = fmt.Sprintf("%s exists: wait for its nodes, drain and delete %s", r.Pool, strings.Join(r.Old, ", "))
	case r != nil:
		steps = fmt.Sprintf("create %s, wait for its nodes, drain and delete %s", r.Pool, strings.Join(r.Old, ", "))
	}
	switch {
	case steps == "":
		return out
	case out == "":
		return steps
	}
	return out + "; " + steps
}

func (p *printer) orphan(ch gke.ClusterChange) { p.Line(1, p.Sym("!"), orphanLine(ch)) }

// orphanLine is a managed GKE cluster no longer in the topology, and why
// it is listed.
func orphanLine(ch gke.ClusterChange) string {
	return fmt.Sprintf("cluster %s (GKE %s/%s): %s", ch.Cluster, ch.Project, ch.Location, strings.Join(ch.Reasons, "; "))
}

func (p *printer) diffLine(l string) string {
	switch {
	case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
		return p.Bold(l)
	case strings.HasPrefix(l, "+"):
		return p.Paint(textout.Green, l)
	case strings.HasPrefix(l, "-"):
		return p.Paint(textout.Red, l)
	case strings.HasPrefix(l, "@@"):
		return p.Paint(textout.Cyan, l)
	}
	return l
}
