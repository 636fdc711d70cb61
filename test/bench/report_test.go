package bench

import (
	"fmt"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// scenarioName is one situation a fleet is measured in.
type scenarioName string

const (
	scFromNothing scenarioName = "apply from nothing"
	scUnchanged   scenarioName = "nothing changed: plan"
	scNoopApply   scenarioName = "nothing changed: apply"
	scDrift       scenarioName = "one object drifted per cluster: plan"
	scChanged     scenarioName = "10% of the objects changed: plan and apply"
)

var scenarioOrder = []scenarioName{scFromNothing, scUnchanged, scNoopApply, scDrift, scChanged}

// contender is one way of doing a scenario's job.
type contender string

const (
	cPlan            contender = "kubectl geofed plan"
	cPlanFull        contender = "kubectl geofed plan --refresh=full"
	cGeofedApply     contender = "kubectl geofed apply --yes --wait=false"
	cKubectlDiffSeq  contender = "kubectl diff --server-side, clusters in a row"
	cKubectlDiffPar  contender = "kubectl diff --server-side, clusters at once"
	cKubectlApplySeq contender = "kubectl apply --server-side, clusters in a row"
	cKubectlApplyPar contender = "kubectl apply --server-side, clusters at once"
	cFloor           contender = "the LISTs plan sends, minimal client, at once"
	cPlanBaseline    contender = "kubectl geofed plan, BENCH_BASELINE's binary"
	cApplyBaseline   contender = "kubectl geofed apply, BENCH_BASELINE's binary"
)

var contenderOrder = []contender{cPlan, cPlanBaseline, cPlanFull, cGeofedApply, cApplyBaseline, cKubectlDiffSeq, cKubectlDiffPar, cKubectlApplySeq, cKubectlApplyPar, cFloor}

// sample is one run of a contender: what it cost, and the requests the
// apiservers served for it (nil: not counted).
type sample struct {
	usage
	verbs verbs
}

// sizeReport is everything measured on one fleet.
type sizeReport struct {
	size    size
	s       scenario
	objects int // over all clusters
	rounds  int
	// inARowScale is what the in-a-row loops' figures were multiplied by:
	// they ran on 1/inARowScale of the clusters (1: on all).
	inARowScale float64
	// apiservers is the lab apiservers' memory at the end of the size.
	apiservers apiserverMemory
	// notes say what was left out or bounded at this size.
	notes   []string
	samples map[scenarioName]map[contender][]sample
	// planCounted is the requests plan counted itself with nothing
	// changed, beside the servers' count; lists is how many LISTs it sent.
	planCounted int64
	lists       int
	profiles    map[string]string
}

func (r *sizeReport) add(sc scenarioName, c contender, v verbs, u usage) {
	if r.samples == nil {
		r.samples = map[scenarioName]map[contender][]sample{}
	}
	if r.samples[sc] == nil {
		r.samples[sc] = map[contender][]sample{}
	}
	r.samples[sc][c] = append(r.samples[sc][c], sample{u, v})
}

// mean is the contender's mean over its rounds; ok is false when it did
// not run.
func (r *sizeReport) mean(sc scenarioName, c contender) (m sample, ok bool) {
	ss := r.samples[sc][c]
	if len(ss) == 0 {
		return m, false
	}
	m.verbs = verbs{}
	for _, s := range ss {
		m.wall += s.wall
		m.cpu += s.cpu
		m.rss = max(m.rss, s.rss)
		for v, n := range s.verbs {
			m.verbs[v] += n
		}
	}
	n := time.Duration(len(ss))
	m.wall, m.cpu = m.wall/n, m.cpu/n
	for v := range m.verbs {
		m.verbs[v] /= int64(len(ss))
	}
	if ss[0].verbs == nil {
		m.verbs = nil
	}
	return m, true
}

// ratio is how many times faster geofed (mine) was than theirs.
func (r *sizeReport) ratio(sc scenarioName, mine, theirs contender) (float64, bool) {
	a, ok1 := r.mean(sc, mine)
	b, ok2 := r.mean(sc, theirs)
	if !ok1 || !ok2 || a.wall == 0 {
		return 0, false
	}
	return b.wall.Seconds() / a.wall.Seconds(), true
}

// String is the size's tables: one per scenario, a row per contender.
func (r *sizeReport) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "%s: %d apiserver-only lab clusters × %d objects (%d workloads) = %d objects; means of %d round(s)\n",
		r.size, r.size.clusters, r.s.objectsPerCluster(), r.s.Workloads, r.objects, r.rounds)
	if r.inARowScale > 1 {
		fmt.Fprintf(&s, "  the loops \"in a row\" ran on %d of the %d clusters; their wall time, CPU and requests are scaled by %.2g\n",
			int(math.Round(float64(r.size.clusters)/r.inARowScale)), r.size.clusters, r.inARowScale)
	}
	if r.apiservers.n > 0 {
		fmt.Fprintf(&s, "  %s\n", r.apiservers)
	}
	if lim := atOnceLimit(r.size.clusters); lim < r.size.clusters {
		fmt.Fprintf(&s, "  the loops \"at once\" ran at most %d kubectl processes at a time (the memory available now holds no more at %s each)\n", lim, mib(kubectlPeak))
	}
	for _, n := range r.notes {
		fmt.Fprintf(&s, "  %s\n", n)
	}
	for _, sc := range scenarioOrder {
		if len(r.samples[sc]) == 0 {
			continue
		}
		fmt.Fprintf(&s, "\n  %s:\n", sc)
		w := tabwriter.NewWriter(&s, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(w, "  %-46s\twall\tCPU\tpeak RSS\trequests\tper object\tby verb\t\n", "")
		for _, c := range contenderOrder {
			m, ok := r.mean(sc, c)
			if !ok {
				continue
			}
			cpu, rss, reqs, per := "", "", "", ""
			if m.cpu > 0 {
				cpu, rss = seconds(m.cpu), mib(m.rss)
			}
			if m.verbs != nil {
				reqs, per = fmt.Sprint(m.verbs.total()), fmt.Sprintf("%.3f", float64(m.verbs.total())/float64(r.objects))
			}
			fmt.Fprintf(w, "  %-46s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", c, seconds(m.wall), cpu, rss, reqs, per, m.verbs)
		}
		w.Flush()
		for _, line := range r.ratios(sc) {
			fmt.Fprintf(&s, "  %s\n", line)
		}
	}
	if r.planCounted > 0 {
		m, _ := r.mean(scUnchanged, cPlan)
		fmt.Fprintf(&s, "\n  plan counted %d requests itself, the apiservers %d; it sent %d LISTs\n", r.planCounted, m.verbs.total(), r.lists)
	}
	return s.String()
}

