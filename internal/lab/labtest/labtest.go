// Package labtest starts lab clusters for tests. It is apart from package lab
// so that programs using the lab (geofed-lab) do not link package testing.
package labtest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
)

// New starts a lab with the given clusters, concurrently, and stops it when
// the test ends. It fails the test (never skips it) when the lab binaries are
// missing: CI builds them, so a test that could not run must not pass.
// A failed test's log shows the end of every lab process log.
func New(t testing.TB, specs ...lab.ClusterSpec) (*lab.Lab, []*lab.Cluster) {
	t.Helper()
	ctx := context.Background()
	l, err := lab.Start(ctx, lab.Options{WorkDir: t.TempDir(), Log: logWriter{t}})
	if errors.Is(err, lab.ErrNoBinaries) {
		t.Fatalf("%v\n(the lab needs real Kubernetes binaries; `make lab-bin` builds them once into a cache)", err)
	}
	if err != nil {
		t.Fatalf("starting lab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logTails(t, l.WorkDir())
		}
		stopCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := l.Stop(stopCtx); err != nil {
			t.Errorf("stopping lab: %v", err)
		}
	})

	clusters := make([]*lab.Cluster, len(specs))
	var g errgroup.Group
	// An apiserver takes seconds of CPU to start: the 64 of a benchmark
	// started at once would starve each other past their start timeout.
	g.SetLimit(startsAtOnce)
	for i, spec := range specs {
		g.Go(func() error {
			c, err := l.AddCluster(ctx, spec)
			clusters[i] = c
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("starting lab clusters: %v", err)
	}
	return l, clusters
}

// startsAtOnce is how many clusters New starts at a time.
const startsAtOnce = 8

// logWriter sends the lab's event lines to the test log.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// logTails logs the end of every process log under dir.
func logTails(t testing.TB, dir string) {
	var logs []string
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".log") {
			logs = append(logs, path)
		}
		return nil
	})
	sort.Strings(logs)
	for _, path := range logs {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		rel, _ := filepath.Rel(dir, path)
		t.Logf("--- last lines of %s ---\n%s", rel, strings.Join(lines, "\n"))
	}
}
