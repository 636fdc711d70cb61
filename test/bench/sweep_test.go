package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sweepSizes are the fleets `make bench` measures: by default a subset
// that holds the targets at 4 × 200 and 16 × 1,000 and enough sizes to fit
// the cost model; BENCH=full for the whole sweep, 1, 4 and 16 clusters ×
// 200, 1,000 and 5,000 objects, then 64 clusters × 200 and 1,000 (the
// targets at 64); BENCH=16x1000,64x1000 for chosen ones.
func sweepSizes(spec string) ([]size, error) {
	switch spec {
	case "", "default":
		return []size{{1, 200}, {4, 200}, {16, 200}, {16, 1000}}, nil
	case "full":
		var out []size
		for _, n := range []int{200, 1000, 5000} {
			for _, c := range []int{1, 4, 16} {
				out = append(out, size{c, n})
			}
		}
		return append(out, size{64, 200}, size{64, 1000}), nil
	}
	var out []size
	for _, s := range strings.Split(spec, ",") {
		c, n, ok := strings.Cut(strings.TrimSpace(s), "x")
		ci, err1 := strconv.Atoi(c)
		ni, err2 := strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil || ci < 1 || ni < 10 {
			return nil, fmt.Errorf("BENCH=%q: want default, full or a list of CLUSTERSxOBJECTS such as 16x1000", spec)
		}
		out = append(out, size{ci, ni})
	}
	return out, nil
}

// rounds is how many times each contender runs at a size: small fleets
// are quick and noisy, large ones slow and steady.
func rounds(sz size) int {
	if sz.clusters*sz.objects <= 1000 {
		return 3
	}
	return 1
}

// sampledInARow is how many clusters a loop of kubectl runs "in a row"
// covers on a fleet larger than that: one after the other, 64 clusters ×
// 1,000 objects would take most of an hour of a shared machine, and each
// run is like the next, so the loop runs on the first sampledInARow
// clusters and its wall time, CPU and requests are scaled by
// clusters/sampledInARow (the report says so).
const sampledInARow = 8

// changedUpTo is the largest fleet, in objects, whose 10%-changed
// scenario is measured.
const changedUpTo = 20000

// BenchmarkFleet measures, at every size of the sweep, geofed against the
// kubectl loops a user would run instead, side by side in one run: apply
// from nothing, plan and apply with nothing changed, plan with one object
// drifted per cluster, plan and apply with 10% of the objects changed; and
// the floor, the LISTs plan sends with a minimal client. Requests are
// counted by the apiservers themselves. The largest fleet is also profiled.
// It ends with the tables, the fitted cost model and the targets.
//
// Run with -benchtime 1x (as `make bench` does): every size does its own
// rounds, interleaving the contenders so the machine's load weighs on all
// alike.
func BenchmarkFleet(b *testing.B) {
	binary := filepath.Join(b.TempDir(), "kubectl-geofed")
	build := exec.Command("go", "build", "-o", binary, "github.com/geofed-io/kubectl-geofed/cmd/kubectl-geofed")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building kubectl-geofed: %v\n%s", err, out)
	}
	// BENCH_BASELINE names another kubectl-geofed binary (an earlier
	// commit's) whose plan and no-op apply are measured beside this one's:
	// a change's before and after in one run.
	baseline := os.Getenv("BENCH_BASELINE")
	if baseline != "" {
		if _, err := os.Stat(baseline); err != nil {
			b.Fatalf("BENCH_BASELINE: %v", err)
		}
	}
	sizes, err := sweepSizes(os.Getenv("BENCH"))
	if err != nil {
		b.Fatal(err)
	}
	largest := sizes[0]
	for _, sz := range sizes {
		if sz.clusters*sz.objects > largest.clusters*largest.objects {
			largest = sz
		}
	}
	var reports []*sizeReport
	for _, sz := range sizes {
		b.Run(sz.String(), func(b *testing.B) {
			r := measureSize(b, binary, baseline, sz, sz == largest)
			reports = append(reports, r)
			// Each size's tables as soon as they are known: a long sweep
			// shows its progress, and a failure later keeps them.
			fmt.Print("\n" + r.String())
		})
	}
	fixed := measureFixed(b, binary)
	fmt.Print("\n" + summarise(reports, fixed))
}

