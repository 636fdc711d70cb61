// Package view prints a fleet's Status for people (text in the style of
// plan's, optionally coloured) and for machines (the versioned JSON of
// status.APIVersion, or the same as YAML). Reading the fleet and showing
// it are separate: the same Status value is printed in every form.
package view

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/geofed-io/kubectl-geofed/internal/textout"

	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/status"
)

// JSON writes the status in its stable JSON schema (status.APIVersion).
func JSON(w io.Writer, s *status.Status) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding status: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// YAML writes the same document as JSON, as YAML.
func YAML(w io.Writer, s *status.Status) error {
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
	// Stamp starts the block with when the fleet was read, so that the
	// blocks --watch prints one after the other can be told apart.
	Stamp bool
}

// notReadyShown is how many not-ready objects of a workload the text
// names; the JSON has them all.
const notReadyShown = 3

// Text writes the status grouped by region then cluster: one line per
// cluster with its figures, its drifted objects and workloads indented
// below, and a summary line. Marks: "!" needs a look (unreachable, not
// ready, an error), "~" changed outside geofed.
func Text(w io.Writer, s *status.Status, o TextOptions) error {
	p := &printer{textout.Printer{W: w, Color: o.Color}}
	if o.Stamp {
		p.Line(0, "", p.Bold(fmt.Sprintf("Status of %s at %s", s.Topology, s.ObservedAt.UTC().Format(time.RFC3339))))
	}
	for _, r := range s.Regions {
		p.Line(0, "", p.Bold("Region "+r.Name))
		for _, c := range r.Clusters {
			p.cluster(c)
		}
		p.Blank()
	}
	if len(s.Warnings) > 0 {
		p.Line(0, "", p.Bold("Warnings"))
		for _, wn := range s.Warnings {
			p.Line(1, p.Sym("!"), wn)
		}
		p.Blank()
	}
	p.Line(0, "", p.Bold(summaryLine(s.Summary)))
	return p.Err
}

// summaryLine is "Status: 3 clusters reachable, 1 unreachable · 4
// workloads ready, 1 not ready · 2 objects drifted."
func summaryLine(m status.Summary) string {
	clusters := count(m.Reachable, "cluster") + " reachable"
	if m.Unreachable > 0 {
		clusters += fmt.Sprintf(", %d unreachable", m.Unreachable)
	}
	if m.Excluded > 0 {
		clusters += fmt.Sprintf(", %d excluded from placement", m.Excluded)
	}
	workloads := count(m.WorkloadsReady, "workload") + " ready"
	if m.WorkloadsNotReady > 0 {
		workloads += fmt.Sprintf(", %d not ready", m.WorkloadsNotReady)
	}
	parts := []string{clusters, workloads, count(m.Drifted, "object") + " drifted"}
	if m.Errors > 0 {
		parts = append(parts, count(m.Errors, "error"))
	}
	return "Status: " + strings.Join(parts, " · ") + "."
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func (p *printer) cluster(c status.Cluster) {
	head := "cluster " + c.Name + " ("
	if c.GKE != nil {
		head += "GKE " + c.GKE.Project + "/" + c.GKE.Location
		if c.GKE.Status != "" {
			head += " " + c.GKE.Status
		}
	} else {
		head += "joined"
	}
	if c.ServerVersion != "" {
		head += ", " + c.ServerVersion
	}
	head += ")"
	if !c.Reachable {
		p.Line(1, p.Sym("!"), head+": unreachable: "+c.Unreachable)
		return
	}
	if c.Endpoint != "" {
		head += " at " + c.Endpoint
	}
	figures := []string{head}
	if c.Nodes != nil {
		figures = append(figures, fmt.Sprintf("nodes %d/%d Ready", c.Nodes.Ready, c.Nodes.Total))
	}
	for _, r := range c.Resources {
		figures = append(figures, fmt.Sprintf("%s %s allocatable, %s requested", r.Name, r.Allocatable, r.Requested))
	}
	if c.Drift != nil {
		figures = append(figures, fmt.Sprintf("drift %d", c.Drift.Count))
	}
	p.Line(1, p.Sym(clusterSymbol(c)), strings.Join(figures, " · "))

	if c.Excluded != "" {
		p.Line(3, p.Sym("!"), "excluded from placement: "+c.Excluded)
	}
	for _, e := range c.Errors {
		p.Line(3, p.Sym("!"), e)
	}
	if c.Drift != nil {
		for _, d := range c.Drift.Objects {
			p.Line(3, p.Sym("~"), "drifted: "+object.Name(d.Group, d.Kind, d.Namespace, d.Name)+" ("+d.Reason+")")
		}
	}
	for _, w := range c.Workloads {
		p.workload(w)
	}
	if c.Workloads != nil && len(c.Workloads) == 0 {
		p.Line(3, " ", "(no workloads)")
	}
}

func (p *printer) workload(w status.Workload) {
	text := w.Name + ": ready"
	symbol := " "
	if !w.Ready {
		text, symbol = w.Name+": not ready", "!"
	}
	if r := w.Replicas; r != nil {
		text += fmt.Sprintf(" · replicas %d desired, %d ready", r.Desired, r.Ready)
	}
	p.Line(3, p.Sym(symbol), text)
	for i, nr := range w.NotReady {
		if i == notReadyShown {
			p.Line(5, " ", fmt.Sprintf("(and %d more not ready)", len(w.NotReady)-notReadyShown))
			break
		}
		what := nr.Object + ": "
		if nr.Failed {
			what += "failed: "
		}
		p.Line(5, p.Sym("!"), what+nr.Reason)
	}
}

// clusterSymbol marks a cluster "!" when something needs a look, "~" when
// only drift does.
func clusterSymbol(c status.Cluster) string {
	if c.Excluded != "" || len(c.Errors) > 0 {
		return "!"
	}
	for _, w := range c.Workloads {
		if !w.Ready {
			return "!"
		}
	}
	if c.Drift != nil && c.Drift.Count > 0 {
		return "~"
	}
	return " "
}

// printer is the shared line printer with this view's methods.
type printer struct {
	textout.Printer
}
