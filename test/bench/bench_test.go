// Package bench measures kubectl-geofed against what its users would run
// instead: a loop of `kubectl diff --server-side` over their clusters. It
// runs the real binaries against a lab fleet (`make bench`); benchmarks run
// only under -bench, so `go test ./...` stays fast.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// BenchmarkPlanVsKubectlDiff applies the scenario once, then times, with
// nothing changed and after one object per cluster drifted, geofed's plan
// against `kubectl diff --server-side` of the same manifests on every
// cluster, one after the other (a user's loop) and all at once. Each round
// runs every contender once, interleaved, so that the machine's load
// weighs on all of them alike; ns/op is a whole round.
func BenchmarkPlanVsKubectlDiff(b *testing.B) {
	f := newFleet(b, benchScenario)
	var rows []row
	b.Run("unchanged", func(b *testing.B) {
		rows = record(rows, "unchanged", f.measure(b, 0))
	})
	f.drift(b)
	b.Run("drift-1-per-cluster", func(b *testing.B) {
		rows = record(rows, "1 object drifted per cluster", f.measure(b, 1))
	})
	// On stdout: go test shows a parent benchmark's log only under -v,
	// with every lab event.
	fmt.Print("\n" + summary(f, rows))
}

// fleet is a lab of joined clusters with the scenario applied by geofed.
type fleet struct {
	binary     string // kubectl-geofed, built from this tree
	kubectl    string // the lab's kubectl, of the lab's Kubernetes version
	kubeconfig string // one context per cluster, named after it
	cacheDir   string // kubectl's discovery cache, warm after the first run
	topology   string
	clusters   []string
	// manifests holds each cluster's rendered manifests, as geofed applies
	// them, for kubectl diff.
	manifests map[string]string
	objects   int // over all clusters
}

func newFleet(b *testing.B, s scenario) *fleet {
	b.Helper()
	binDir := os.Getenv(lab.BinDirEnv)
	f := &fleet{
		binary:     filepath.Join(b.TempDir(), "kubectl-geofed"),
		kubectl:    filepath.Join(binDir, "kubectl"),
		kubeconfig: filepath.Join(b.TempDir(), "kubeconfig"),
		cacheDir:   b.TempDir(),
		clusters:   s.clusterNames(),
		manifests:  map[string]string{},
	}
	if _, err := os.Stat(f.kubectl); err != nil {
		b.Fatalf("no kubectl in %s=%q (`make lab-bin` builds it): %v", lab.BinDirEnv, binDir, err)
	}
	build := exec.Command("go", "build", "-o", f.binary, "github.com/geofed-io/kubectl-geofed/cmd/kubectl-geofed")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building kubectl-geofed: %v\n%s", err, out)
	}

	specs := make([]lab.ClusterSpec, len(f.clusters))
	for i, name := range f.clusters {
		specs[i] = lab.ClusterSpec{Name: name, Nodes: []lab.NodeSpec{{Name: name + "-node", Count: 1}}}
	}
	l, _ := labtest.New(b, specs...)
	if err := l.Kubeconfig(f.kubeconfig); err != nil {
		b.Fatal(err)
	}

	dir := b.TempDir()
	var err error
	if f.topology, err = s.write(dir); err != nil {
		b.Fatal(err)
	}
	topo, err := topology.Load(f.topology)
	if err != nil {
		b.Fatal(err)
	}
	d, err := desired.Compute(desired.Options{Topology: topo})
	if err != nil {
		b.Fatal(err)
	}
	for _, dc := range d.Clusters {
		docs := make([]string, 0, len(dc.Objects))
		for _, o := range dc.Objects {
			y, err := yaml.Marshal(o.Object.Object)
			if err != nil {
				b.Fatal(err)
			}
			docs = append(docs, string(y))
		}
		path := filepath.Join(dir, dc.Name+".yaml")
		if err := os.WriteFile(path, []byte(strings.Join(docs, "---\n")), 0o600); err != nil {
			b.Fatal(err)
		}
		f.manifests[dc.Name] = path
		f.objects += len(dc.Objects)
	}
	if want := len(f.clusters) * s.objectsPerCluster(); f.objects != want {
		b.Fatalf("rendered %d objects, want %d", f.objects, want)
	}

	start := time.Now()
	if r := f.geofed(b, "apply", "-f", f.topology, "--yes", "--wait=false"); r.code != 0 {
		b.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	b.Logf("applied %d objects to %d clusters in %.1fs", f.objects, len(f.clusters), time.Since(start).Seconds())
	return f
}