// ratios are a scenario's comparisons, geofed against each alternative.
func (r *sizeReport) ratios(sc scenarioName) []string {
	var out []string
	pairs := map[scenarioName][][2]contender{
		scFromNothing: {{cGeofedApply, cKubectlApplySeq}, {cGeofedApply, cKubectlApplyPar}},
		scUnchanged:   {{cPlan, cKubectlDiffSeq}, {cPlan, cKubectlDiffPar}, {cFloor, cPlan}, {cPlan, cPlanBaseline}},
		scNoopApply:   {{cGeofedApply, cKubectlApplySeq}, {cGeofedApply, cKubectlApplyPar}, {cGeofedApply, cApplyBaseline}},
		scDrift:       {{cPlan, cKubectlDiffSeq}, {cPlan, cKubectlDiffPar}},
		scChanged:     {{cGeofedApply, cKubectlApplySeq}, {cGeofedApply, cKubectlApplyPar}},
	}
	for _, p := range pairs[sc] {
		if x, ok := r.ratio(sc, p[0], p[1]); ok {
			if p[0] == cFloor {
				out = append(out, fmt.Sprintf("plan takes %.2fx the LIST floor", x))
				continue
			}
			out = append(out, fmt.Sprintf("%s is %.1fx faster than %s", short(p[0]), x, short(p[1])))
		}
	}
	return out
}

func short(c contender) string {
	switch c {
	case cGeofedApply:
		return "geofed apply"
	case cPlan:
		return "geofed plan"
	case cPlanBaseline, cApplyBaseline:
		return "the baseline binary"
	}
	return string(c)
}

// fixedCost is what a run pays whatever the fleet.
type fixedCost struct{ start, render time.Duration }

// target is one figure the issue asks for, and whether it was reached.
type target struct {
	what   string
	got    float64
	want   float64
	atMost bool // want is a ceiling, not a floor
	unit   string
}

