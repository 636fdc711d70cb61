package view

import (
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/geofed-io/kubectl-geofed/pkg/cost"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// MarkdownOptions tune the markdown form.
type MarkdownOptions struct {
	// Diff adds every changed object's unified diff, collapsed, and the
	// CRD description changes the other views count.
	Diff bool
	// Verbose also lists unchanged objects.
	Verbose bool
	// MaxBytes bounds the document (0: no bound; else at least
	// MinMarkdownBytes). A pull-request comment holds 65,536 characters
	// on GitHub, so a large change is shortened to fit: see Markdown.
	MaxBytes int
	// FullPlan names the file the whole plan was saved to (plan --out),
	// for the line that says what a shortened document left out.
	FullPlan string
}

// DefaultMarkdownBytes is plan --max-bytes' default: under GitHub's 65,536
// characters for a comment, with room for what a CI step puts around it.
const DefaultMarkdownBytes = 60000

// MinMarkdownBytes is the least MaxBytes: the title, the summary and the
// line that says what was left out always fit.
const MinMarkdownBytes = 2000

// maxLineBytes clips one line of a cluster's changes or of an object's
// diff (a ConfigMap's data can be a whole file on one line), so one line
// cannot crowd out every other.
const maxLineBytes = 1000

// Markdown writes the plan as GitHub-flavoured markdown for a pull-request
// comment: the summary line first, then per region a table of its clusters
// and each cluster's changes in a collapsed block, then the placement
// explanations and the warnings. It shows what the text view shows, no
// more: Secret values stay as redacted as the plan holds them.
//
// With MaxBytes, what does not fit is left out in this order of keeping:
// the title and the summary always; then what a person must act on (a
// cluster unreachable, failed or held back, clusters no longer in the
// topology, the warnings); then the regions' tables and the placement;
// then each cluster's changes; last the objects' diffs. A part that does
// not fit whole is shortened to the lines that fit and says how many more
// there are, and a line under the summary says what was left out and
// where the full plan is.
func Markdown(w io.Writer, p *plan.Plan, o MarkdownOptions) error {
	if o.MaxBytes != 0 && o.MaxBytes < MinMarkdownBytes {
		return fmt.Errorf("markdown limited to %d bytes: it needs at least %d", o.MaxBytes, MinMarkdownBytes)
	}
	m := &md{parent: -1}
	title := "kubectl geofed plan"
	if p.Topology != "" {
		title += ": " + p.Topology
	}
	m.rank = rankSummary
	m.heading("### " + inline(title))
	m.heading("**" + inline(summaryLine(p.Summary)) + "**")
	note := m.mark()

	shares := sharesByCluster(p)
	known := map[string]bool{}
	for _, r := range p.Regions {
		known[r.Name] = true
		m.rank = rankAttention
		m.heading("#### Region " + inline(r.Name))
		m.rank = rankOverview
		m.noun = nounTables
		m.clusterTable(r.Clusters, shares)
		var orphans []string
		for _, orphan := range p.Orphans {
			if orphan.Region == r.Name {
				orphans = append(orphans, orphanLine(orphan))
			}
		}
		m.rank, m.noun = rankAttention, nounOrphans
		m.list("!", orphans)
		for _, c := range r.Clusters {
			m.cluster(c, o)
		}
	}
	// Orphans in regions the topology no longer has arrive sorted by region
	// (gke.SortChanges): one heading each.
	m.rank, m.noun = rankAttention, nounOrphans
	var orphans []string
	current := ""
	for _, orphan := range p.Orphans {
		if known[orphan.Region] {
			continue
		}
		if orphan.Region != current {
			m.list("!", orphans)
			orphans = nil
			m.heading("#### Region " + inline(orphan.Region))
			current = orphan.Region
		}
		orphans = append(orphans, orphanLine(orphan))
	}
	m.list("!", orphans)

	if len(p.Placements) > 0 {
		m.rank, m.noun = rankOverview, nounPlacement
		m.heading("#### Placement")
		for _, pl := range p.Placements {
			m.block("**" + inline(pl.Workload) + "** (" + inline(pl.Mode) + ")")
			m.list("", pl.Explanation)
		}
	}
	if len(p.Prices) > 0 {
		m.rank, m.noun = rankOverview, nounPlacement
		m.block("Prices: " + inline(cost.Origins(p.Prices)))
	}
	if len(p.Warnings) > 0 {
		m.rank, m.noun = rankAttention, nounWarnings
		m.heading("#### Warnings")
		m.list("!", p.Warnings)
	}
	doc, err := m.document(o, note)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, doc)
	return err
}

// rank orders the parts of the document by what is kept first when it must
// be shortened (see Markdown).
type rank int

const (
	rankSummary rank = iota
	rankAttention
	rankOverview
	rankChanges
	rankDiffs
)

// part is one block of the document: open, then lines that may be cut
// short (a code block's when fence is set, else markdown lines), then the
// parts inside it, then close.
type part struct {
	rank   rank
	parent int // the part this one sits in, -1 for none: shown only with it
	open   string
	lines  []string
	fence  string // "```diff", say; its closing fence is the backticks alone
	close  string
	// cut says the part may be shown with some of its lines, the rest
	// counted on a last line (more says how); else all or nothing.
	cut  bool
	more func(left int) string
	// noun names what a line stands for in the note ("lines of changes",
	// "warnings"); "" for a heading, which is not counted.
	noun string
}

