package view

import (
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// MarkdownOptions tune the markdown form.
type MarkdownOptions struct {
	// Diff adds every changed object's unified diff, collapsed.
	Diff bool
	// Verbose also lists unchanged objects.
	Verbose bool
}

// Markdown writes the plan as GitHub-flavoured markdown for a pull-request
// comment: the summary line first, then per region a table of its clusters
// and each cluster's changes in a collapsed block, then the placement
// explanations and the warnings. It shows what the text view shows, no
// more: Secret values stay as redacted as the plan holds them.
func Markdown(w io.Writer, p *plan.Plan, o MarkdownOptions) error {
	var m md
	title := "kubectl geofed plan"
	if p.Topology != "" {
		title += ": " + p.Topology
	}
	m.block("### " + inline(title))
	m.block("**" + inline(summaryLine(p.Summary)) + "**")

	shares := sharesByCluster(p)
	known := map[string]bool{}
	for _, r := range p.Regions {
		known[r.Name] = true
		m.block("#### Region " + inline(r.Name))
		m.clusterTable(r.Clusters, shares)
		var orphans []string
		for _, orphan := range p.Orphans {
			if orphan.Region == r.Name {
				orphans = append(orphans, orphanLine(orphan))
			}
		}
		m.list("!", orphans)
		for _, c := range r.Clusters {
			m.cluster(c, o)
		}
	}
	// Orphans in regions the topology no longer has arrive sorted by region
	// (gke.SortChanges): one heading each.
	var orphans []string
	current := ""
	for _, orphan := range p.Orphans {
		if known[orphan.Region] {
			continue
		}
		if orphan.Region != current {
			m.list("!", orphans)
			orphans = nil
			m.block("#### Region " + inline(orphan.Region))
			current = orphan.Region
		}
		orphans = append(orphans, orphanLine(orphan))
	}
	m.list("!", orphans)

	if len(p.Placements) > 0 {
		m.block("#### Placement")
		for _, pl := range p.Placements {
			m.block("**" + inline(pl.Workload) + "** (" + inline(pl.Mode) + ")")
			m.list("", pl.Explanation)
		}
	}
	if len(p.Warnings) > 0 {
		m.block("#### Warnings")
		m.list("!", p.Warnings)
	}
	_, err := io.WriteString(w, strings.TrimRight(m.String(), "\n")+"\n")
	return err
}

// md builds the document out of blocks, each followed by a blank line, so
// GitHub never reads a block as the continuation of the one before.
type md struct{ strings.Builder }

func (m *md) block(lines ...string) {
	for _, l := range lines {
		m.WriteString(l + "\n")
	}
	m.WriteString("\n")
}

// list writes a bullet list, each item after symbol when there is one.
func (m *md) list(symbol string, items []string) {
	if len(items) == 0 {
		return
	}
	var lines []string
	for _, it := range items {
		if symbol != "" {
			it = symbol + " " + it
		}
		lines = append(lines, "- "+inline(it))
	}
	m.block(lines...)
}

// clusterTable is a region's clusters at a glance: how each is reached, its
// objects counted by symbol, what happens to it in GKE and what each
// workload places on it.
func (m *md) clusterTable(clusters []plan.Cluster, shares map[string][]string) {
	lines := []string{
		"|   | cluster | mode | + | ~ | - | ! | GKE | replicas |",
		"|:-:|---------|------|--:|--:|--:|--:|-----|----------|",
	}
	for _, c := range clusters {
		mode := "joined"
		if c.GKE != nil {
			mode = fmt.Sprintf("managed, GKE %s/%s", c.GKE.Project, c.GKE.Location)
		}
		if c.ServerVersion != "" {
			mode += ", " + c.ServerVersion
		}
		symbol := clusterSymbol(c)
		// An unreachable cluster's objects are unknown, not zero.
		counts := []string{"?", "?", "?", "?"}
		if c.Unreachable != "" {
			symbol = "!"
		} else {
			n := map[string]int{}
			for _, o := range c.Objects {
				n[o.Action.Symbol()]++
			}
			for i, s := range []string{"+", "~", "-", "!"} {
				counts[i] = strconv.Itoa(n[s])
			}
		}
		gkeCell := "—"
		if c.GKE != nil {
			gkeCell = gkeAction(c.GKE.Action)
			if gkeCell == "" {
				gkeCell = "no change"
			}
		}
		replicas := "—"
		if s := shares[c.Name]; len(s) > 0 {
			replicas = strings.Join(s, ", ")
		}
		cells := append([]string{symbol, c.Name, mode}, counts...)
		cells = append(cells, gkeCell, replicas)
		for i, cell := range cells {
			cells[i] = inline(cell)
		}
		lines = append(lines, "| "+strings.Join(cells, " | ")+" |")
	}
	m.block(lines...)
}

// sharesByCluster says, per cluster, what each workload places on it:
// "trainer 3", "api as rendered", "trainer excluded".
func sharesByCluster(p *plan.Plan) map[string][]string {
	out := map[string][]string{}
	for _, pl := range p.Placements {
		for _, s := range pl.Shares {
			what := "as rendered"
			switch {
			case s.Excluded != "":
				what = "excluded"
			case s.Replicas != nil:
				what = strconv.Itoa(int(*s.Replicas))
			}
			out[s.Cluster] = append(out[s.Cluster], pl.Workload+" "+what)
		}
	}
	return out
}

// cluster writes why a cluster could not be planned, in full, and its
// changes in a collapsed block when it has any.
func (m *md) cluster(c plan.Cluster, o MarkdownOptions) {
	if c.Unreachable != "" {
		m.list("!", []string{clusterHead(c)})
		return
	}
	if c.Error != "" {
		// It names the cluster: "planning cluster flaky-eu: …".
		m.list("!", []string{c.Error})
	}
	lines := changeLines(c, false, o.Verbose)
	shown := false
	for _, l := range lines {
		// The count of unchanged objects, or "(no objects)", alone says
		// nothing the table does not.
		shown = shown || l.symbol != " "
	}
	if !shown {
		return
	}
	var b strings.Builder
	for _, l := range lines {
		// The symbol leads the line, so GitHub colours + and - lines.
		fmt.Fprintf(&b, "%-3s %s%s\n", l.symbol, strings.Repeat("    ", l.depth), l.text)
	}
	m.block("<details><summary>" + html.EscapeString(clusterSymbol(c)+" "+clusterHead(c)) + "</summary>")
	m.code("diff", b.String())
	if o.Diff {
		for _, obj := range c.Objects {
			if obj.Diff == "" || (obj.Action != object.ActionUpdate && obj.Action != object.ActionConflict) {
				continue
			}
			m.block("<details><summary>diff of " + html.EscapeString(obj.String()) + "</summary>")
			m.code("diff", obj.Diff)
			m.block("</details>")
		}
	}
	m.block("</details>")
}

// code fences text with more backticks than any run inside it, so nothing
// in it can end the block early.
func (m *md) code(lang, text string) {
	longest, run := 0, 0
	for _, r := range text {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", max(3, longest+1))
	m.block(fence+lang, strings.TrimRight(text, "\n"), fence)
}

// inline escapes text for a paragraph, a list item or a table cell: what
// GitHub would read as emphasis, code, a link, HTML, an entity, the end of
// a cell or strikethrough, and a first character that would start a block
// (a heading, a list, a quote). Newlines become spaces.
func inline(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '~', '&':
			b.WriteByte('\\')
		case '#', '+', '-', '=':
			if i == 0 {
				b.WriteByte('\\')
			}
		case '.', ')':
			// "1. x" would start an ordered list.
			if i > 0 && strings.Trim(s[:i], "0123456789") == "" {
				b.WriteByte('\\')
			}
		case '\n':
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}