// drift changes one object per cluster the way an operator would by hand.
func (f *fleet) drift(b *testing.B) {
	b.Helper()
	for _, c := range f.clusters {
		if r := f.kubectlRun(b, c, "scale", "-n", "web", "deployment/web-0", "--replicas=1"); r.code != 0 {
			b.Fatalf("kubectl scale on %s: exit %d\n%s", c, r.code, r.stderr)
		}
	}
}

// measurement is one scenario's figures: times are means over b.N rounds.
type measurement struct {
	plan, planFull, diffSeq, diffPar time.Duration
	// Requests over all clusters: geofed's from its plan, kubectl's
	// counted in its -v=6 log.
	planRequests, planFullRequests, kubectlRequests int64
	// dryRuns is how many objects plan dry-ran.
	dryRuns int
	rounds  int
}

// measure checks that both tools see the expected changes, counts their
// requests, then times b.N rounds of every contender.
func (f *fleet) measure(b *testing.B, changedPerCluster int) measurement {
	b.Helper()
	m := measurement{rounds: b.N}
	m.planRequests, m.dryRuns = f.planJSON(b, "inventory", changedPerCluster)
	m.planFullRequests, _ = f.planJSON(b, "full", changedPerCluster)
	m.kubectlRequests = f.kubectlRequests(b, changedPerCluster)

	wantExit := 0
	if changedPerCluster > 0 {
		wantExit = 2
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.plan += f.timePlan(b, "inventory", wantExit)
		m.planFull += f.timePlan(b, "full", wantExit)
		m.diffSeq += f.timeDiffs(b, false, changedPerCluster)
		m.diffPar += f.timeDiffs(b, true, changedPerCluster)
	}
	b.StopTimer()
	n := time.Duration(b.N)
	m.plan, m.planFull, m.diffSeq, m.diffPar = m.plan/n, m.planFull/n, m.diffSeq/n, m.diffPar/n

	b.ReportMetric(m.plan.Seconds(), "plan-s/op")
	b.ReportMetric(m.planFull.Seconds(), "plan-full-s/op")
	b.ReportMetric(m.diffSeq.Seconds(), "kdiff-seq-s/op")
	b.ReportMetric(m.diffPar.Seconds(), "kdiff-par-s/op")
	b.ReportMetric(m.diffSeq.Seconds()/m.plan.Seconds(), "ratio-seq")
	b.ReportMetric(m.diffPar.Seconds()/m.plan.Seconds(), "ratio-par")
	b.ReportMetric(float64(m.planRequests)/float64(f.objects), "plan-req/object")
	b.ReportMetric(float64(m.planFullRequests)/float64(f.objects), "plan-full-req/object")
	b.ReportMetric(float64(m.kubectlRequests)/float64(f.objects), "kdiff-req/object")
	return m
}

// planJSON runs plan -o json with the given --refresh, checks it reports
// exactly the expected changes on every cluster and every rendered object,
// and returns its requests and dry-runs over all clusters.
func (f *fleet) planJSON(b *testing.B, refresh string, changedPerCluster int) (requests int64, dryRuns int) {
	b.Helper()
	r := f.geofed(b, "plan", "-f", f.topology, "-o", "json", "--refresh", refresh)
	if r.code != 0 {
		b.Fatalf("plan -o json --refresh %s: exit %d\n%s", refresh, r.code, r.stderr)
	}
	var p plan.Plan
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		b.Fatalf("decoding plan: %v\n%s", err, r.stdout)
	}
	objects := 0
	for _, region := range p.Regions {
		for _, c := range region.Clusters {
			if c.Unreachable != "" || c.Error != "" {
				b.Fatalf("plan: cluster %s: %s%s", c.Name, c.Unreachable, c.Error)
			}
			var changed []string
			for _, o := range c.Objects {
				if o.Action != object.ActionNoop {
					changed = append(changed, fmt.Sprintf("%s %s %s/%s", o.Action, o.Kind, o.Namespace, o.Name))
				}
				if o.DryRun {
					dryRuns++
				}
			}
			if len(changed) != changedPerCluster {
				b.Fatalf("plan --refresh %s: %s has %d changes %v, want %d", refresh, c.Name, len(changed), changed, changedPerCluster)
			}
			objects += len(c.Objects)
			requests += c.Requests
		}
	}
	if objects != f.objects {
		b.Fatalf("plan --refresh %s lists %d objects, %d rendered", refresh, objects, f.objects)
	}
	return requests, dryRuns
}

