package htmlview

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/cost"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// Plan writes p as one HTML page: its regions on the map, every cluster
// with its GKE and object changes, the replicas placement gives it and
// whether it could be planned, and beside them every workload's placement
// explanation and the plan's warnings.
func Plan(w io.Writer, p *plan.Plan) error {
	pg := &page{
		Kind:         "plan",
		Title:        "geofed plan · " + p.Topology,
		Topology:     p.Topology,
		TopologyFile: p.TopologyFile,
		StampLabel:   "planned at",
		Stamp:        stamp(p.CreatedAt),
		Warnings:     p.Warnings,
	}
	s := p.Summary
	switch {
	case p.Failed():
		pg.Verdict, pg.VerdictState = "incomplete", stateBad
		pg.VerdictText = "Incomplete: apply refuses this plan until every cluster can be reached and planned."
	case s.HasChanges():
		pg.Verdict, pg.VerdictState = "changes", stateChange
		pg.VerdictText = "Apply would make the changes below."
	default:
		pg.Verdict, pg.VerdictState = "no-changes", stateOK
		pg.VerdictText = "Apply would change nothing."
	}
	pg.Figures = planFigures(s)

	shares := sharesByCluster(p.Placements)
	byName := map[string]*region{}
	var order []string
	add := func(name string) *region {
		if r := byName[name]; r != nil {
			return r
		}
		r := &region{Name: name, Location: regionLocation(name), State: stateOK}
		byName[name] = r
		order = append(order, name)
		return r
	}
	for _, r := range p.Regions {
		reg := add(r.Name)
		for _, c := range r.Clusters {
			pc := newPlanCluster(c, shares[c.Name])
			reg.Plan = append(reg.Plan, pc)
			reg.State = worse(reg.State, pc.State)
		}
	}
	for _, o := range p.Orphans {
		reg := add(o.Region)
		pc := orphanCluster(o)
		reg.Plan = append(reg.Plan, pc)
		reg.State = worse(reg.State, pc.State)
	}
	for _, name := range order {
		pg.Regions = append(pg.Regions, *byName[name])
	}
	sortRegions(pg.Regions)

	var labels []regionLabel
	for _, r := range pg.Regions {
		l := regionLabel{name: r.Name, state: r.State}
		for _, c := range r.Plan {
			l.lines = append(l.lines, textLine{Cluster: c.Name, Spans: c.label})
		}
		labels = append(labels, l)
	}
	pg.Map, pg.Unplaced = newMap(labels)

	for _, pl := range p.Placements {
		pg.Placements = append(pg.Placements, newPlacementView(pl))
	}
	if len(p.Prices) > 0 {
		pg.Prices = cost.Origins(p.Prices)
	}
	return write(w, pg)
}

func planFigures(s plan.Summary) []figure {
	fs := []figure{
		{Key: "clusters-create", Label: noun(s.ClustersToCreate, "cluster") + " to create", N: s.ClustersToCreate, State: "create"},
		{Key: "clusters-change", Label: noun(s.ClustersToChange, "cluster") + " to change", N: s.ClustersToChange, State: "change"},
	}
	if s.ClustersToDelete > 0 {
		fs = append(fs, figure{Key: "clusters-delete", Label: noun(s.ClustersToDelete, "cluster") + " to delete", N: s.ClustersToDelete, State: "delete"})
	}
	fs = append(fs,
		figure{Key: "objects-create", Label: noun(s.ObjectsToCreate, "object") + " to create", N: s.ObjectsToCreate, State: "create"},
		figure{Key: "objects-change", Label: noun(s.ObjectsToChange, "object") + " to change", N: s.ObjectsToChange, State: "change"},
		figure{Key: "objects-delete", Label: noun(s.ObjectsToDelete, "object") + " to delete", N: s.ObjectsToDelete, State: "delete"},
	)
	for _, f := range []figure{
		{Key: "conflicts", Label: "of the changes conflict with another field manager", N: s.Conflicts, State: "attention"},
		{Key: "attention", Label: "need attention", N: s.Attention, State: "attention"},
		{Key: "unreachable", Label: noun(s.Unreachable, "cluster") + " unreachable", N: s.Unreachable, State: "attention"},
		{Key: "errors", Label: noun(s.Errors, "error"), N: s.Errors, State: "attention"},
		{Key: "guarded", Label: noun(s.Guarded, "cluster") + " held by the prune guard", N: s.Guarded, State: "attention"},
	} {
		if f.N > 0 {
			fs = append(fs, f)
		}
	}
	return fs
}