// measureSize runs every scenario on a fresh lab fleet of one size.
func measureSize(b *testing.B, binary, baseline string, sz size, profile bool) *sizeReport {
	s := scenarioFor(sz)
	f := newFleet(b, binary, s)
	n := rounds(sz)
	rep := &sizeReport{size: sz, s: s, objects: f.objects, rounds: n}
	changed := s.changedPerCluster()
	rep.inARowScale = f.inARowScale()
	if f.background != nil {
		rep.notes = append(rep.notes, fmt.Sprintf("the idle apiservers never went a second without requests of their own (%v in %s): every count has that rate times its run's time taken out", f.background, f.backgroundOver))
	}
	measure := func(sc scenarioName, c contender, fn func() usage) {
		var u usage
		v := f.counted(b, func() { u = fn() })
		if c == cKubectlApplySeq || c == cKubectlDiffSeq {
			u, v = u.scaled(rep.inARowScale), v.scaled(rep.inARowScale)
		}
		rep.add(sc, c, v, u)
	}

	// Apply from nothing: geofed's topology, then the kubectl loops' own
	// copies; round r > 0 applies fresh copies (namespaces gR-, sR-, pR-).
	for r := 0; r < n; r++ {
		topo := f.topology
		if r == 0 {
			f.write(b, "")
			topo = f.topology
		} else {
			var err error
			if topo, err = s.write(filepath.Join(f.dir, fmt.Sprintf("g%d", r)), fmt.Sprintf("bench-g%d", r), fmt.Sprintf("g%d-", r), ""); err != nil {
				b.Fatal(err)
			}
		}
		seq := f.kubectlCopy(b, fmt.Sprintf("s%d-", r), "")
		par := f.kubectlCopy(b, fmt.Sprintf("p%d-", r), "")
		measure(scFromNothing, cGeofedApply, func() usage { return f.apply(b, topo, f.objects) })
		measure(scFromNothing, cKubectlApplySeq, func() usage { return f.applies(b, false, seq) })
		measure(scFromNothing, cKubectlApplyPar, func() usage { return f.applies(b, true, par) })
	}
	f.write(b, "")
	seq, par := f.kubectlCopy(b, "s0-", ""), f.kubectlCopy(b, "p0-", "")

	// Nothing changed.
	_, planned := f.planJSON(b, "inventory", 0)
	rep.planCounted = planned
	lists := f.planLists(b)
	rep.lists = len(lists)
	small := f.objects <= 4000 // --refresh=full and drift: dry-runs of everything, kept to small fleets
	for r := 0; r < n; r++ {
		measure(scUnchanged, cPlan, func() usage { return f.timedPlan(b, "inventory", 0) })
		if baseline != "" {
			measure(scUnchanged, cPlanBaseline, func() usage { return f.timedPlanWith(b, baseline, "inventory", 0) })
			measure(scNoopApply, cApplyBaseline, func() usage { return f.applyWith(b, baseline, f.topology, 0) })
		}
		if small {
			measure(scUnchanged, cPlanFull, func() usage { return f.timedPlan(b, "full", 0) })
		}
		measure(scUnchanged, cKubectlDiffSeq, func() usage { return f.diffs(b, false, 0) })
		measure(scUnchanged, cKubectlDiffPar, func() usage { return f.diffs(b, true, 0) })
		rep.add(scUnchanged, cFloor, nil, usage{wall: f.floor(b, lists)})
		measure(scNoopApply, cGeofedApply, func() usage { return f.apply(b, f.topology, 0) })
		measure(scNoopApply, cKubectlApplySeq, func() usage { return f.applies(b, false, seq) })
		measure(scNoopApply, cKubectlApplyPar, func() usage { return f.applies(b, true, par) })
	}
	if profile {
		rep.profiles = f.profile(b)
	}

	// One object drifted per cluster, by hand.
	if small {
		for _, c := range f.clusters {
			ns := s.workloadNames()[0]
			if r := run(nil, "", f.kubectl, f.kubectlArgs(c, "scale", "-n", ns, "deployment/"+ns+"-1", "--replicas=1")...); r.code != 0 || r.err != nil {
				b.Fatalf("kubectl scale on %s: exit %d %v\n%s", c, r.code, r.err, r.stderr)
			}
		}
		f.planJSON(b, "inventory", 1)
		for r := 0; r < n; r++ {
			measure(scDrift, cPlan, func() usage { return f.timedPlan(b, "inventory", 2) })
			measure(scDrift, cPlanFull, func() usage { return f.timedPlan(b, "full", 2) })
			measure(scDrift, cKubectlDiffSeq, func() usage { return f.diffs(b, false, 1) })
			measure(scDrift, cKubectlDiffPar, func() usage { return f.diffs(b, true, 1) })
		}
		// Put back by hand what the drift took: kubectl scale owns
		// spec.replicas now.
		f.apply(b, f.topology, len(f.clusters), "--force-conflicts")
	}

	// 10% of the objects changed in the repository: geofed plans and
	// applies its topology; the kubectl loops apply their copies, changed
	// alike. Kept to fleets of at most changedUpTo objects: at 64 × 1,000
	// its three applies of every object would add most of an hour, and
	// no target of that size reads it.
	if f.objects > changedUpTo {
		rep.notes = append(rep.notes, fmt.Sprintf("%q not measured: more than %d objects", scChanged, changedUpTo))
		n = 0
	}
	for r := 0; r < n; r++ {
		rev := fmt.Sprintf("r%d", r+1)
		f.write(b, rev)
		seq, par := f.kubectlCopy(b, "s0-", rev), f.kubectlCopy(b, "p0-", rev)
		var pr result
		v := f.counted(b, func() { pr, _ = f.planJSON(b, "inventory", changed) })
		rep.add(scChanged, cPlan, v, pr.usage)
		measure(scChanged, cGeofedApply, func() usage { return f.apply(b, f.topology, changed*len(f.clusters)) })
		measure(scChanged, cKubectlApplySeq, func() usage { return f.applies(b, false, seq) })
		measure(scChanged, cKubectlApplyPar, func() usage { return f.applies(b, true, par) })
	}
	rep.apiservers = f.apiserverMemory(b)
	return rep
}