// size is how many bytes the part takes with n of its lines.
func (p *part) size(n int) int {
	s := len(p.open) + len(p.close)
	if len(p.lines) == 0 {
		return s
	}
	if p.fence != "" {
		s += len(p.fence) + 1 + len(strings.TrimRight(p.fence, "abcdefghijklmnopqrstuvwxyz")) + 1
	}
	for _, l := range p.lines[:n] {
		s += len(l) + 1
	}
	if n < len(p.lines) {
		s += len(p.more(len(p.lines)-n)) + 1
	}
	return s + 1 // the blank line after the block
}

// write writes the part with n of its lines, not its close.
func (p *part) write(b *strings.Builder, n int) {
	b.WriteString(p.open)
	if len(p.lines) == 0 {
		return
	}
	if p.fence != "" {
		b.WriteString(p.fence + "\n")
	}
	for _, l := range p.lines[:n] {
		b.WriteString(l + "\n")
	}
	if n < len(p.lines) {
		b.WriteString(p.more(len(p.lines)-n) + "\n")
	}
	if p.fence != "" {
		b.WriteString(strings.TrimRight(p.fence, "abcdefghijklmnopqrstuvwxyz") + "\n")
	}
	b.WriteString("\n")
}

// md builds the document out of parts, each followed by a blank line, so
// GitHub never reads a block as the continuation of the one before. rank,
// parent and noun are given to the parts added next.
type md struct {
	parts  []part
	rank   rank
	parent int
	noun   string
}

// mark is the index the next part will have.
func (m *md) mark() int { return len(m.parts) }

func (m *md) add(p part) int {
	p.rank, p.parent = m.rank, m.parent
	if p.noun == "" && len(p.lines) > 0 {
		p.noun = m.noun
	}
	m.parts = append(m.parts, p)
	return len(m.parts) - 1
}

// heading is a part of one line, not counted when left out.
func (m *md) heading(line string) { m.add(part{open: line + "\n\n"}) }

// block is a part of markdown lines shown whole or not at all.
func (m *md) block(lines ...string) { m.add(part{lines: lines}) }

// list writes a bullet list, each item after symbol when there is one;
// items that do not fit are counted on a last one.
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
	noun := m.noun
	m.add(part{lines: lines, cut: true, more: func(left int) string {
		return fmt.Sprintf("- … %d more %s left out", left, noun)
	}})
}

// code is a fenced code block inside a <details> of summary; its lines
// are cut when they do not fit whole.
func (m *md) code(summary, lang string, lines []string) int {
	for i, l := range lines {
		lines[i] = clip(l)
	}
	noun := m.noun
	return m.add(part{
		open:  "<details><summary>" + html.EscapeString(summary) + "</summary>\n\n",
		fence: fenceFor(lines) + lang,
		lines: lines,
		close: "</details>\n\n",
		cut:   true,
		more: func(left int) string {
			return fmt.Sprintf("    … %d more %s left out", left, noun)
		},
	})
}

// document lays out the parts within o.MaxBytes, with the line that says
// what was left out at index note.
func (m *md) document(o MarkdownOptions, note int) (string, error) {
	shown := make([]int, len(m.parts)) // lines shown; -1: the part is left out
	total := 0
	for i := range m.parts {
		shown[i] = len(m.parts[i].lines)
		total += m.parts[i].size(shown[i])
	}
	var noteText string
	if o.MaxBytes > 0 && total > o.MaxBytes {
		budget := o.MaxBytes - noteReserve(o)
		need := 0
		for i := range m.parts {
			if m.parts[i].rank == rankSummary {
				need += m.parts[i].size(len(m.parts[i].lines))
			}
		}
		if need > budget {
			return "", fmt.Errorf("markdown limited to %d bytes: the title, the summary and the line saying what is left out need %d", o.MaxBytes, need+o.MaxBytes-budget)
		}
		for i := range shown {
			shown[i] = -1
		}
		for r := rankSummary; r <= rankDiffs; r++ {
			for i := range m.parts {
				p := &m.parts[i]
				if p.rank != r || (p.parent >= 0 && shown[p.parent] < 0) {
					continue
				}
				n := len(p.lines)
				if p.size(n) > budget && p.cut {
					n = fitLines(p, budget)
				}
				if p.size(n) <= budget && (n > 0 || len(p.lines) == 0) {
					shown[i] = n
					budget -= p.size(n)
				}
			}
		}
		noteText = leftOut(m.parts, shown, o)
	}
	var b strings.Builder
	var open []int
	for i := range m.parts {
		p := &m.parts[i]
		for len(open) > 0 && open[len(open)-1] != p.parent {
			b.WriteString(m.parts[open[len(open)-1]].close)
			open = open[:len(open)-1]
		}
		if i == note && noteText != "" {
			b.WriteString(noteText)
		}
		if shown[i] < 0 {
			continue
		}
		p.write(&b, shown[i])
		open = append(open, i)
	}
	for len(open) > 0 {
		b.WriteString(m.parts[open[len(open)-1]].close)
		open = open[:len(open)-1]
	}
	if note == len(m.parts) && noteText != "" {
		b.WriteString(noteText)
	}
	return strings.TrimRight(b.String(), "\n") + "\n", nil
}