func (t target) met() bool {
	if t.atMost {
		return t.got <= t.want
	}
	return t.got >= t.want
}

func (t target) String() string {
	op, verdict := "≥", "met"
	if t.atMost {
		op = "≤"
	}
	if !t.met() {
		verdict = "MISSED"
	}
	return fmt.Sprintf("%-80s %8.2f%s (target %s %g%s): %s", t.what, t.got, t.unit, op, t.want, t.unit, verdict)
}

// summarise is the end of `make bench`: the sweep in one table, the fitted
// cost models, the targets and the profiles of the largest fleet.
func summarise(reports []*sizeReport, fixed fixedCost) string {
	var s strings.Builder
	s.WriteString("Sweep (wall times; ratios are kubectl's time over geofed's, measured side by side):\n")
	w := tabwriter.NewWriter(&s, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "  size\tobjects\tplan\tvs diff seq\tvs diff par\tCPU/object\tpeak RSS\treq/object\tvs floor\tno-op apply\tvs apply seq\tvs apply par\tfrom nothing\tvs par\t10% apply\tvs par\t10% plan req/object\t")
	for _, r := range reports {
		p, _ := r.mean(scUnchanged, cPlan)
		noop, _ := r.mean(scNoopApply, cGeofedApply)
		fresh, _ := r.mean(scFromNothing, cGeofedApply)
		chg, _ := r.mean(scChanged, cGeofedApply)
		chgPlan, _ := r.mean(scChanged, cPlan)
		x := func(sc scenarioName, a, b contender) string {
			v, ok := r.ratio(sc, a, b)
			if !ok {
				return "-"
			}
			return fmt.Sprintf("%.1fx", v)
		}
		floor, _ := r.ratio(scUnchanged, cFloor, cPlan)
		fmt.Fprintf(w, "  %s\t%d\t%s\t%s\t%s\t%.3fms\t%s\t%.3f\t%.2fx\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t\n",
			r.size, r.objects, seconds(p.wall), x(scUnchanged, cPlan, cKubectlDiffSeq), x(scUnchanged, cPlan, cKubectlDiffPar),
			1000*p.cpu.Seconds()/float64(r.objects), mib(p.rss), float64(p.verbs.total())/float64(r.objects), floor,
			seconds(noop.wall), x(scNoopApply, cGeofedApply, cKubectlApplySeq), x(scNoopApply, cGeofedApply, cKubectlApplyPar),
			seconds(fresh.wall), x(scFromNothing, cGeofedApply, cKubectlApplyPar),
			seconds(chg.wall), x(scChanged, cGeofedApply, cKubectlApplyPar),
			float64(chgPlan.verbs.total())/float64(r.objects))
	}
	w.Flush()

	fmt.Fprintf(&s, "\nFixed cost of a run (medians of 5): process start (version) %s; start + topology load + kustomize of 1 cluster × 202 objects (render) %s\n",
		seconds(fixed.start), seconds(fixed.render))

	planModel := fitModel(reports, []scenarioName{scUnchanged, scDrift, scChanged}, cPlan)
	applyModel := fitModel(reports, []scenarioName{scNoopApply, scChanged, scFromNothing}, cGeofedApply)
	fmt.Fprintf(&s, "\nCost model, wall = fixed + per cluster × clusters + per object × objects + per changed object × changed (least squares over the sweep):\n")
	fmt.Fprintf(&s, "  plan:  %s\n", planModel)
	fmt.Fprintf(&s, "  apply: %s\n", applyModel)
	rss := fitRSS(reports)
	fmt.Fprintf(&s, "  plan's peak RSS: %s\n", rss)
	if planModel.ok {
		fmt.Fprintf(&s, "  extrapolated to 1,000 clusters × 1,000 objects, nothing changed: plan %s, peak RSS %s (at the default --parallel and --qps)\n",
			seconds(planModel.predict(1000, 1_000_000, 0)), mib(int64(rss.predict(1000, 1000))))
	}

	fmt.Fprintf(&s, "\nTargets:\n")
	for _, t := range targets(reports, fixed, planModel, rss) {
		fmt.Fprintf(&s, "  %s\n", t)
	}
	for _, r := range reports {
		for _, kind := range []string{"cpu", "allocs"} {
			if p := r.profiles[kind]; p != "" {
				fmt.Fprintf(&s, "\nProfile of plan at %s, nothing changed (%s):\n%s", r.size, kind, indent(p))
			}
		}
	}
	return s.String()
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return "  " + strings.Join(lines, "\n  ") + "\n"
}

