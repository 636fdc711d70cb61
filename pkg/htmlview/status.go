package htmlview

import (
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/status"
)

// Status writes s as one HTML page: its regions on the map and every
// cluster with whether it can be reached, its nodes, extended resources,
// drift, and every workload's readiness and replicas.
func Status(w io.Writer, s *status.Status) error {
	pg := &page{
		Kind:         "status",
		Title:        "geofed status · " + s.Topology,
		Topology:     s.Topology,
		TopologyFile: s.TopologyFile,
		StampLabel:   "read at",
		Stamp:        stamp(s.ObservedAt),
		Warnings:     s.Warnings,
		Figures:      statusFigures(s.Summary),
	}
	if s.OK() {
		pg.Verdict, pg.VerdictState = "ok", stateOK
		pg.VerdictText = "Every cluster is reachable and every workload ready."
	} else {
		pg.Verdict, pg.VerdictState = "not-ok", stateBad
		pg.VerdictText = "Not everything is reachable and ready."
	}
	var labels []regionLabel
	for _, r := range s.Regions {
		reg := region{Name: r.Name, Location: regionLocation(r.Name), State: stateOK}
		l := regionLabel{name: r.Name}
		for _, c := range r.Clusters {
			sc := newStatusCluster(c)
			reg.Status = append(reg.Status, sc)
			reg.State = worse(reg.State, sc.State)
			l.lines = append(l.lines, textLine{Cluster: c.Name, Spans: sc.label})
		}
		l.state = reg.State
		pg.Regions = append(pg.Regions, reg)
		labels = append(labels, l)
	}
	pg.Map, pg.Unplaced = newMap(labels)
	pg.Workloads = fleetWorkloads(s)
	return write(w, pg)
}

// fleetWorkload is one workload on every cluster it is placed on.
type fleetWorkload struct {
	Name string
	// Desired and ReadyReplicas sum the clusters'; "" when no cluster
	// counts replicas of it.
	Desired, ReadyReplicas string
	Clusters               []workloadOn
}

type workloadOn struct {
	Cluster                string
	Ready                  bool
	Desired, ReadyReplicas string
}

// fleetWorkloads regroups the clusters' workloads by workload, in name
// order, clusters in the status's order.
func fleetWorkloads(s *status.Status) []fleetWorkload {
	type sums struct {
		desired, ready int64
		counted        bool
	}
	byName := map[string]*fleetWorkload{}
	totals := map[string]*sums{}
	for _, r := range s.Regions {
		for _, c := range r.Clusters {
			for _, w := range c.Workloads {
				fw := byName[w.Name]
				if fw == nil {
					fw = &fleetWorkload{Name: w.Name}
					byName[w.Name], totals[w.Name] = fw, &sums{}
				}
				on := workloadOn{Cluster: c.Name, Ready: w.Ready}
				if rp := w.Replicas; rp != nil {
					on.Desired, on.ReadyReplicas = fmt.Sprint(rp.Desired), fmt.Sprint(rp.Ready)
					t := totals[w.Name]
					t.desired, t.ready, t.counted = t.desired+rp.Desired, t.ready+rp.Ready, true
				}
				fw.Clusters = append(fw.Clusters, on)
			}
		}
	}
	var out []fleetWorkload
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		fw := *byName[name]
		if t := totals[name]; t.counted {
			fw.Desired, fw.ReadyReplicas = fmt.Sprint(t.desired), fmt.Sprint(t.ready)
		}
		out = append(out, fw)
	}
	return out
}

func statusFigures(m status.Summary) []figure {
	fs := []figure{
		{Key: "reachable", Label: "clusters reachable", N: m.Reachable, State: "create"},
		{Key: "unreachable", Label: "unreachable", N: m.Unreachable, State: "attention"},
	}
	if m.Excluded > 0 {
		fs = append(fs, figure{Key: "excluded", Label: "excluded from placement", N: m.Excluded, State: "attention"})
	}
	fs = append(fs,
		figure{Key: "workloads-ready", Label: "workloads ready", N: m.WorkloadsReady, State: "create"},
		figure{Key: "workloads-not-ready", Label: "not ready", N: m.WorkloadsNotReady, State: "attention"},
		figure{Key: "drifted", Label: "objects drifted", N: m.Drifted, State: "change"},
	)
	if m.Errors > 0 {
		fs = append(fs, figure{Key: "errors", Label: "errors", N: m.Errors, State: "attention"})
	}
	return fs
}

