package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// fleet is a lab of apiserver-only clusters, each receiving a scenario's
// objects from geofed (topology "bench", namespaces app-NN) and, for the
// kubectl loops to apply, the same objects without geofed's labels in
// namespaces of their own (s0-app-NN in a row, p0-app-NN all at once).
type fleet struct {
	s          scenario
	binary     string // kubectl-geofed, built from this tree
	kubectl    string // the lab's kubectl, of the lab's Kubernetes version
	kubeconfig string // one context per cluster, named after it
	cacheDir   string // kubectl's discovery cache, warm after the first run
	dir        string // the topology's repository
	topology   string
	clusters   []string
	lab        map[string]*lab.Cluster
	// metrics reads each apiserver's /metrics, to count requests where
	// they are served, the same way for every contender.
	metrics map[string]*http.Client
	// manifests holds each cluster's rendered manifests, as geofed applies
	// them, for kubectl diff.
	manifests map[string]string
	objects   int // over all clusters
	// background is what the idle apiservers served of their own over
	// backgroundOver, when they never went a second without a request;
	// counted leaves that rate out.
	background     verbs
	backgroundOver time.Duration
}

func newFleet(b *testing.B, binary string, s scenario) *fleet {
	b.Helper()
	binDir := os.Getenv(lab.BinDirEnv)
	f := &fleet{
		s:          s,
		binary:     binary,
		kubectl:    filepath.Join(binDir, "kubectl"),
		kubeconfig: filepath.Join(b.TempDir(), "kubeconfig"),
		cacheDir:   b.TempDir(),
		dir:        b.TempDir(),
		clusters:   s.clusterNames(),
		lab:        map[string]*lab.Cluster{},
		metrics:    map[string]*http.Client{},
		manifests:  map[string]string{},
		objects:    s.Clusters * s.objectsPerCluster(),
	}
	if _, err := os.Stat(f.kubectl); err != nil {
		b.Fatalf("no kubectl in %s=%q (`make lab-bin` builds it): %v", lab.BinDirEnv, binDir, err)
	}
	specs := make([]lab.ClusterSpec, len(f.clusters))
	for i, name := range f.clusters {
		specs[i] = lab.ClusterSpec{Name: name, APIServerOnly: true, Lean: true}
	}
	start := time.Now()
	l, clusters := labtest.New(b, specs...)
	b.Logf("%d apiserver-only clusters up in %s", len(clusters), seconds(time.Since(start)))
	if err := l.Kubeconfig(f.kubeconfig); err != nil {
		b.Fatal(err)
	}
	for _, c := range clusters {
		f.lab[c.Name] = c
		hc, err := rest.HTTPClientFor(c.RESTConfig())
		if err != nil {
			b.Fatal(err)
		}
		f.metrics[c.Name] = hc
	}
	// Counting by the servers' metrics is sound only if nothing else
	// talks to them (and reading /metrics is not counted itself).
	// Fresh apiservers still write their bootstrap objects (priority
	// classes, the kubernetes Service) for a few seconds: wait until a
	// second passes with no request served. 64 of them on two loaded
	// cores never do (their own informers re-watch and their periodic
	// GETs add up to ~200 requests a second): past a minute, their rate
	// over 10 s is taken as the background that every count leaves out.
	deadline := time.Now().Add(time.Minute)
	for {
		before := f.requests(b)
		time.Sleep(time.Second)
		d := f.requests(b).minus(before)
		if d.total() == 0 {
			break
		}
		if time.Now().After(deadline) {
			const window = 10 * time.Second
			before := f.requests(b)
			time.Sleep(window)
			f.background = f.requests(b).minus(before)
			f.backgroundOver = window
			b.Logf("the idle apiservers serve %v in %s of their own: counts leave that rate out", f.background, window)
			break
		}
	}
	return f
}