func find(reports []*sizeReport, sz size) *sizeReport {
	for _, r := range reports {
		if r.size == sz {
			return r
		}
	}
	return nil
}

// targets checks the figures at the sizes it names, when measured.
func targets(reports []*sizeReport, fixed fixedCost, planModel model, rss rssModel) []target {
	var out []target
	if r := find(reports, size{16, 1000}); r != nil {
		p, _ := r.mean(scUnchanged, cPlan)
		seq, _ := r.ratio(scUnchanged, cPlan, cKubectlDiffSeq)
		par, _ := r.ratio(scUnchanged, cPlan, cKubectlDiffPar)
		floor, _ := r.ratio(scUnchanged, cFloor, cPlan)
		out = append(out,
			target{what: "16x1000 nothing changed: plan vs kubectl diff --server-side in a row", got: seq, want: 20, unit: "x"},
			target{what: "16x1000 nothing changed: plan vs kubectl diff --server-side, 16 at once", got: par, want: 8, unit: "x"},
			target{what: "16x1000 nothing changed: geofed's CPU per object", got: 1000 * p.cpu.Seconds() / float64(r.objects), want: 0.3, atMost: true, unit: "ms"},
			target{what: "16x1000 nothing changed: geofed's peak RSS", got: float64(p.rss >> 20), want: 200, atMost: true, unit: "MiB"},
			target{what: "16x1000 nothing changed: plan's time over the LIST floor's", got: floor, want: 1.5, atMost: true, unit: "x"},
		)
	}
	for _, sz := range []size{{4, 200}, {16, 1000}} {
		r := find(reports, sz)
		if r == nil {
			continue
		}
		seq, _ := r.ratio(scNoopApply, cGeofedApply, cKubectlApplySeq)
		par, _ := r.ratio(scNoopApply, cGeofedApply, cKubectlApplyPar)
		fresh, _ := r.ratio(scFromNothing, cGeofedApply, cKubectlApplyPar)
		chg, _ := r.ratio(scChanged, cGeofedApply, cKubectlApplyPar)
		cp, _ := r.mean(scChanged, cPlan)
		out = append(out,
			target{what: sz.String() + " no-op apply vs kubectl apply --server-side in a row", got: seq, want: 10, unit: "x"},
			target{what: sz.String() + " no-op apply vs kubectl apply --server-side, all at once", got: par, want: 6, unit: "x"},
			target{what: sz.String() + " apply from nothing vs kubectl apply --server-side, all at once", got: fresh, want: 1.5, unit: "x"},
			target{what: sz.String() + " apply with 10% changed vs kubectl apply --server-side, all at once", got: chg, want: 1.5, unit: "x"},
			target{what: sz.String() + " plan with 10% changed: requests per object", got: float64(cp.verbs.total()) / float64(r.objects), want: 1.15, atMost: true},
		)
	}
	if r := find(reports, size{16, 1000}); r != nil {
		fresh, _ := r.mean(scFromNothing, cGeofedApply)
		out = append(out, target{what: "16x1000 apply from nothing: geofed's peak RSS", got: float64(fresh.rss >> 20), want: 300, atMost: true, unit: "MiB"})
	}
	if r := find(reports, size{64, 1000}); r != nil {
		p, _ := r.mean(scUnchanged, cPlan)
		diff, _ := r.ratio(scUnchanged, cPlan, cKubectlDiffPar)
		noop, _ := r.ratio(scNoopApply, cGeofedApply, cKubectlApplyPar)
		out = append(out,
			target{what: "64x1000 nothing changed: plan's peak RSS", got: float64(p.rss >> 20), want: 300, atMost: true, unit: "MiB"},
			target{what: "64x1000 nothing changed: plan vs kubectl diff --server-side, 64 at once", got: diff, want: 40, unit: "x"},
			target{what: "64x1000 nothing changed: no-op apply vs kubectl apply --server-side, 64 at once", got: noop, want: 20, unit: "x"},
		)
		if r16 := find(reports, size{16, 1000}); r16 != nil {
			p16, _ := r16.mean(scUnchanged, cPlan)
			out = append(out, target{what: "plan's peak RSS at 64x1000 over its peak RSS at 16x1000", got: float64(p.rss) / float64(p16.rss), want: 1.3, atMost: true, unit: "x"})
		}
	}
	if planModel.ok {
		out = append(out, target{what: "the model's plan at 1,000 clusters x 1,000 objects, nothing changed", got: planModel.predict(1000, 1_000_000, 0).Seconds(), want: 60, atMost: true, unit: "s"})
	}
	if rss.ok {
		out = append(out, target{what: "the model's plan peak RSS at 1,000 clusters x 1,000 objects", got: rss.predict(1000, 1000) / (1 << 20), want: 1024, atMost: true, unit: "MiB"})
	}
	if planModel.ok {
		out = append(out, target{what: "fixed cost of a plan (the cost model's fixed term)", got: planModel.coef[0] * 1000, want: 150, atMost: true, unit: "ms"})
	}
	out = append(out, target{what: "fixed cost measured: start + topology load + kustomize (render, 1x200)", got: float64(fixed.render.Milliseconds()), want: 150, atMost: true, unit: "ms"})
	return out
}

