package bench

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkFromNothing measures one scenario of the sweep alone, apply
// from nothing, against `kubectl apply --server-side` run on every cluster
// at once: the quick loop for working on apply's speed, on a fleet small
// enough to share a machine. BENCH_FROM_NOTHING lists the sizes as BENCH
// does (4x1000 by default); BENCH_ROUNDS is how many rounds (3), each
// applying fresh copies, the contenders in turn so that the machine's load
// weighs on all alike. BENCH_BASELINE names an earlier kubectl-geofed
// binary applied beside this one: a change's before and after in one lab.
// BENCH_BINARY names the binary measured instead of a build of this tree.
// BENCH_PROFILE=DIR writes a CPU profile of each geofed apply there.
//
// Besides wall time, it reads the CPU the apiservers spent serving each
// contender (their own process_cpu_seconds_total): on a machine whose
// cores the apiservers saturate, wall time follows the CPU of client and
// servers together, which a loaded machine's noise moves far less.
func BenchmarkFromNothing(b *testing.B) {
	binary := os.Getenv("BENCH_BINARY")
	if binary == "" {
		binary = filepath.Join(b.TempDir(), "kubectl-geofed")
		build := exec.Command("go", "build", "-o", binary, "github.com/geofed-io/kubectl-geofed/cmd/kubectl-geofed")
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("building kubectl-geofed: %v\n%s", err, out)
		}
	}
	spec := os.Getenv("BENCH_FROM_NOTHING")
	if spec == "" {
		spec = "4x1000"
	}
	sizes, err := sweepSizes(spec)
	if err != nil {
		b.Fatal(err)
	}
	n := 3
	if v := os.Getenv("BENCH_ROUNDS"); v != "" {
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("BENCH_ROUNDS=%q: want a count of rounds", v)
		}
	}
	contenders := []fromNothingContender{{name: "geofed apply", binary: binary}}
	if baseline := os.Getenv("BENCH_BASELINE"); baseline != "" {
		if _, err := os.Stat(baseline); err != nil {
			b.Fatalf("BENCH_BASELINE: %v", err)
		}
		contenders = append(contenders, fromNothingContender{name: "geofed apply, baseline build", binary: baseline})
	}
	contenders = append(contenders, fromNothingContender{name: string(cKubectlApplyPar)})
	var out strings.Builder
	for _, sz := range sizes {
		b.Run(sz.String(), func(b *testing.B) {
			fromNothing(b, &out, sz, n, contenders, os.Getenv("BENCH_PROFILE"))
		})
	}
	fmt.Printf("\n## Apply from nothing, %d rounds: the median round of each contender\n\n%s", n, out.String())
}

// fromNothingContender is geofed (a binary) or, with none, the kubectl loop.
type fromNothingContender struct {
	name, binary string
}

func fromNothing(b *testing.B, w *strings.Builder, sz size, rounds int, contenders []fromNothingContender, profiles string) {
	s := scenarioFor(sz)
	f := newFleet(b, contenders[0].binary, s)
	type run struct {
		u      usage
		server time.Duration
		req    verbs
	}
	runs := make([][]run, len(contenders))
	for r := range rounds {
		for i, c := range contenders {
			prefix := fmt.Sprintf("c%dr%d-", i, r)
			var fn func() usage
			if c.binary == "" {
				manifests := f.kubectlCopy(b, prefix, "")
				fn = func() usage { return f.applies(b, true, manifests) }
			} else {
				topo, err := s.write(filepath.Join(f.dir, prefix), "bench-"+strings.TrimSuffix(prefix, "-"), prefix, "")
				if err != nil {
					b.Fatal(err)
				}
				var extra []string
				if profiles != "" {
					extra = []string{"--profile", "cpu", "--profile-output", filepath.Join(profiles, fmt.Sprintf("apply-%s-c%d-r%d.pprof", sz, i, r))}
				}
				fn = func() usage { return f.applyWith(b, c.binary, topo, f.objects, extra...) }
			}
			var one run
			cpu := f.serverCPU(b)
			one.req = f.counted(b, func() { one.u = fn() })
			one.server = f.serverCPU(b) - cpu
			runs[i] = append(runs[i], one)
			b.Logf("round %d: %s %s (client CPU %s, apiservers' CPU %s)", r, c.name, seconds(one.u.wall), seconds(one.u.cpu), seconds(one.server))
		}
	}
	fmt.Fprintf(w, "%s (%d objects):\n\n| contender | wall | client CPU | apiservers' CPU | client + apiservers | peak RSS | requests | kubectl at once / this, wall | by CPU |\n|---|---|---|---|---|---|---|---|---|\n", sz, f.objects)
	med := make([]run, len(runs))
	for i, rs := range runs {
		s := slices.Clone(rs)
		slices.SortFunc(s, func(a, b run) int { return int(a.u.wall - b.u.wall) })
		med[i] = s[len(s)/2]
	}
	kc := med[len(med)-1]
	for i, m := range med {
		total, kcTotal := m.u.cpu+m.server, kc.u.cpu+kc.server
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %.2f× | %.2f× |\n", contenders[i].name, seconds(m.u.wall), seconds(m.u.cpu),
			seconds(m.server), seconds(total), mib(m.u.rss), m.req, kc.u.wall.Seconds()/m.u.wall.Seconds(), kcTotal.Seconds()/total.Seconds())
	}
	fmt.Fprintln(w)
}

// serverCPU is the CPU time every apiserver of the fleet has used so far,
// as each reports it (process_cpu_seconds_total).
func (f *fleet) serverCPU(b *testing.B) time.Duration {
	b.Helper()
	var sum float64
	for name, hc := range f.metrics {
		resp, err := hc.Get(f.lab[name].Endpoint + "/metrics")
		if err != nil {
			b.Fatalf("reading the metrics of %s: %v", name, err)
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		found := false
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "process_cpu_seconds_total "); ok {
				x, err := strconv.ParseFloat(v, 64)
				if err != nil {
					b.Fatalf("metrics of %s: cannot read %q", name, sc.Text())
				}
				sum += x
				found = true
			}
		}
		resp.Body.Close()
		if !found {
			b.Fatalf("metrics of %s: no process_cpu_seconds_total", name)
		}
	}
	return time.Duration(sum * float64(time.Second))
}