// planCluster is one cluster's card and map line.
type planCluster struct {
	Name string
	// Mode is the plan's ("managed" or "joined"); ModeText says it.
	Mode     string
	ModeText string
	// Health is reachable, unreachable, error (planned part-way, or an
	// object rejected), pending (not created yet, or GKE still creating
	// it) or orphan (a managed cluster no longer in the topology).
	Health     string
	HealthText string
	State      string
	// Counted says the object counts mean something: false when the
	// cluster could not be planned at all.
	Counted                                              bool
	Create, Change, Delete, Attention, Errors, Unchanged int
	GKE                                                  *gkeView
	// Guard is the prune guard's line when it holds the cluster's
	// deletions, as the text view prints it.
	Guard     string
	Workloads []shareView
	// Cost is what the cluster's node pools cost per hour: a line per
	// pool and the total, as the text view prints them; USD is the total
	// alone (data-usd-per-hour), "" when unknown.
	Cost    []string
	USD     string
	Objects []objectView
	label   []span
}

func newPlanCluster(c plan.Cluster, shares []shareView) planCluster {
	pc := planCluster{Name: c.Name, Mode: c.Mode, Workloads: shares, Counted: c.Unreachable == ""}
	pc.ModeText = "joined"
	if c.Mode == "managed" {
		pc.ModeText = "GKE managed"
	}
	if c.GKE != nil {
		pc.ModeText += " · " + c.GKE.Project + "/" + c.GKE.Location
	}
	if c.ServerVersion != "" {
		pc.ModeText += " · " + c.ServerVersion
	}
	if c.Cost != nil && len(c.Cost.Pools) > 0 {
		for _, p := range c.Cost.Pools {
			pc.Cost = append(pc.Cost, p.Line())
		}
		pc.Cost = append(pc.Cost, c.Cost.Line())
		if c.Cost.USDPerHour != nil {
			pc.USD = strconv.FormatFloat(*c.Cost.USDPerHour, 'f', -1, 64)
		}
	}
	for _, o := range c.Objects {
		switch a := o.Action; {
		case a == object.ActionError:
			pc.Errors++
		case a.NeedsAttention():
			pc.Attention++
		case a == object.ActionNoop:
			pc.Unchanged++
			continue
		case a.IsCreate():
			pc.Create++
		case a.IsChange():
			pc.Change++
		case a.IsPrune():
			pc.Delete++
		}
		pc.Objects = append(pc.Objects, newObjectView(o))
	}
	// A GKE cluster that stays as it is has nothing to show beyond its
	// mode.
	if c.GKE != nil && (c.GKE.Action != object.ActionNoop || len(c.GKE.Reasons) > 0) {
		pc.GKE = newGKEView(*c.GKE)
	}

	switch {
	case c.Unreachable != "":
		pc.Health, pc.HealthText = "unreachable", "unreachable: "+c.Unreachable
	case c.Error != "":
		pc.Health, pc.HealthText = "error", "planned part-way: "+c.Error
	case pc.Errors > 0:
		pc.Health, pc.HealthText = "error", fmt.Sprintf("reachable; the server rejected %s", count(pc.Errors, "object"))
	case c.ServerVersion != "":
		pc.Health, pc.HealthText = "reachable", "reachable"
	case c.GKE != nil && c.GKE.Action == object.ActionCreate:
		pc.Health, pc.HealthText = "pending", "created by this plan"
	default:
		pc.Health, pc.HealthText = "pending", "not reachable yet: everything is created on it"
	}

	if c.PruneGuard != nil {
		pc.Guard = plan.GuardLine(c.Name, c.PruneGuard)
	}
	pc.State = stateOK
	if pc.Create+pc.Change+pc.Delete > 0 || (c.GKE != nil && c.GKE.Action != object.ActionNoop) {
		pc.State = stateChange
	}
	if pc.Health == "unreachable" || pc.Health == "error" || pc.Attention > 0 || c.PruneGuard.Held() || (c.GKE != nil && c.GKE.Action == object.ActionAttention) {
		pc.State = stateBad
	}

	pc.label = []span{{Text: c.Name}}
	if c.GKE != nil && c.GKE.Action != object.ActionNoop {
		pc.label = append(pc.label, span{Text: "GKE" + c.GKE.Symbol(), Class: symbolClass(c.GKE.Action)})
	}
	if pc.Health == "unreachable" {
		pc.label = append(pc.label, span{Text: "unreachable", Class: "bad"})
		return pc
	}
	for _, n := range []struct {
		n          int
		sym, class string
	}{{pc.Create, "+", "create"}, {pc.Change, "~", "change"}, {pc.Delete, "-", "delete"}, {pc.Attention, "!", "attention"}} {
		if n.n > 0 {
			pc.label = append(pc.label, span{Text: fmt.Sprintf("%s%d", n.sym, n.n), Class: n.class})
		}
	}
	switch {
	case pc.Health == "error":
		pc.label = append(pc.label, span{Text: "error", Class: "bad"})
	case len(pc.label) == 1:
		pc.label = append(pc.label, span{Text: "no changes", Class: "muted"})
	}
	return pc
}

