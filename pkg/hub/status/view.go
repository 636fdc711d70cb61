package status

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/internal/textout"
)

// JSON writes the status in its stable JSON schema (APIVersion).
func JSON(w io.Writer, s *Status) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding status: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// YAML writes the same document as JSON, as YAML.
func YAML(w io.Writer, s *Status) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encoding status: %w", err)
	}
	y, err := yaml.JSONToYAML(b)
	if err != nil {
		return fmt.Errorf("encoding status: %w", err)
	}
	_, err = w.Write(y)
	return err
}

// TextOptions tune the human form.
type TextOptions struct {
	// Color adds ANSI colours (on a TTY, unless NO_COLOR is set).
	Color bool
	// Stamp starts the output with when the hub was read, so that the
	// blocks --watch prints one after the other can be told apart.
	Stamp bool
}

// Text writes, per Topology, a header (mode, paused, when it was last
// planned and applied), its conditions, the last plan, its members by
// region, its placements and a summary line, in the style of status's own
// text. Ages are relative to when the hub was read. Marks: "!" needs a
// look, "~" drifted.
func Text(w io.Writer, s *Status, o TextOptions) error {
	p := &printer{Printer: textout.Printer{W: w, Color: o.Color}, now: s.ObservedAt}
	if o.Stamp {
		p.Line(0, "", p.Bold(fmt.Sprintf("Status of hub %s, namespace %s, at %s", s.Hub, s.Namespace, s.ObservedAt.UTC().Format(time.RFC3339))))
	}
	for i, t := range s.Topologies {
		if i > 0 {
			p.Blank()
		}
		p.topology(t)
	}
	return p.Err
}

type printer struct {
	textout.Printer
	now time.Time
}

func (p *printer) topology(t Topology) {
	head := []string{p.Bold("Topology " + t.Namespace + "/" + t.Name), "mode " + t.Mode}
	if t.Paused {
		head = append(head, "paused")
	}
	if t.LastPlanTime != nil {
		head = append(head, "planned "+p.ago(*t.LastPlanTime))
	}
	if t.LastApplyTime != nil {
		head = append(head, "applied "+p.ago(*t.LastApplyTime))
	}
	p.Line(0, "", strings.Join(head, " · "))

	if !t.Reconciled {
		p.Line(1, p.Sym("!"), "no status yet: the controller has not reconciled this Topology (is geofed-controller running in namespace "+t.Namespace+"?)")
	}
	if t.Stale {
		p.Line(1, p.Sym("!"), fmt.Sprintf("status is stale: it describes generation %d, the spec is at generation %d; the controller has not reconciled the change yet", t.ObservedGeneration, t.Generation))
	}
	for _, typ := range order {
		if c := find(t.Conditions, typ); c != nil {
			p.condition(*c)
		} else if t.Reconciled && slices.Contains(required, typ) {
			p.Line(1, p.Sym("!"), typ+": not reported")
		}
	}
	for _, c := range t.Conditions {
		if !slices.Contains(order, c.Type) {
			p.condition(c)
		}
	}
	if lp := t.LastPlan; lp != nil {
		line := fmt.Sprintf("Last plan: %d objects to create, %d to change, %d to delete", lp.ObjectsToCreate, lp.ObjectsToChange, lp.ObjectsToDelete)
		if lp.Unreachable > 0 {
			line += " · " + count(lp.Unreachable, "cluster") + " unreachable"
		}
		if lp.Errors > 0 {
			line += " · " + count(lp.Errors, "error")
		}
		p.Line(1, " ", line)
		for _, wn := range lp.Warnings {
			p.Line(3, p.Sym("!"), "warning: "+wn)
		}
	}

	for _, r := range t.Regions {
		p.Blank()
		p.Line(0, "", p.Bold("Region "+r.Name))
		for _, c := range r.Clusters {
			p.cluster(c, t.Failover)
		}
	}

	if len(t.Placements) > 0 {
		p.Blank()
		p.Line(0, "", p.Bold("Placements"))
		rank := clusterOrder(t.Regions)
		for _, pl := range t.Placements {
			p.Line(1, " ", pl.Workload+": "+shares(pl.Replicas, rank))
		}
	}
	p.Blank()
	p.Line(0, "", p.Bold(summaryLine(t)))
}

// condition prints "Ready: False (ApplyFailed) for 3m: message", marked
// when it is not as it should be or is of an older generation.
func (p *printer) condition(c Condition) {
	mark := " "
	if !c.good() || c.Stale {
		mark = "!"
	}
	text := fmt.Sprintf("%s: %s (%s) for %s", c.Type, c.Status, c.Reason, p.age(c.LastTransitionTime))
	if c.Stale {
		text += fmt.Sprintf(", as of generation %d", c.ObservedGeneration)
	}
	if c.Message != "" {
		text += ": " + c.Message
	}
	p.lines(1, p.Sym(mark), text)
}