// kubectlResponse matches a response line of kubectl's -v=6 log, in
// klog's structured form or its older text form.
var kubectlResponse = regexp.MustCompile(`(?m)("Response" verb="[A-Z]+"|\b(GET|PATCH|POST|PUT|DELETE) https?://\S+ \d{3} )`)

// kubectlDiffFile matches the header kubectl's default diff prints per
// differing object.
var kubectlDiffFile = regexp.MustCompile(`(?m)^diff -u -N \S+/(\S+) `)

// kubectlRequests runs kubectl diff once per cluster with -v=6, checks it
// reports the expected number of differing objects, and counts the
// requests it logs over all clusters.
func (f *fleet) kubectlRequests(b *testing.B, changedPerCluster int) int64 {
	b.Helper()
	var total int64
	for _, c := range f.clusters {
		r := f.kubectlDiff(c, "-v=6")
		if err := diffResult(r, changedPerCluster); err != nil {
			b.Fatalf("kubectl diff on %s: %v", c, err)
		}
		n := len(kubectlResponse.FindAllString(r.stderr, -1))
		if n == 0 {
			b.Fatalf("kubectl diff -v=6 on %s logged no response line that %v matches; has its log format changed?\n%s", c, kubectlResponse, r.stderr)
		}
		total += int64(n)
	}
	return total
}

// timePlan runs plan as a user does and returns its wall time.
func (f *fleet) timePlan(b *testing.B, refresh string, wantExit int) time.Duration {
	b.Helper()
	start := time.Now()
	r := f.geofed(b, "plan", "-f", f.topology, "--refresh", refresh, "--detailed-exitcode")
	elapsed := time.Since(start)
	if r.code != wantExit {
		b.Fatalf("plan --refresh %s: exit %d, want %d\n%s\n%s", refresh, r.code, wantExit, r.stdout, r.stderr)
	}
	return elapsed
}

// timeDiffs runs kubectl diff on every cluster, one after the other or all
// at once, and returns the wall time of the lot.
func (f *fleet) timeDiffs(b *testing.B, parallel bool, changedPerCluster int) time.Duration {
	b.Helper()
	results := make([]result, len(f.clusters))
	start := time.Now()
	if parallel {
		var g errgroup.Group
		for i, c := range f.clusters {
			g.Go(func() error {
				results[i] = f.kubectlDiff(c)
				return nil
			})
		}
		_ = g.Wait()
	} else {
		for i, c := range f.clusters {
			results[i] = f.kubectlDiff(c)
		}
	}
	elapsed := time.Since(start)
	for i, r := range results {
		if err := diffResult(r, changedPerCluster); err != nil {
			b.Fatalf("kubectl diff on %s: %v", f.clusters[i], err)
		}
	}
	return elapsed
}

// diffResult checks a kubectl diff run: exit 0 with no differences, 1 with
// some, anything else is an error.
func diffResult(r result, changed int) error {
	if r.err != nil {
		return r.err
	}
	got := len(kubectlDiffFile.FindAllString(r.stdout, -1))
	want := 0
	if changed > 0 {
		want = 1
	}
	if r.code != want || got != changed {
		return fmt.Errorf("exit %d with %d differing objects, want exit %d with %d\n%s\n%s", r.code, got, want, changed, r.stdout, r.stderr)
	}
	return nil
}

// result is one run of a binary.
type result struct {
	stdout, stderr string
	code           int
	err            error // the binary could not be run
}

func run(env []string, name string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		r.err = fmt.Errorf("running %s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
	}
	return r
}