// statusCluster is one cluster's card and map line.
type statusCluster struct {
	Name, Mode, ModeText string
	// Health is ready, drifted, not-ready, error, excluded or
	// unreachable: the first of these, from the end, that holds.
	Health, HealthText, State string
	Reachable                 bool
	ServerVersion, Endpoint   string
	GKEStatus                 string
	// NodesReady, NodesTotal and Drift are "" when unknown.
	NodesReady, NodesTotal string
	Drift                  string
	Resources              []status.Resource
	// Problems are why the cluster is left out and what could not be read.
	Problems  []string
	Workloads []workloadView
	// NoWorkloads says none is placed here (as opposed to unknown).
	NoWorkloads bool
	Drifted     []driftView
	label       []span
}

type workloadView struct {
	Name    string
	Ready   bool
	Objects int
	// Desired and ReadyReplicas are "" for a workload without replicas.
	Desired, ReadyReplicas string
	NotReady               []status.NotReady
}

type driftView struct{ Name, Reason string }

func newStatusCluster(c status.Cluster) statusCluster {
	sc := statusCluster{
		Name: c.Name, Mode: c.Mode, Reachable: c.Reachable,
		ServerVersion: c.ServerVersion, Endpoint: c.Endpoint, Resources: c.Resources,
	}
	sc.ModeText = "joined"
	if c.Mode == "managed" {
		sc.ModeText = "GKE managed"
	}
	if g := c.GKE; g != nil {
		sc.ModeText += " · " + g.Project + "/" + g.Location
		if g.Status != "" {
			sc.ModeText += " " + g.Status
			sc.GKEStatus = g.Status
		}
	}
	if c.Nodes != nil {
		sc.NodesReady, sc.NodesTotal = fmt.Sprint(c.Nodes.Ready), fmt.Sprint(c.Nodes.Total)
	}
	if c.Drift != nil {
		sc.Drift = fmt.Sprint(c.Drift.Count)
		for _, d := range c.Drift.Objects {
			sc.Drifted = append(sc.Drifted, driftView{Name: object.Name(d.Group, d.Kind, d.Namespace, d.Name), Reason: d.Reason})
		}
	}
	if c.Excluded != "" {
		sc.Problems = append(sc.Problems, "excluded from placement: "+c.Excluded)
	}
	sc.Problems = append(sc.Problems, c.Errors...)
	ready, notReady := 0, 0
	for _, w := range c.Workloads {
		wv := workloadView{Name: w.Name, Ready: w.Ready, Objects: w.Objects, NotReady: w.NotReady}
		if r := w.Replicas; r != nil {
			wv.Desired, wv.ReadyReplicas = fmt.Sprint(r.Desired), fmt.Sprint(r.Ready)
		}
		if w.Ready {
			ready++
		} else {
			notReady++
		}
		sc.Workloads = append(sc.Workloads, wv)
	}
	sc.NoWorkloads = c.Reachable && c.Workloads != nil && len(c.Workloads) == 0

	drifted := c.Drift != nil && c.Drift.Count > 0
	switch {
	case !c.Reachable:
		sc.Health, sc.HealthText, sc.State = "unreachable", "unreachable: "+c.Unreachable, stateBad
	case c.Excluded != "":
		sc.Health, sc.HealthText, sc.State = "excluded", "reachable, but placement leaves it out", stateBad
	case len(c.Errors) > 0:
		sc.Health, sc.HealthText, sc.State = "error", "reachable; "+count(len(c.Errors), "thing")+" could not be read", stateBad
	case notReady > 0:
		sc.Health, sc.HealthText, sc.State = "not-ready", fmt.Sprintf("reachable; %d of %s not ready", notReady, count(ready+notReady, "workload")), stateBad
	case drifted:
		sc.Health, sc.HealthText, sc.State = "drifted", "ready; "+count(c.Drift.Count, "object")+" changed outside geofed", stateChange
	default:
		sc.Health, sc.HealthText, sc.State = "ready", "reachable and ready", stateOK
	}

	sc.label = []span{{Text: c.Name}}
	switch {
	case !c.Reachable:
		sc.label = append(sc.label, span{Text: "unreachable", Class: "bad"})
	case c.Excluded != "":
		sc.label = append(sc.label, span{Text: "excluded", Class: "bad"})
	case len(c.Workloads) > 0 && notReady > 0:
		sc.label = append(sc.label, span{Text: fmt.Sprintf("%d/%d ready", ready, ready+notReady), Class: "bad"})
	case len(c.Workloads) > 0:
		sc.label = append(sc.label, span{Text: fmt.Sprintf("%d/%d ready", ready, ready+notReady), Class: "create"})
	default:
		sc.label = append(sc.label, span{Text: "reachable", Class: "muted"})
	}
	if len(c.Errors) > 0 && c.Excluded == "" {
		sc.label = append(sc.label, span{Text: "error", Class: "bad"})
	}
	if drifted {
		sc.label = append(sc.label, span{Text: fmt.Sprintf("~%d", c.Drift.Count), Class: "change"})
	}
	return sc
}