// orphanCluster is a managed cluster of the topology's that the file no
// longer has: shown, never deleted by apply.
func orphanCluster(ch gke.ClusterChange) planCluster {
	return planCluster{
		Name:       ch.Cluster,
		Mode:       "managed",
		ModeText:   "GKE managed · " + ch.Project + "/" + ch.Location,
		Health:     "orphan",
		HealthText: "not in the topology",
		State:      stateBad,
		// Its reasons say what happens to it.
		GKE:   newGKEView(ch),
		label: []span{{Text: ch.Cluster}, {Text: "not in topology", Class: "bad"}},
	}
}

// symbolClass is the CSS class of an action's mark.
func symbolClass(a object.Action) string {
	switch a {
	case object.ActionError:
		return "error"
	case object.ActionReplace:
		return "replace"
	}
	switch a.Symbol() {
	case "+":
		return "create"
	case "~":
		return "change"
	case "-":
		return "delete"
	case "!":
		return "attention"
	}
	return ""
}

// objectView is one object to create, change, delete or look at. Its
// changed fields are named by path only: no value reaches the page.
type objectView struct {
	Name, Action, Symbol, Class, Reason string
	Paths                               []string
}

func newObjectView(o plan.Object) objectView {
	v := objectView{Name: o.String(), Action: string(o.Action), Symbol: o.Action.Symbol(), Class: symbolClass(o.Action)}
	if o.Action != object.ActionCreate {
		// A create's reason ("cluster is created by this plan") says
		// nothing its + does not.
		v.Reason = o.Reason
	}
	for _, f := range o.Changes {
		v.Paths = append(v.Paths, f.Path)
	}
	return v
}

// gkeView is a managed cluster's GKE change.
type gkeView struct {
	Action, Symbol, Class, Text string
	Project, Location           string
	Reasons                     []string
	Fields                      []fieldView
	Pools                       []poolView
}

// fieldView is one GKE field: a cluster's or a node pool's setting, never
// a secret.
type fieldView struct {
	Path, Value, Note string
	Symbol, Class     string
}

type poolView struct {
	Name, Pool, Action, Symbol, Class, Steps string
	Fields                                   []fieldView
}

