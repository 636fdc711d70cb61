// Package htmlview renders a plan or a fleet's status as one self-contained
// HTML page: the topology's regions on a world map at their catalogue
// coordinates, every cluster with what would change there (plan) or how it
// is doing (status), and beside them the placement explanation and the
// warnings. The page fetches nothing — inline SVG and CSS, the reader's own
// fonts, no scripts — so it opens offline, and can be attached to a pull
// request or a ticket as it is.
//
// Every value is escaped by html/template. Field values and diffs are left
// out altogether: the page is an overview that travels further than a
// terminal does, so it names what changes (object, field path) and never
// what a value is or becomes; plan --diff shows those. The elements carry
// stable data- attributes (data-region, data-cluster, data-create, ...)
// for tests and for anyone scraping the page.
package htmlview

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"sort"
	"time"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
)

// State classes colour clusters, regions and pins: the worst state of a
// region's clusters colours its pin.
const (
	stateOK     = "ok"     // nothing to do, or healthy
	stateChange = "change" // changes to apply, or drift
	stateBad    = "bad"    // a person has to look
)

func worse(a, b string) string {
	rank := func(s string) int {
		switch s {
		case stateBad:
			return 2
		case stateChange:
			return 1
		}
		return 0
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// page is what the template renders, for a plan or a status.
type page struct {
	// Kind is "plan" or "status".
	Kind         string
	Title        string
	Topology     string
	TopologyFile string
	StampLabel   string
	Stamp        string
	// Verdict is a word for tests (data-verdict); VerdictText says it to
	// people, coloured by VerdictState.
	Verdict      string
	VerdictText  string
	VerdictState string
	Figures      []figure
	Map          worldMap
	Regions      []region
	// Unplaced names the regions the catalogue has no coordinates for.
	Unplaced   []string
	Placements []placementView
	// Prices says where the plan's prices come from, "" when it shows none.
	Prices string
	// Workloads are a status's workloads across the fleet.
	Workloads []fleetWorkload
	Warnings  []string
}

// figure is one count of the summary.
type figure struct {
	Key   string
	Label string
	N     int
	State string
}

// worldMap is the SVG's content.
type worldMap struct {
	Width, Height string
	Land, Water   string
	Graticule     string
	Markers       []marker
}

// region is one region's section: plan or status clusters.
type region struct {
	Name     string
	Location string
	State    string
	Plan     []planCluster
	Status   []statusCluster
}

// regionLabel is what a region's map label says of each cluster.
type regionLabel struct {
	name  string
	state string
	lines []textLine
}

// newMap places a marker for every region the catalogue knows, and
// returns the names of those it does not.
func newMap(regions []regionLabel) (worldMap, []string) {
	m := worldMap{
		Width:     num(mapWidth),
		Height:    num(mapHeight),
		Land:      landPath,
		Water:     waterPath,
		Graticule: graticulePath,
	}
	var unplaced []string
	for _, r := range regions {
		cat, ok := catalog.LookupRegion(r.name)
		if !ok {
			unplaced = append(unplaced, r.name)
			continue
		}
		x, y := project(cat.Lat, cat.Lng)
		m.Markers = append(m.Markers, marker{
			Region: r.name,
			State:  r.state,
			X:      num(x),
			Y:      num(y),
			Title:  textLine{Spans: []span{{Text: r.name, Class: "region-name"}}},
			Lines:  r.lines,
			x:      x,
			y:      y,
		})
	}
	layoutMarkers(m.Markers)
	return m, unplaced
}

// The outlines do not change: their path data is computed once.
var (
	landPath      = outlinePath(land)
	waterPath     = outlinePath(water)
	graticulePath = graticule()
)

// regionLocation is the catalogue's place for a region, "" when unknown.
func regionLocation(name string) string {
	if r, ok := catalog.LookupRegion(name); ok {
		return r.Location
	}
	return ""
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func sortRegions(rs []region) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Name < rs[j].Name })
}