// profile takes a CPU and a heap profile of plan with nothing changed and
// summarises each as pprof's top functions.
func (f *fleet) profile(b *testing.B) map[string]string {
	b.Helper()
	out := map[string]string{}
	for _, kind := range []string{"cpu", "allocs"} {
		path := filepath.Join(b.TempDir(), kind+".pprof")
		if r := f.geofed(b, "plan", "-f", f.topology, "--profile", kind, "--profile-output", path); r.code != 0 {
			b.Fatalf("plan --profile %s: exit %d\n%s", kind, r.code, tail(r.stderr))
		}
		args := []string{"tool", "pprof", "-top", "-nodecount=20"}
		if kind == "allocs" {
			args = append(args, "-sample_index=alloc_space")
		}
		top, err := exec.Command("go", append(args, f.binary, path)...).CombinedOutput()
		if err != nil {
			b.Fatalf("go tool pprof: %v\n%s", err, top)
		}
		out[kind] = string(top)
	}
	return out
}

// measureFixed measures what every run pays whatever the fleet: the
// process starting (version), and starting plus loading a topology and
// running kustomize on it (render of a one-cluster, 200-object fleet).
func measureFixed(b *testing.B, binary string) fixedCost {
	dir := b.TempDir()
	topo, err := scenarioFor(size{1, 200}).write(dir, "fixed", "", "")
	if err != nil {
		b.Fatal(err)
	}
	var fc fixedCost
	const n = 5
	walls := map[string][]time.Duration{}
	for i := 0; i < n; i++ {
		for name, args := range map[string][]string{
			"version": {"version"},
			"render":  {"render", "-f", topo},
		} {
			r := run(nil, "", binary, args...)
			if r.err != nil || r.code != 0 {
				b.Fatalf("%s: exit %d %v\n%s", name, r.code, r.err, r.stderr)
			}
			walls[name] = append(walls[name], r.wall)
		}
	}
	fc.start, fc.render = median(walls["version"]), median(walls["render"])
	return fc
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