func newGKEView(ch gke.ClusterChange) *gkeView {
	v := &gkeView{
		Action: string(ch.Action), Symbol: ch.Symbol(), Class: symbolClass(ch.Action),
		Project: ch.Project, Location: ch.Location, Reasons: ch.Reasons,
	}
	switch ch.Action {
	case object.ActionCreate:
		v.Text = "create"
	case object.ActionUpdate:
		v.Text = "update in place"
	case object.ActionDelete:
		v.Text = "delete"
	case object.ActionAttention:
		v.Text = "needs attention"
	default:
		v.Text = "no change"
	}
	// A create lists its settings through its pools; the cluster-level
	// fields of an update are what changes.
	if ch.Action != object.ActionCreate {
		v.Fields = fieldViews(ch.Fields, object.ActionUpdate)
	}
	for _, np := range ch.NodePools {
		if np.Action == object.ActionNoop {
			continue
		}
		pv := poolView{
			Name: np.Name, Pool: np.Pool, Action: string(np.Action), Symbol: np.Symbol(), Class: symbolClass(np.Action),
			Fields: fieldViews(np.Fields, np.Action),
		}
		if r := np.Replacement; r != nil {
			if r.Exists {
				pv.Steps = fmt.Sprintf("%s exists: wait for its nodes, drain and delete %s", r.Pool, strings.Join(r.Old, ", "))
			} else {
				pv.Steps = fmt.Sprintf("create %s, wait for its nodes, drain and delete %s", r.Pool, strings.Join(r.Old, ", "))
			}
		}
		v.Pools = append(v.Pools, pv)
	}
	return v
}

// fieldViews shows GKE fields: a setting for a create or delete, before →
// after for the rest, with what the change costs the nodes.
func fieldViews(fs []gke.FieldChange, a object.Action) []fieldView {
	var out []fieldView
	for _, f := range fs {
		v := fieldView{Path: f.Path}
		switch {
		case f.Before == "" && f.After != "":
			v.Value = f.After
		case f.After == "" && f.Before != "":
			v.Value = f.Before
		default:
			v.Value = f.Before + " → " + f.After
		}
		if a == object.ActionUpdate || a == object.ActionReplace {
			v.Symbol, v.Class = "~", "change"
		}
		switch {
		case f.Replace:
			v.Note = "forces replacement"
		case f.RecreatesNodes:
			v.Note = "nodes recreated"
		}
		out = append(out, v)
	}
	return out
}

// shareView is what placement gives one cluster of one workload.
type shareView struct {
	Workload string
	Cluster  string
	// Replicas is the number, "" when the cluster gets the manifests as
	// rendered or nothing.
	Replicas string
	Text     string
	Excluded bool
}

func newShareView(workload string, s placement.Share) shareView {
	v := shareView{Workload: workload, Cluster: s.Cluster}
	switch {
	case s.Excluded != "":
		v.Excluded = true
		v.Text = "excluded: " + s.Excluded
	case s.Replicas == nil:
		v.Text = "manifests as rendered"
	default:
		v.Replicas = fmt.Sprint(*s.Replicas)
		v.Text = count(int(*s.Replicas), "replica")
		if *s.Replicas == 0 {
			v.Text += " (warm standby)"
		}
		if s.Clamped != "" {
			v.Text += " (at its " + s.Clamped + ")"
		}
	}
	return v
}

// sharesByCluster lists, per cluster, its share of every workload, in the
// plan's workload order.
func sharesByCluster(pls []placement.Result) map[string][]shareView {
	out := map[string][]shareView{}
	for _, pl := range pls {
		for _, s := range pl.Shares {
			out[s.Cluster] = append(out[s.Cluster], newShareView(pl.Workload, s))
		}
	}
	return out
}

// placementView is one workload's placement, as the aside shows it.
type placementView struct {
	Workload, Mode, Total string
	// Cost is what the placement costs, "$20.64/hour"; USD the figure
	// alone (data-usd-per-hour); both "" when unknown.
	Cost, USD   string
	Shares      []shareView
	Explanation []string
}

func newPlacementView(pl placement.Result) placementView {
	v := placementView{Workload: pl.Workload, Mode: pl.Mode, Explanation: pl.Explanation}
	if pl.Total != nil {
		v.Total = fmt.Sprint(*pl.Total)
	}
	if pl.USDPerHour != nil {
		v.Cost = catalog.FormatUSD(*pl.USDPerHour) + "/hour"
		v.USD = strconv.FormatFloat(*pl.USDPerHour, 'f', -1, 64)
	}
	for _, s := range pl.Shares {
		v.Shares = append(v.Shares, newShareView(pl.Workload, s))
	}
	return v
}

// count is "1 object", "2 objects".
func count(n int, what string) string { return fmt.Sprintf("%d %s", n, noun(n, what)) }

// noun is what, in the plural unless n is 1.
func noun(n int, what string) string {
	if n == 1 {
		return what
	}
	return what + "s"
}