// write renders pg completely before writing, so a template error leaves
// w untouched rather than holding half a page.
func write(w io.Writer, pg *page) error {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, pg); err != nil {
		return fmt.Errorf("rendering the %s page: %w", pg.Kind, err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

var pageTemplate = template.Must(template.Must(template.New("page").Parse(pageHTML)).Parse(partsHTML))

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="kubectl-geofed">
<title>{{.Title}}</title>
<style>` + pageCSS + `</style>
</head>
<body class="{{.Kind}}" data-page="{{.Kind}}" data-topology="{{.Topology}}" data-verdict="{{.Verdict}}">
<header>
<h1>{{if eq .Kind "plan"}}Plan{{else}}Status{{end}} <span class="topology">{{.Topology}}</span></h1>
<p class="meta">{{if .TopologyFile}}<span class="file">{{.TopologyFile}}</span> · {{end}}{{.StampLabel}} <time datetime="{{.Stamp}}">{{.Stamp}}</time></p>
<p class="verdict {{.VerdictState}}">{{.VerdictText}}</p>
<dl class="summary">
{{- range .Figures}}
<div class="figure {{.State}}" data-figure="{{.Key}}" data-n="{{.N}}"><dt>{{.Label}}</dt><dd>{{.N}}</dd></div>
{{- end}}
</dl>
</header>
<main>
<div class="fleet">
<figure class="map">
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {{.Map.Width}} {{.Map.Height}}" role="img" aria-label="World map of the topology's regions">
<rect class="sea" width="{{.Map.Width}}" height="{{.Map.Height}}"/>
<path class="graticule" d="{{.Map.Graticule}}"/>
<path class="land" d="{{.Map.Land}}"/>
<path class="water" d="{{.Map.Water}}"/>
{{- range .Map.Markers}}
<g class="marker {{.State}}" data-map-region="{{.Region}}">
<line class="leader" x1="{{.LX1}}" y1="{{.LY1}}" x2="{{.LX2}}" y2="{{.LY2}}"/>
<circle class="pin" cx="{{.X}}" cy="{{.Y}}" r="5"/>
<rect class="label" x="{{.BX}}" y="{{.BY}}" width="{{.BW}}" height="{{.BH}}" rx="3"/>
{{template "line" .Title}}
{{- range .Lines}}
{{template "line" .}}
{{- end}}
</g>
{{- end}}
</svg>
{{- if .Unplaced}}
<figcaption>Not on the map (no coordinates in the region catalogue): {{range $i, $r := .Unplaced}}{{if $i}}, {{end}}<span data-unplaced="{{$r}}">{{$r}}</span>{{end}}</figcaption>
{{- end}}
</figure>
<div class="regions">
{{- range .Regions}}
<section class="region {{.State}}" data-region="{{.Name}}">
<h2>{{.Name}}{{if .Location}} <small>{{.Location}}</small>{{end}}</h2>
{{- range .Plan}}
{{template "plan-cluster" .}}
{{- end}}
{{- range .Status}}
{{template "status-cluster" .}}
{{- end}}
</section>
{{- end}}
</div>
</div>
<aside>
{{- if eq .Kind "plan"}}
<h2>Placement</h2>
{{- range .Placements}}
{{template "placement" .}}
{{- else}}
<p class="none">No workload places replicas.</p>
{{- end}}
{{- with .Prices}}
<p class="prices" data-prices>Prices: {{.}}</p>
{{- end}}
{{- end}}
{{- if eq .Kind "status"}}
<h2>Workloads</h2>
{{- range .Workloads}}
<section class="placement" data-fleet-workload="{{.Name}}">
<h3>{{.Name}}{{if .Desired}} <span class="total">{{.ReadyReplicas}}/{{.Desired}} replicas ready</span>{{end}}</h3>
<ul class="shares">
{{- range .Clusters}}
<li data-share="{{.Cluster}}" class="{{if .Ready}}ok{{else}}bad{{end}}">{{.Cluster}} <span class="replicas">{{if .Ready}}ready{{else}}not ready{{end}}{{if .Desired}} · {{.ReadyReplicas}}/{{.Desired}}{{end}}</span></li>
{{- end}}
</ul>
</section>
{{- else}}
<p class="none">No workload could be judged on any cluster.</p>
{{- end}}
{{- end}}
{{- if .Warnings}}
<h2>Warnings</h2>
<ul class="warnings">
{{- range .Warnings}}
<li data-warning>{{.}}</li>
{{- end}}
</ul>
{{- end}}
<h2>Legend</h2>
{{- if eq .Kind "plan"}}
<p class="legend"><span class="create">+</span> create · <span class="change">~</span> change in place · <span class="replace">-/+</span> replace · <span class="delete">-</span> delete · <span class="attention">!</span> needs a person</p>
<p class="legend">Changed fields are named, their values never shown: <code>kubectl geofed plan --diff</code> prints those, Secrets as (sensitive).</p>
{{- else}}
<p class="legend"><span class="ok">●</span> ready · <span class="change">●</span> drifted · <span class="bad">●</span> not ready, unreachable or an error</p>
{{- end}}
</aside>
</main>
</body>
</html>
`

// partsHTML are the page's parts, apart so that the page ends at </html>.
const partsHTML = `
{{define "line"}}<text x="{{.X}}" y="{{.Y}}"{{if .Cluster}} data-map-cluster="{{.Cluster}}"{{end}}>{{range $i, $s := .Spans}}{{if $i}} {{end}}<tspan class="{{$s.Class}}">{{$s.Text}}</tspan>{{end}}</text>{{end}}
{{define "fields"}}{{if .}}<ul class="fields">{{range .}}<li>{{if .Symbol}}<span class="sym {{.Class}}">{{.Symbol}}</span> {{end}}<code>{{.Path}}</code>{{if .Value}} {{.Value}}{{end}}{{if .Note}} <em>({{.Note}})</em>{{end}}</li>{{end}}</ul>{{end}}{{end}}
{{define "plan-cluster"}}<article class="cluster {{.State}}" data-cluster="{{.Name}}" data-mode="{{.Mode}}" data-health="{{.Health}}" data-create="{{.Create}}" data-change="{{.Change}}" data-delete="{{.Delete}}" data-attention="{{.Attention}}" data-errors="{{.Errors}}" data-unchanged="{{.Unchanged}}">
<h3><span class="name">{{.Name}}</span> <span class="mode">{{.ModeText}}</span></h3>
<p class="health {{.Health}}">{{.HealthText}}</p>
{{- with .Guard}}
<p class="reason attention" data-prune-guard>! {{.}}</p>
{{- end}}
{{- if .Counted}}
<p class="counts"><span class="create">+{{.Create}}</span> <span class="change">~{{.Change}}</span> <span class="delete">-{{.Delete}}</span>{{if .Attention}} <span class="attention">!{{.Attention}}</span>{{end}}{{if .Errors}} <span class="error">{{.Errors}} rejected</span>{{end}} objects{{if .Unchanged}} · {{.Unchanged}} unchanged{{end}}</p>
{{- end}}
{{- with .GKE}}
<div class="gke" data-gke-action="{{.Action}}">
<p><span class="sym {{.Class}}">{{.Symbol}}</span> GKE {{.Project}}/{{.Location}}: {{.Text}}</p>
{{- range .Reasons}}
<p class="reason attention">! {{.}}</p>
{{- end}}
{{- template "fields" .Fields}}
{{- if .Pools}}
<ul class="pools">
{{- range .Pools}}
<li data-node-pool="{{.Name}}" data-action="{{.Action}}"><span class="sym {{.Class}}">{{.Symbol}}</span> node pool <b>{{.Name}}</b>{{if .Pool}} ({{.Pool}} in GKE){{end}}{{if .Steps}}: {{.Steps}}{{end}}{{template "fields" .Fields}}</li>
{{- end}}
</ul>
{{- end}}
</div>
{{- end}}
{{- if .Cost}}
<ul class="cost"{{if .USD}} data-usd-per-hour="{{.USD}}"{{end}}>
{{- range .Cost}}
<li>{{.}}</li>
{{- end}}
</ul>
{{- end}}
{{- if .Workloads}}
<ul class="workloads">
{{- range .Workloads}}
<li data-workload="{{.Workload}}" data-replicas="{{.Replicas}}"{{if .Excluded}} data-excluded="true"{{end}}><span class="workload">{{.Workload}}</span> <span class="replicas">{{.Text}}</span></li>
{{- end}}
</ul>
{{- end}}
{{- if .Objects}}
<details>
<summary>{{len .Objects}} {{if eq (len .Objects) 1}}object{{else}}objects{{end}} to create, change, delete or look at</summary>
<ul class="objects">
{{- range .Objects}}
<li data-object="{{.Name}}" data-action="{{.Action}}"><span class="sym {{.Class}}">{{.Symbol}}</span> {{.Name}}{{if .Reason}} <span class="reason">{{.Reason}}</span>{{end}}{{if .Paths}}<ul class="fields">{{range .Paths}}<li><code>{{.}}</code></li>{{end}}</ul>{{end}}</li>
{{- end}}
</ul>
</details>
{{- end}}
</article>{{end}}
{{define "status-cluster"}}<article class="cluster {{.State}}" data-cluster="{{.Name}}" data-mode="{{.Mode}}" data-health="{{.Health}}" data-reachable="{{.Reachable}}"{{if .NodesTotal}} data-nodes-ready="{{.NodesReady}}" data-nodes-total="{{.NodesTotal}}"{{end}}{{if .Drift}} data-drift="{{.Drift}}"{{end}}{{if .GKEStatus}} data-gke-status="{{.GKEStatus}}"{{end}}>
<h3><span class="name">{{.Name}}</span> <span class="mode">{{.ModeText}}</span></h3>
<p class="health {{.Health}}">{{.HealthText}}</p>
{{- if .Reachable}}
<p class="figures">{{if .ServerVersion}}{{.ServerVersion}}{{end}}{{if .Endpoint}} at <code>{{.Endpoint}}</code>{{end}}{{if .NodesTotal}} · nodes {{.NodesReady}}/{{.NodesTotal}} Ready{{end}}{{if .Drift}} · drift {{.Drift}}{{end}}</p>
{{- end}}
{{- if .Resources}}
<ul class="resources">
{{- range .Resources}}
<li data-resource="{{.Name}}"><code>{{.Name}}</code> {{.Allocatable}} allocatable, {{.Requested}} requested</li>
{{- end}}
</ul>
{{- end}}
{{- range .Problems}}
<p class="reason attention">! {{.}}</p>
{{- end}}
{{- if .Workloads}}
<ul class="workloads">
{{- range .Workloads}}
<li data-workload="{{.Name}}" data-ready="{{.Ready}}" data-objects="{{.Objects}}"{{if .Desired}} data-desired="{{.Desired}}" data-ready-replicas="{{.ReadyReplicas}}"{{end}} class="{{if .Ready}}ok{{else}}bad{{end}}"><span class="workload">{{.Name}}</span> {{if .Ready}}ready{{else}}not ready{{end}}{{if .Desired}} · replicas {{.ReadyReplicas}}/{{.Desired}} ready{{end}}
{{- if .NotReady}}<ul class="not-ready">{{range .NotReady}}<li data-not-ready="{{.Object}}">{{.Object}}: {{if .Failed}}failed: {{end}}{{.Reason}}</li>{{end}}</ul>{{end}}</li>
{{- end}}
</ul>
{{- else if .NoWorkloads}}
<p class="none">No workloads placed here.</p>
{{- end}}
{{- if .Drifted}}
<details>
<summary>{{len .Drifted}} changed outside geofed</summary>
<ul class="objects">
{{- range .Drifted}}
<li data-drifted="{{.Name}}"><span class="sym change">~</span> {{.Name}} <span class="reason">{{.Reason}}</span></li>
{{- end}}
</ul>
</details>
{{- end}}
</article>{{end}}
{{define "placement"}}<section class="placement" data-placement="{{.Workload}}" data-mode="{{.Mode}}">
<h3>{{.Workload}} <span class="mode">{{.Mode}}</span>{{if .Total}} <span class="total">{{.Total}} replicas</span>{{end}}{{if .Cost}} <span class="cost" data-usd-per-hour="{{.USD}}">{{.Cost}}</span>{{end}}</h3>
<ul class="shares">
{{- range .Shares}}
<li data-share="{{.Cluster}}" data-replicas="{{.Replicas}}"{{if .Excluded}} data-excluded="true" class="bad"{{end}}>{{.Cluster}} <span class="replicas">{{.Text}}</span></li>
{{- end}}
</ul>
<ol class="explanation">
{{- range .Explanation}}
<li>{{.}}</li>
{{- end}}
</ol>
</section>{{end}}
`

const pageCSS = `
:root{--ok:#2f855a;--change:#b7791f;--bad:#c53030;--create:#2f855a;--delete:#c53030;--muted:#5f6b7a;--line:#d9dee5;--sea:#e8f1f8;--land:#cfd8c4;--coast:#a9b79b;--ink:#1d2633;--card:#fff;--page:#f5f7fa}
*{box-sizing:border-box}
body{margin:0;padding:20px 24px;background:var(--page);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 18px;margin-bottom:14px}
h1{margin:0;font-size:22px}
h1 .topology{color:var(--muted);font-weight:500}
.meta{margin:0;color:var(--muted)}
.verdict{margin:0;font-weight:600}
.summary{display:flex;flex-wrap:wrap;gap:6px;margin:0;flex-basis:100%}
.figure{display:flex;flex-direction:row-reverse;gap:6px;align-items:baseline;background:var(--card);border:1px solid var(--line);border-radius:6px;padding:3px 10px}
.figure dd{margin:0;font-weight:700;font-size:16px}
.figure dt{color:var(--muted)}
main{display:grid;grid-template-columns:minmax(0,1fr) 380px;gap:20px;align-items:start}
.map{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px}
.map svg{display:block;width:100%;height:auto}
.map figcaption{color:var(--muted);padding:4px 2px 0}
.sea{fill:var(--sea)}
.graticule{fill:none;stroke:#d3e1ec;stroke-width:.6}
.land{fill:var(--land);stroke:var(--coast);stroke-width:.6;stroke-linejoin:round}
.water{fill:var(--sea);stroke:var(--coast);stroke-width:.6}
.pin{stroke:#fff;stroke-width:1.5}
.marker.ok .pin{fill:var(--ok)}
.marker.change .pin{fill:var(--change)}
.marker.bad .pin{fill:var(--bad)}
.marker .label{fill:#fff;fill-opacity:.92;stroke:var(--line)}
.marker text{font-size:12px;fill:var(--ink)}
.marker .region-name{font-weight:700}
.leader{stroke:var(--muted);stroke-width:.8}
tspan.create{fill:var(--create)}
tspan.change{fill:var(--change)}
tspan.delete,tspan.bad,tspan.attention{fill:var(--bad)}
tspan.muted{fill:var(--muted)}
.regions{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:14px;margin-top:14px}
.region{background:var(--card);border:1px solid var(--line);border-top:4px solid var(--ok);border-radius:8px;padding:8px 12px}
.region.change{border-top-color:var(--change)}
.region.bad{border-top-color:var(--bad)}
.region h2{font-size:16px;margin:2px 0 6px}
.region h2 small{color:var(--muted);font-weight:400;font-size:12px}
.cluster{border-top:1px solid var(--line);padding:6px 0}
.cluster h3{font-size:15px;margin:0}
.cluster .mode{color:var(--muted);font-weight:400;font-size:12px}
.cluster p{margin:2px 0}
.health{font-weight:600}
.health.reachable,.health.ready{color:var(--ok)}
.health.pending,.health.drifted{color:var(--change)}
.health.unreachable,.health.error,.health.orphan,.health.excluded,.health.not-ready{color:var(--bad)}
.counts .create,.sym.create,.legend .create{color:var(--create);font-weight:700}
.counts .change,.sym.change,.sym.replace,.legend .change,.legend .replace{color:var(--change);font-weight:700}
.counts .delete,.sym.delete,.legend .delete{color:var(--delete);font-weight:700}
.counts .attention,.counts .error,.sym.attention,.sym.error,.legend .attention,.reason.attention{color:var(--bad);font-weight:600}
.legend .ok{color:var(--ok)}
.legend .bad{color:var(--bad)}
ul{margin:2px 0;padding-left:18px}
.gke ul,.objects,.pools{list-style:none;padding-left:4px}
.fields{list-style:none;padding-left:16px;color:var(--muted)}
.workloads{padding-left:16px}
.workloads li.bad{color:var(--bad)}
.workload{font-weight:600}
.reason{color:var(--muted)}
details summary{cursor:pointer;color:var(--muted)}
code{font:12px ui-monospace,"DejaVu Sans Mono",monospace}
aside{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 14px}
aside h2{font-size:16px;margin:8px 0 4px}
.placement{border-top:1px solid var(--line);padding:6px 0}
.placement h3{font-size:14px;margin:0}
.placement .mode,.placement .total{color:var(--muted);font-weight:400}
.shares{padding-left:16px}
.shares li.bad{color:var(--bad)}
.shares li.ok .replicas{color:var(--ok)}
.explanation{padding-left:20px;color:var(--muted);font-size:13px}
.warnings li{color:var(--bad)}
.legend{color:var(--muted);font-size:12px}
.none{color:var(--muted)}
@media (max-width:900px){main{grid-template-columns:1fr}}
`