// model is a least-squares fit of wall seconds = coef · (1, clusters,
// objects, changed objects).
type model struct {
	coef   [4]float64
	rmsRel float64 // root mean square of the relative residuals
	maxRel float64
	points int
	ok     bool
}

func (m model) predict(clusters, objects, changed float64) time.Duration {
	x := [4]float64{1, clusters, objects, changed}
	var y float64
	for i := range x {
		y += m.coef[i] * x[i]
	}
	return time.Duration(y * float64(time.Second))
}

func (m model) String() string {
	if !m.ok {
		return fmt.Sprintf("not enough sizes to fit (%d points)", m.points)
	}
	return fmt.Sprintf("%.0f ms + %.1f ms/cluster + %.3f ms/object + %.3f ms/changed object (%d points, residuals %.0f%% rms, %.0f%% at most)",
		m.coef[0]*1000, m.coef[1]*1000, m.coef[2]*1000, m.coef[3]*1000, m.points, 100*m.rmsRel, 100*m.maxRel)
}

// fitModel fits the contender's mean wall time over every size and
// scenario given. The fit weighs relative errors (each row divided by its
// time), so small fleets count as much as large ones.
func fitModel(reports []*sizeReport, scs []scenarioName, c contender) model {
	var xs [][4]float64
	var ys []float64
	for _, r := range reports {
		for _, sc := range scs {
			m, ok := r.mean(sc, c)
			if !ok {
				continue
			}
			changed := 0.0
			switch sc {
			case scDrift:
				changed = float64(r.size.clusters)
			case scChanged:
				changed = float64(r.size.clusters * r.s.changedPerCluster())
			case scFromNothing:
				changed = float64(r.objects)
			}
			xs = append(xs, [4]float64{1, float64(r.size.clusters), float64(r.objects), changed})
			ys = append(ys, m.wall.Seconds())
		}
	}
	mo := model{points: len(xs)}
	if len(xs) < 6 {
		return mo
	}
	// Normal equations of the weighted problem, solved by elimination.
	var a [4][5]float64
	for k, x := range xs {
		wgt := 1 / (ys[k] * ys[k])
		for i := 0; i < 4; i++ {
			for j := 0; j < 4; j++ {
				a[i][j] += wgt * x[i] * x[j]
			}
			a[i][4] += wgt * x[i] * ys[k]
		}
	}
	coef, ok := solve(a)
	if !ok {
		return mo
	}
	mo.coef, mo.ok = coef, true
	var sum float64
	for k, x := range xs {
		pred := mo.predict(x[1], x[2], x[3]).Seconds()
		rel := math.Abs(pred-ys[k]) / ys[k]
		sum += rel * rel
		mo.maxRel = math.Max(mo.maxRel, rel)
	}
	mo.rmsRel = math.Sqrt(sum / float64(len(xs)))
	return mo
}