// fitLines is the most lines of p, at least 1, that fit budget.
func fitLines(p *part, budget int) int {
	lo, hi := 1, len(p.lines)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if p.size(mid) <= budget {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// What the line under the summary counts, by what a part's lines are.
const (
	nounProblems  = "clusters' problems"
	nounOrphans   = "clusters no longer in the topology"
	nounWarnings  = "warnings"
	nounTables    = "lines of cluster tables"
	nounPlacement = "lines of placement"
	nounChanges   = "lines of changes"
	nounDiffs     = "lines of object diffs"
)

// noteReserve is the most bytes the left-out line can take: every count
// there, of ten digits.
func noteReserve(o MarkdownOptions) int {
	var what []string
	for _, n := range []string{nounProblems, nounOrphans, nounWarnings, nounTables, nounPlacement, nounChanges, nounDiffs} {
		what = append(what, "9999999999 "+n)
	}
	return len(noteFor(o, strings.Join(what, ", ")))
}

// leftOut is the line that says what the shortened document left out,
// counted by noun.
func leftOut(parts []part, shown []int, o MarkdownOptions) string {
	count := map[string]int{}
	var nouns []string
	for i, p := range parts {
		if p.noun == "" || shown[i] == len(p.lines) {
			continue
		}
		if _, seen := count[p.noun]; !seen {
			nouns = append(nouns, p.noun)
		}
		count[p.noun] += len(p.lines) - max(shown[i], 0)
	}
	var what []string
	for _, n := range nouns {
		what = append(what, fmt.Sprintf("%d %s", count[n], n))
	}
	if len(what) == 0 {
		what = []string{"some headings"}
	}
	return noteFor(o, strings.Join(what, ", "))
}

func noteFor(o MarkdownOptions, what string) string {
	where := "Save the full plan with plan --out FILE, or print it all without -o markdown."
	if o.FullPlan != "" {
		where = "The full plan is in " + o.FullPlan + " (plan --out)."
	}
	return "**" + inline(fmt.Sprintf("Shortened to fit %d bytes, left out: %s.", o.MaxBytes, what)) + "** " + inline(where) + "\n\n"
}

// clip cuts a line longer than maxLineBytes, at a character boundary,
// saying how much was cut.
func clip(l string) string {
	if len(l) <= maxLineBytes {
		return l
	}
	cut := maxLineBytes
	for cut > 0 && !utf8.RuneStart(l[cut]) {
		cut--
	}
	return fmt.Sprintf("%s … (%d more bytes)", l[:cut], len(l)-cut)
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
			if c.Cost != nil && len(c.Cost.Pools) > 0 {
				gkeCell += " · " + c.Cost.Short()
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
	m.rank, m.noun = rankAttention, nounProblems
	if c.Unreachable != "" {
		m.list("!", []string{clusterHead(c)})
		return
	}
	if c.Error != "" {
		// It names the cluster: "planning cluster flaky-eu: …".
		m.list("!", []string{c.Error})
	}
	if c.PruneGuard != nil {
		m.list("!", []string{plan.GuardLine(c.Name, c.PruneGuard)})
	}
	lines := changeLines(c, lineOptions{verbose: o.Verbose, descriptions: o.Diff})
	shown := false
	for _, l := range lines {
		// The count of unchanged objects, or "(no objects)", alone says
		// nothing the table does not.
		// Nor do the prices, which the table's GKE column sums up.
		shown = shown || (l.symbol != " " && l.symbol != "$")
	}
	if !shown {
		return
	}
	var code []string
	for _, l := range lines {
		// The symbol leads the line, so GitHub colours + and - lines.
		code = append(code, strings.TrimRight(fmt.Sprintf("%-3s %s%s", l.symbol, strings.Repeat("    ", l.depth), l.text), " "))
	}
	m.rank, m.noun = rankChanges, nounChanges
	at := m.code(clusterSymbol(c)+" "+clusterHead(c), "diff", code)
	if o.Diff {
		m.rank, m.noun, m.parent = rankDiffs, nounDiffs, at
		for _, obj := range c.Objects {
			if obj.Diff == "" || !obj.Action.IsChange() {
				continue
			}
			m.code("diff of "+obj.String(), "diff", strings.Split(strings.TrimRight(obj.Diff, "\n"), "\n"))
		}
		m.parent = -1
	}
}

// fenceFor is a code fence longer than any run of backticks in lines, so
// nothing in them can end the block early.
func fenceFor(lines []string) string {
	longest := 0
	for _, l := range lines {
		run := 0
		for _, r := range l {
			if r == '`' {
				run++
				longest = max(longest, run)
			} else {
				run = 0
			}
		}
	}
	return strings.Repeat("`", max(3, longest+1))
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