// write (re)writes geofed's topology at a revision.
func (f *fleet) write(b *testing.B, revision string) {
	b.Helper()
	var err error
	if f.topology, err = f.s.write(f.dir, "bench", "", revision); err != nil {
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
	objects := 0
	for _, dc := range d.Clusters {
		docs := make([]string, 0, len(dc.Objects))
		for _, o := range dc.Objects {
			y, err := yaml.Marshal(o.Object.Object)
			if err != nil {
				b.Fatal(err)
			}
			docs = append(docs, string(y))
		}
		path := filepath.Join(f.dir, dc.Name+".yaml")
		if err := os.WriteFile(path, []byte(strings.Join(docs, "---\n")), 0o600); err != nil {
			b.Fatal(err)
		}
		f.manifests[dc.Name] = path
		objects += len(dc.Objects)
	}
	if objects != f.objects {
		b.Fatalf("rendered %d objects, want %d", objects, f.objects)
	}
}

// kubectlCopy writes the scenario's manifests for a kubectl loop, in
// namespaces with prefix, and returns the file.
func (f *fleet) kubectlCopy(b *testing.B, prefix, revision string) string {
	b.Helper()
	path := filepath.Join(f.dir, prefix+"manifests.yaml")
	if err := os.WriteFile(path, []byte(f.s.manifests(prefix, revision)), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

func (f *fleet) geofed(b *testing.B, args ...string) result {
	b.Helper()
	return f.run(b, f.binary, args...)
}

// run runs a kubectl-geofed binary on the fleet.
func (f *fleet) run(b *testing.B, binary string, args ...string) result {
	b.Helper()
	r := run([]string{"KUBECONFIG=" + f.kubeconfig, "NO_COLOR=1"}, "", binary, args...)
	if r.err != nil {
		b.Fatal(r.err)
	}
	return r
}

func (f *fleet) kubectlArgs(cluster string, args ...string) []string {
	return append([]string{"--kubeconfig", f.kubeconfig, "--context", cluster, "--cache-dir", f.cacheDir}, args...)
}

// kubectlDiff is what a user runs to see what applying a cluster's
// manifests would change, with geofed's field manager. --force-conflicts,
// as geofed's plan shows what forcing would change too (and marks it a
// conflict) where kubectl would otherwise stop at the first conflict.
func (f *fleet) kubectlDiff(cluster string) result {
	args := f.kubectlArgs(cluster, "diff", "--server-side", "--force-conflicts", "--field-manager=kubectl-geofed", "-f", f.manifests[cluster])
	// The default diff program, whose headers diffResult reads.
	return run([]string{"KUBECTL_EXTERNAL_DIFF="}, "", f.kubectl, args...)
}

// kubectlApply is what a user runs to apply a cluster's manifests.
func (f *fleet) kubectlApply(cluster, manifests string) result {
	return run(nil, "", f.kubectl, f.kubectlArgs(cluster, "apply", "--server-side", "-f", manifests)...)
}

// verbs counts requests by verb (LIST, GET, APPLY, PATCH, …).
type verbs map[string]int64

func (v verbs) total() int64 {
	var n int64
	for _, c := range v {
		n += c
	}
	return n
}

// minus is v − before.
func (v verbs) minus(before verbs) verbs {
	d := verbs{}
	for verb, n := range v {
		if n -= before[verb]; n != 0 {
			d[verb] = n
		}
	}
	return d
}

// scaled is v times k, rounded.
func (v verbs) scaled(k float64) verbs {
	if v == nil {
		return nil
	}
	out := verbs{}
	for verb, n := range v {
		out[verb] = int64(math.Round(float64(n) * k))
	}
	return out
}

func (v verbs) String() string {
	var parts []string
	for _, verb := range []string{"LIST", "GET", "APPLY", "PATCH", "CREATE", "UPDATE", "DELETE", "WATCH"} {
		if v[verb] != 0 {
			parts = append(parts, fmt.Sprintf("%d %s", v[verb], verb))
		}
	}
	for verb, n := range v {
		if !strings.Contains("LIST GET APPLY PATCH CREATE UPDATE DELETE WATCH", verb) && n != 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, verb))
		}
	}
	return strings.Join(parts, ", ")
}

var requestTotal = regexp.MustCompile(`^apiserver_request_total\{(.*)\} (\S+)$`)
var verbLabel = regexp.MustCompile(`(?:^|,)verb="([A-Z]+)"`)

