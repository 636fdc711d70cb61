// Package bench measures kubectl-geofed against what its users would run
// instead: loops of `kubectl diff --server-side` and `kubectl apply
// --server-side` over their clusters, one after the other and all at once.
// It runs the real binaries against lab fleets (`make bench`); benchmarks
// run only under -bench, so `go test ./...` stays fast.
package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// usage is what one process, or a loop of them, cost: wall time from the
// first start to the last exit, CPU time (user + system) summed over the
// processes, and the largest peak resident set of any one of them.
type usage struct {
	wall, cpu time.Duration
	rss       int64 // bytes
}

func (u usage) plus(v usage) usage {
	return usage{wall: u.wall + v.wall, cpu: u.cpu + v.cpu, rss: max(u.rss, v.rss)}
}

// scaled is u for k times the runs, one after the other: wall and CPU
// times k, the peak the same.
func (u usage) scaled(k float64) usage {
	return usage{wall: time.Duration(float64(u.wall) * k), cpu: time.Duration(float64(u.cpu) * k), rss: u.rss}
}

// result is one run of a binary.
type result struct {
	stdout, stderr string
	code           int
	err            error // the binary could not be run
	usage
}

// commandLimit is how long one command of the bench may run before it is
// killed. At 64 × 1,000, 64 kubectl diffs at once on two shared cores were
// seen to pass 15 minutes; a limit reached is reported as such, never as the
// command's own exit.
const commandLimit = 60 * time.Minute

func run(env []string, stdin string, name string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), commandLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	start := time.Now()
	rss, cpu, err := measured(cmd)
	r := result{stdout: out.String(), stderr: errOut.String()}
	r.wall = time.Since(start)
	r.rss, r.cpu = rss, cpu
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.err = fmt.Errorf("running %s %s: killed after %s, the bench's limit for one command", filepath.Base(name), strings.Join(args, " "), commandLimit)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		r.err = fmt.Errorf("running %s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
	}
	return r
}

// loop runs one command per cluster, one after the other or all at once,
// and returns what the lot cost; check judges each run.
func loop(clusters []string, parallel bool, cmd func(cluster string) result, check func(cluster string, r result) error) (usage, error) {
	results := make([]result, len(clusters))
	start := time.Now()
	if parallel {
		var g errgroup.Group
		g.SetLimit(atOnceLimit(len(clusters)))
		for i, c := range clusters {
			g.Go(func() error {
				results[i] = cmd(c)
				return nil
			})
		}
		_ = g.Wait()
	} else {
		for i, c := range clusters {
			results[i] = cmd(c)
		}
	}
	var u usage
	for i, r := range results {
		if err := check(clusters[i], r); err != nil {
			return u, fmt.Errorf("%s: %w", clusters[i], err)
		}
		u = u.plus(r.usage)
	}
	u.wall = time.Since(start)
	return u, nil
}

// kubectlPeak is what one kubectl diff or apply of 1,000 objects was
// measured to hold at its peak against lean lab apiservers, with margin.
const kubectlPeak = 200 << 20

// atOnceLimit is how many kubectl processes a loop "at once" runs at a
// time: all of them, unless the machine's available memory (less 2 GiB
// kept free for the others on it) cannot hold that many at kubectlPeak
// each: 64 at once beside 64 apiservers may not fit, and a loop killed
// for want of memory measures nothing. The report says when it bound.
func atOnceLimit(n int) int {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return n
	}
	for _, line := range strings.Split(string(data), "\n") {
		var kb int64
		if _, err := fmt.Sscanf(line, "MemAvailable: %d kB", &kb); err == nil {
			fit := int((kb<<10 - 2<<30) / kubectlPeak)
			return max(1, min(n, fit))
		}
	}
	return n
}

// kubectlDiffFile matches the header kubectl's default diff prints per
// differing object.
var kubectlDiffFile = regexp.MustCompile(`(?m)^diff -u -N \S+/(\S+) `)

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
		return fmt.Errorf("kubectl diff: exit %d with %d differing objects, want exit %d with %d\n%s\n%s", r.code, got, want, changed, tail(r.stdout), tail(r.stderr))
	}
	return nil
}

// applyResult checks a kubectl apply run: exit 0, every object reported.
func applyResult(r result, objects int) error {
	if r.err != nil {
		return r.err
	}
	if r.code != 0 {
		return fmt.Errorf("kubectl apply: exit %d\n%s", r.code, tail(r.stderr))
	}
	if got := strings.Count(r.stdout, " serverside-applied\n"); got != objects {
		return fmt.Errorf("kubectl apply reported %d objects serverside-applied, want %d\n%s", got, objects, tail(r.stdout))
	}
	return nil
}

// tail is the end of a long output, for an error message.
func tail(s string) string {
	const n = 4000
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// seconds formats a duration for the tables.
func seconds(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

func mib(bytes int64) string { return fmt.Sprintf("%d MiB", bytes>>20) }