func (f *fleet) geofed(b *testing.B, args ...string) result {
	b.Helper()
	r := run([]string{"KUBECONFIG=" + f.kubeconfig, "NO_COLOR=1"}, f.binary, args...)
	if r.err != nil {
		b.Fatal(r.err)
	}
	return r
}

func (f *fleet) kubectlRun(b *testing.B, cluster string, args ...string) result {
	b.Helper()
	r := run(nil, f.kubectl, append([]string{"--kubeconfig", f.kubeconfig, "--context", cluster, "--cache-dir", f.cacheDir}, args...)...)
	if r.err != nil {
		b.Fatal(r.err)
	}
	return r
}

// kubectlDiff is what a user runs to see what applying a cluster's
// manifests would change, with geofed's field manager. --force-conflicts,
// as geofed's plan shows what forcing would change too (and marks it a
// conflict) where kubectl would otherwise stop at the first conflict.
// Safe for concurrent use: it returns errors instead of failing the
// benchmark.
func (f *fleet) kubectlDiff(cluster string, extra ...string) result {
	args := append([]string{"--kubeconfig", f.kubeconfig, "--context", cluster, "--cache-dir", f.cacheDir,
		"diff", "--server-side", "--force-conflicts", "--field-manager=kubectl-geofed", "-f", f.manifests[cluster]}, extra...)
	// The default diff program, whose headers diffResult reads.
	return run([]string{"KUBECTL_EXTERNAL_DIFF="}, f.kubectl, args...)
}

// row is one scenario of the summary.
type row struct {
	name string
	m    measurement
}

// record keeps the last run of a sub-benchmark (Go runs it with b.N = 1
// first, then with the requested count).
func record(rows []row, name string, m measurement) []row {
	for i := range rows {
		if rows[i].name == name {
			rows[i].m = m
			return rows
		}
	}
	return append(rows, row{name, m})
}

// summary is the table `make bench` ends with.
func summary(f *fleet, rows []row) string {
	var s strings.Builder
	fmt.Fprintf(&s, "%d lab clusters × %d objects = %d objects; wall times are means of the rounds\n",
		len(f.clusters), f.objects/len(f.clusters), f.objects)
	labels := []string{
		"kubectl geofed plan",
		"kubectl geofed plan --refresh=full",
		"kubectl diff --server-side, clusters in a row",
		"kubectl diff --server-side, clusters at once",
	}
	width := 0
	for _, l := range labels {
		width = max(width, len(l))
	}
	for _, r := range rows {
		m := r.m
		fmt.Fprintf(&s, "\n%s (%d rounds):\n", r.name, m.rounds)
		w := tabwriter.NewWriter(&s, 0, 0, 2, ' ', tabwriter.AlignRight)
		cells := [][]string{
			{"", "wall", "requests", "requests/object"},
			{labels[0], seconds(m.plan), fmt.Sprint(m.planRequests), perObject(m.planRequests, f.objects)},
			{labels[1], seconds(m.planFull), fmt.Sprint(m.planFullRequests), perObject(m.planFullRequests, f.objects)},
			{labels[2], seconds(m.diffSeq), fmt.Sprint(m.kubectlRequests), perObject(m.kubectlRequests, f.objects)},
			{labels[3], seconds(m.diffPar), fmt.Sprint(m.kubectlRequests), perObject(m.kubectlRequests, f.objects)},
		}
		for _, c := range cells {
			// Padded alike, the labels read left-aligned.
			fmt.Fprintf(w, "  %-*s\t%s\t%s\t%s\t\n", width, c[0], c[1], c[2], c[3])
		}
		w.Flush()
		fmt.Fprintf(&s, "plan %s (%d requests, %s/object, %d dry-runs) vs kubectl diff --server-side %s in a row / %s at once (%d requests): %.1fx / %.1fx\n",
			seconds(m.plan), m.planRequests, perObject(m.planRequests, f.objects), m.dryRuns,
			seconds(m.diffSeq), seconds(m.diffPar), m.kubectlRequests,
			m.diffSeq.Seconds()/m.plan.Seconds(), m.diffPar.Seconds()/m.plan.Seconds())
	}
	return s.String()
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func perObject(n int64, objects int) string {
	return fmt.Sprintf("%.3f", float64(n)/float64(objects))
}