// lines prints text at indent, the lines after the first of a multi-line
// text (a list of spec errors) indented below it.
func (p *printer) lines(indent int, mark, text string) {
	first, rest, _ := strings.Cut(text, "\n")
	p.Line(indent, mark, first)
	if rest != "" {
		for _, l := range strings.Split(rest, "\n") {
			p.Line(indent+2, " ", l)
		}
	}
}

func (p *printer) cluster(c Cluster, f Failover) {
	head := "cluster " + c.Name
	if !c.Reported {
		p.Line(1, p.Sym("!"), head+": not in the status yet")
		return
	}
	var figures []string
	switch {
	case !c.Reachable && c.UnreachableSince != nil:
		figures = append(figures, "UNREACHABLE since "+p.when(*c.UnreachableSince))
	case !c.Reachable:
		figures = append(figures, "UNREACHABLE")
	case c.ReachableSince != nil:
		figures = append(figures, "reachable since "+p.when(*c.ReachableSince))
	default:
		figures = append(figures, "reachable")
	}
	switch {
	case c.FailoverAt != nil:
		figures = append(figures, "its share moves to the others at "+p.when(*c.FailoverAt))
	case c.RestoreAt != nil:
		figures = append(figures, "excluded by failover until "+p.when(*c.RestoreAt))
	case c.Excluded:
		figures = append(figures, "excluded by failover until it has been reachable for "+human(f.RestoreAfter))
	}
	// An unreachable member was not planned: its counts say nothing.
	if c.Reachable {
		figures = append(figures, fmt.Sprintf("%d in sync, %d drifted, %d failed", c.InSync, c.Drifted, c.Failed))
	}
	if a := c.Apply; a != nil {
		figures = append(figures, fmt.Sprintf("applied %d, pruned %d", a.Applied, a.Pruned))
		if a.Ready {
			figures = append(figures, "ready")
		} else {
			figures = append(figures, "not ready")
		}
	}
	mark := clusterMark(c)
	p.Line(1, p.Sym(mark), head+": "+strings.Join(figures, " · "))
	if c.Message != "" {
		p.lines(3, p.Sym(mark), c.Message)
	}
}

// clusterMark is "!" when a member needs a look, "~" when only drift
// does.
func clusterMark(c Cluster) string {
	switch {
	case !c.Reachable || c.Excluded || c.Failed > 0 || (c.Apply != nil && !c.Apply.Ready):
		return "!"
	case c.Drifted > 0:
		return "~"
	}
	return " "
}

// when is "2026-03-01T12:28:00Z (2m ago)", or "(in 30s)" ahead of now.
func (p *printer) when(t time.Time) string {
	return t.UTC().Format(time.RFC3339) + " (" + p.ago(t) + ")"
}

// ago is "2m ago", or "in 30s" for a time after now.
func (p *printer) ago(t time.Time) string {
	if d := t.Sub(p.now); d > 0 {
		return "in " + duration.HumanDuration(d)
	}
	return p.age(t) + " ago"
}

func (p *printer) age(t time.Time) string {
	return duration.HumanDuration(max(p.now.Sub(t), 0))
}

// human is a Go duration as kubectl prints ages ("2m0s" is "2m").
func human(d string) string {
	if v, err := time.ParseDuration(d); err == nil {
		return duration.HumanDuration(v)
	}
	return d
}

// clusterOrder ranks the members as the regions list them.
func clusterOrder(regions []Region) map[string]int {
	rank := map[string]int{}
	for _, r := range regions {
		for _, c := range r.Clusters {
			rank[c.Name] = len(rank)
		}
	}
	return rank
}

// shares is "m1 2, m2 2", in the members' order (others by name).
func shares(replicas map[string]int32, rank map[string]int) string {
	if replicas == nil {
		return "no replicas policy"
	}
	names := make([]string, 0, len(replicas))
	for name := range replicas {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		ra, oka := rank[a]
		rb, okb := rank[b]
		switch {
		case oka && okb:
			return ra - rb
		case oka != okb:
			if oka {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = fmt.Sprintf("%s %d", name, replicas[name])
	}
	return strings.Join(parts, ", ")
}

// summaryLine is "fleet: 2 clusters reachable, 1 unreachable, 1 excluded
// by failover · 8 objects in sync, 1 drifted, 0 failed · ready and
// synced."
func summaryLine(t Topology) string {
	m := t.Summary
	clusters := count(m.Reachable, "cluster") + " reachable"
	if m.Unreachable > 0 {
		clusters += fmt.Sprintf(", %d unreachable", m.Unreachable)
	}
	if m.Excluded > 0 {
		clusters += fmt.Sprintf(", %d excluded by failover", m.Excluded)
	}
	if n := m.Clusters - m.Reachable - m.Unreachable; n > 0 {
		clusters += fmt.Sprintf(", %d not reported", n)
	}
	objects := fmt.Sprintf("%s in sync, %d drifted, %d failed", count(m.InSync, "object"), m.Drifted, m.Failed)
	verdict := "ready and synced"
	if !t.OK {
		verdict = "NOT ready and synced"
	}
	return "Status of " + t.Name + ": " + strings.Join([]string{clusters, objects, verdict}, " · ") + "."
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