// requests reads every apiserver's apiserver_request_total, by verb, summed
// over the clusters.
func (f *fleet) requests(b *testing.B) verbs {
	b.Helper()
	var mu sync.Mutex
	sum := verbs{}
	var g errgroup.Group
	for name, hc := range f.metrics {
		g.Go(func() error {
			resp, err := hc.Get(f.lab[name].Endpoint + "/metrics")
			if err != nil {
				return fmt.Errorf("reading the metrics of %s: %w", name, err)
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			local := verbs{}
			for sc.Scan() {
				m := requestTotal.FindStringSubmatch(sc.Text())
				if m == nil {
					continue
				}
				if strings.Contains(m[1], `resource="ipaddresses"`) {
					// The apiserver's own ClusterIP allocator records each
					// Service's address through its loopback client: the
					// server's work, not a client's request.
					continue
				}
				verb := verbLabel.FindStringSubmatch(m[1])
				n, err := strconv.ParseFloat(m[2], 64)
				if verb == nil || err != nil {
					return fmt.Errorf("metrics of %s: cannot read %q", name, sc.Text())
				}
				local[verb[1]] += int64(n)
			}
			mu.Lock()
			defer mu.Unlock()
			for v, n := range local {
				sum[v] += n
			}
			return sc.Err()
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	return sum
}

// counted runs fn and returns the requests the fleet's servers served
// meanwhile.
func (f *fleet) counted(b *testing.B, fn func()) verbs {
	b.Helper()
	before := f.requests(b)
	start := time.Now()
	fn()
	d := f.requests(b).minus(before)
	if f.background != nil {
		// The servers' own requests over that time, at the idle rate.
		k := float64(time.Since(start)) / float64(f.backgroundOver)
		for verb, n := range f.background.scaled(k) {
			d[verb] = max(0, d[verb]-n)
		}
	}
	return d
}

// planJSON runs plan -o json, checks it reports exactly changedPerCluster
// changes on every cluster and every rendered object, and returns the run
// and the requests plan counted itself.
func (f *fleet) planJSON(b *testing.B, refresh string, changedPerCluster int) (result, int64) {
	b.Helper()
	r := f.geofed(b, "plan", "-f", f.topology, "-o", "json", "--refresh", refresh)
	if r.code != 0 {
		b.Fatalf("plan -o json --refresh %s: exit %d\n%s", refresh, r.code, tail(r.stderr))
	}
	var p plan.Plan
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		b.Fatalf("decoding plan: %v\n%s", err, tail(r.stdout))
	}
	objects := 0
	var requests int64
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
			}
			if len(changed) != changedPerCluster {
				b.Fatalf("plan --refresh %s: %s has %d changes, want %d: %v", refresh, c.Name, len(changed), changedPerCluster, changed[:min(len(changed), 10)])
			}
			objects += len(c.Objects)
			requests += c.Requests
		}
	}
	if objects != f.objects {
		b.Fatalf("plan --refresh %s lists %d objects, %d rendered", refresh, objects, f.objects)
	}
	return r, requests
}

// timedPlan runs plan as a user does, checking its exit code.
func (f *fleet) timedPlan(b *testing.B, refresh string, wantExit int) usage {
	b.Helper()
	return f.timedPlanWith(b, f.binary, refresh, wantExit)
}

// timedPlanWith is timedPlan with another kubectl-geofed binary.
func (f *fleet) timedPlanWith(b *testing.B, binary, refresh string, wantExit int) usage {
	b.Helper()
	r := f.run(b, binary, "plan", "-f", f.topology, "--refresh", refresh, "--detailed-exitcode")
	if r.code != wantExit {
		b.Fatalf("%s plan --refresh %s: exit %d, want %d\n%s\n%s", binary, refresh, r.code, wantExit, tail(r.stdout), tail(r.stderr))
	}
	return r.usage
}

// apply runs geofed's apply, as a CI job does, checking it succeeded and
// applied exactly the objects it should have.
func (f *fleet) apply(b *testing.B, topologyPath string, wantApplied int, extra ...string) usage {
	b.Helper()
	return f.applyWith(b, f.binary, topologyPath, wantApplied, extra...)
}

// applyWith is apply with another kubectl-geofed binary.
func (f *fleet) applyWith(b *testing.B, binary, topologyPath string, wantApplied int, extra ...string) usage {
	b.Helper()
	r := f.run(b, binary, append([]string{"apply", "-f", topologyPath, "--yes", "--wait=false"}, extra...)...)
	if r.code != 0 {
		b.Fatalf("%s apply: exit %d\n%s\n%s", binary, r.code, tail(r.stdout), tail(r.stderr))
	}
	want := fmt.Sprintf(" %d objects applied, 0 pruned", wantApplied)
	if !strings.Contains(r.stdout+r.stderr, want) {
		b.Fatalf("%s apply: want %q in its report\n%s\n%s", binary, want, tail(r.stdout), tail(r.stderr))
	}
	return r.usage
}

// diffs times kubectl diff on every cluster (in a row: on the sample).
func (f *fleet) diffs(b *testing.B, parallel bool, changedPerCluster int) usage {
	b.Helper()
	u, err := loop(f.loopClusters(parallel), parallel, f.kubectlDiff, func(_ string, r result) error { return diffResult(r, changedPerCluster) })
	if err != nil {
		b.Fatal(err)
	}
	return u
}