// solve solves a 4×4 linear system given as an augmented matrix.
func solve(a [4][5]float64) ([4]float64, bool) {
	var x [4]float64
	for col := 0; col < 4; col++ {
		pivot := col
		for r := col + 1; r < 4; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[pivot][col]) {
				pivot = r
			}
		}
		if math.Abs(a[pivot][col]) < 1e-12 {
			return x, false
		}
		a[col], a[pivot] = a[pivot], a[col]
		for r := 0; r < 4; r++ {
			if r == col {
				continue
			}
			f := a[r][col] / a[col][col]
			for c := col; c < 5; c++ {
				a[r][c] -= f * a[col][c]
			}
		}
	}
	for i := 0; i < 4; i++ {
		x[i] = a[i][4] / a[i][i]
	}
	return x, true
}

// defaultParallel is plan's --parallel default (member.DefaultParallel):
// how many clusters' objects it may hold at once.
const defaultParallel = 16

// rssModel is plan's peak RSS, fitted as bytes = base + held × (objects
// per cluster × min(clusters, --parallel)) + planned × objects: the
// objects of the clusters in flight, rendered and listed, and the plan's
// lines kept for every object. Without a fleet wider than --parallel the
// two terms cannot be told apart, and only base + planned × objects is
// fitted.
type rssModel struct {
	base, held, planned float64
	split               bool // held was fitted apart from planned
	points              int
	ok                  bool
}

func (m rssModel) predict(clusters, objectsPerCluster float64) float64 {
	return m.base + m.held*objectsPerCluster*math.Min(clusters, defaultParallel) + m.planned*clusters*objectsPerCluster
}

func (m rssModel) String() string {
	if !m.ok {
		return fmt.Sprintf("not enough sizes to fit (%d points)", m.points)
	}
	if !m.split {
		return fmt.Sprintf("%.0f MiB + %.1f KiB/object (%d points; no fleet wider than --parallel=%d, so what is held per cluster in flight is not told apart)",
			m.base/(1<<20), m.planned/1024, m.points, defaultParallel)
	}
	return fmt.Sprintf("%.0f MiB + %.1f KiB/object held (objects per cluster × min(clusters, --parallel=%d)) + %.2f KiB/object planned (%d points)",
		m.base/(1<<20), m.held/1024, defaultParallel, m.planned/1024, m.points)
}

func fitRSS(reports []*sizeReport) rssModel {
	var xs [][]float64
	var ys []float64
	split := false
	for _, r := range reports {
		m, ok := r.mean(scUnchanged, cPlan)
		if !ok || m.rss <= 0 {
			continue
		}
		per, c := float64(r.s.objectsPerCluster()), float64(r.size.clusters)
		xs = append(xs, []float64{1, per * math.Min(c, defaultParallel), per * c})
		ys = append(ys, float64(m.rss))
		split = split || r.size.clusters > defaultParallel
	}
	mo := rssModel{points: len(xs), split: split}
	if !split {
		for i := range xs {
			xs[i] = []float64{xs[i][0], xs[i][2]}
		}
	}
	if len(xs) == 0 || len(xs) < len(xs[0]) {
		return mo
	}
	coef, ok := leastSquares(xs, ys)
	if !ok {
		return mo
	}
	mo.ok = true
	if split {
		mo.base, mo.held, mo.planned = coef[0], coef[1], coef[2]
	} else {
		mo.base, mo.planned = coef[0], coef[1]
	}
	return mo
}

// leastSquares solves min |X·c − y|² by the normal equations.
func leastSquares(xs [][]float64, ys []float64) ([]float64, bool) {
	n := len(xs[0])
	a := make([][]float64, n)
	for i := range a {
		a[i] = make([]float64, n+1)
	}
	for k, x := range xs {
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				a[i][j] += x[i] * x[j]
			}
			a[i][n] += x[i] * ys[k]
		}
	}
	for col := 0; col < n; col++ {
		pivot := col
		for r := col + 1; r < n; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[pivot][col]) {
				pivot = r
			}
		}
		if math.Abs(a[pivot][col]) < 1e-9 {
			return nil, false
		}
		a[col], a[pivot] = a[pivot], a[col]
		for r := 0; r < n; r++ {
			if r == col {
				continue
			}
			f := a[r][col] / a[col][col]
			for c := col; c <= n; c++ {
				a[r][c] -= f * a[col][c]
			}
		}
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = a[i][n] / a[i][i]
	}
	return out, true
}