// applies times kubectl apply of manifests on every cluster (in a row: on
// the sample).
func (f *fleet) applies(b *testing.B, parallel bool, manifests string) usage {
	b.Helper()
	u, err := loop(f.loopClusters(parallel), parallel, func(c string) result { return f.kubectlApply(c, manifests) },
		func(_ string, r result) error { return applyResult(r, f.s.objectsPerCluster()) })
	if err != nil {
		b.Fatal(err)
	}
	return u
}

// loopClusters are the clusters a kubectl loop runs on: all of them at
// once; in a row, the first sampledInARow of a larger fleet.
func (f *fleet) loopClusters(parallel bool) []string {
	if parallel || len(f.clusters) <= sampledInARow {
		return f.clusters
	}
	return f.clusters[:sampledInARow]
}

// inARowScale is what an in-a-row loop's figures are multiplied by to
// stand for the whole fleet: 1 unless it ran on a sample.
func (f *fleet) inARowScale() float64 {
	return float64(len(f.clusters)) / float64(len(f.loopClusters(false)))
}

// listResponse matches a LIST in client-go's -v=6 request log.
var listResponse = regexp.MustCompile(`"Response" verb="GET" url="([^"]+labelSelector=[^"]+)"`)

// planLists returns the LISTs plan sends, read from its request log.
func (f *fleet) planLists(b *testing.B) []string {
	b.Helper()
	r := f.geofed(b, "plan", "-f", f.topology, "-v=6")
	if r.code != 0 {
		b.Fatalf("plan -v=6: exit %d\n%s", r.code, tail(r.stderr))
	}
	var urls []string
	for _, m := range listResponse.FindAllStringSubmatch(r.stderr, -1) {
		urls = append(urls, m[1])
	}
	if len(urls) == 0 {
		b.Fatalf("plan -v=6 logged no LIST that %v matches; has client-go's log format changed?\n%s", listResponse, tail(r.stderr))
	}
	return urls
}

// floor sends the LISTs plan sends, all at once, with a minimal client: one
// TLS connection per cluster (HTTP/2, as client-go's), the bodies read and
// not decoded. It is what any tool that reads those objects must wait for.
func (f *fleet) floor(b *testing.B, urls []string) time.Duration {
	b.Helper()
	clients := map[string]*http.Client{}
	for _, c := range f.lab {
		tc, err := rest.TLSConfigFor(c.RESTConfig())
		if err != nil {
			b.Fatal(err)
		}
		clients[strings.TrimPrefix(c.Endpoint, "https://")] = &http.Client{Transport: &http.Transport{TLSClientConfig: tc.Clone(), ForceAttemptHTTP2: true}}
	}
	start := time.Now()
	var g errgroup.Group
	for _, u := range urls {
		g.Go(func() error {
			host := strings.SplitN(strings.TrimPrefix(u, "https://"), "/", 2)[0]
			hc := clients[host]
			if hc == nil {
				return fmt.Errorf("LIST %s: no lab cluster at %s", u, host)
			}
			req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
			if err != nil {
				return err
			}
			req.Header.Set("Accept", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("LIST %s: %s", u, resp.Status)
			}
			_, err = io.Copy(io.Discard, resp.Body)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	for _, hc := range clients {
		hc.CloseIdleConnections()
	}
	return elapsed
}

// apiserverMemory is what the fleet's lab apiservers hold, read from /proc.
type apiserverMemory struct {
	n                       int
	privateMean, privateMax int64
	rssMean, peakMax        int64
}

func (m apiserverMemory) String() string {
	return fmt.Sprintf("lab apiservers (%d): private memory %s each on average (%s at most, %s in all), RSS %s on average (shared binary pages included), peak RSS %s at most",
		m.n, mib(m.privateMean), mib(m.privateMax), mib(m.privateMean*int64(m.n)), mib(m.rssMean), mib(m.peakMax))
}

// apiserverMemory reads every apiserver's memory.
func (f *fleet) apiserverMemory(b *testing.B) apiserverMemory {
	b.Helper()
	var m apiserverMemory
	var private, rss int64
	for _, name := range f.clusters {
		mem, err := f.lab[name].APIServerMemory()
		if err != nil {
			b.Fatal(err)
		}
		m.n++
		private += mem.Private
		rss += mem.RSS
		m.privateMax = max(m.privateMax, mem.Private)
		m.peakMax = max(m.peakMax, mem.Peak)
	}
	if m.n > 0 {
		m.privateMean, m.rssMean = private/int64(m.n), rss/int64(m.n)
	}
	return m
}
