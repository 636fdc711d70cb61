// Package lab runs real Kubernetes control planes on loopback, for tests and
// the demo: one shared etcd, and per cluster a kube-apiserver,
// kube-controller-manager, kube-scheduler and a KWOK controller that plays the
// kubelets of fake nodes, so Pods get scheduled and turn Running, Deployments
// become Available and Jobs complete, with no container runtime.
//
// A cluster may also have one real node (ClusterSpec.RealNode, realnode.go):
// a kubelet with containerd and runc in network and mount namespaces the lab
// makes, whose Pods run real containers and reach the lab's apiservers.
//
// The binaries come from hack/lab-bin.sh (`make lab-bin`), which builds them
// at pinned versions from the Go modules under tools/; the lab finds them in
// Options.BinDir or $GEOFED_LAB_BIN.
package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// BinDirEnv names the environment variable that holds the directory of the
// lab binaries when Options.BinDir is empty.
const BinDirEnv = "GEOFED_LAB_BIN"

// ErrNoBinaries is returned by Start when the lab binaries are not where they
// were looked for.
var ErrNoBinaries = errors.New("lab binaries not found: run `make lab-bin` and export GEOFED_LAB_BIN=<the directory it prints>")

// binaries are the files Start requires in the bin directory.
var binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages"}

// Options configure a lab.
type Options struct {
	// BinDir holds the lab binaries; default $GEOFED_LAB_BIN.
	BinDir string
	// WorkDir holds etcd's data, certificates, kubeconfigs and one log per
	// process. Default: a new temporary directory, removed by Stop.
	WorkDir string
	// Log receives a line per lab event (a process started, a cluster
	// ready); default: discarded.
	Log io.Writer
}

// Lab is a running etcd and the clusters added to it. Its methods are safe
// for concurrent use.
type Lab struct {
	binDir      string
	workDir     string
	ownsWorkDir bool
	logMu       sync.Mutex
	log         io.Writer
	etcd        *etcd

	mu       sync.Mutex
	clusters map[string]*Cluster // by name; a name is reserved while its cluster starts
	closed   bool

	stopOnce sync.Once
	stopErr  error
	stopped  chan struct{}
}

// Start starts the lab's etcd. The lab runs until Stop, or until ctx is done,
// which stops it the same way.
func Start(ctx context.Context, opts Options) (*Lab, error) {
	binDir := opts.BinDir
	if binDir == "" {
		binDir = os.Getenv(BinDirEnv)
	}
	if err := checkBinaries(binDir); err != nil {
		return nil, err
	}
	// Processes run in their own directories, so every path they get is
	// absolute.
	if abs, err := filepath.Abs(binDir); err == nil {
		binDir = abs
	}
	l := &Lab{
		binDir:   binDir,
		workDir:  opts.WorkDir,
		log:      opts.Log,
		clusters: map[string]*Cluster{},
		stopped:  make(chan struct{}),
	}
	if l.log == nil {
		l.log = io.Discard
	}
	if l.workDir == "" {
		dir, err := os.MkdirTemp("", "geofed-lab-")
		if err != nil {
			return nil, fmt.Errorf("creating lab work directory: %w", err)
		}
		l.workDir, l.ownsWorkDir = dir, true
	} else if err := os.MkdirAll(l.workDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating lab work directory: %w", err)
	}
	if abs, err := filepath.Abs(l.workDir); err == nil {
		l.workDir = abs
	}

	start := time.Now()
	e, err := startEtcd(ctx, l.binDir, l.workDir)
	if err != nil {
		if l.ownsWorkDir {
			os.RemoveAll(l.workDir)
		}
		return nil, fmt.Errorf("starting lab etcd: %w", err)
	}
	l.etcd = e
	l.logf("etcd serving at %s (pid %d, %s)", e.url, e.proc.pid(), since(start))

	go func() {
		select {
		case <-ctx.Done():
			_ = l.Stop(context.WithoutCancel(ctx))
		case <-l.stopped:
		}
	}()
	return l, nil
}

func checkBinaries(dir string) error {
	if dir == "" {
		return fmt.Errorf("%w (%s is not set)", ErrNoBinaries, BinDirEnv)
	}
	for _, name := range binaries {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("%w (%v)", ErrNoBinaries, err)
		}
	}
	return nil
}

// WorkDir is where the lab keeps its files; see Options.WorkDir.
func (l *Lab) WorkDir() string { return l.workDir }

// Cluster returns the running cluster with that name, or nil.
func (l *Lab) Cluster(name string) *Cluster {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clusters[name]
	if c == nil || !c.ready {
		return nil
	}
	return c
}

// Clusters returns the running clusters, sorted by name.
func (l *Lab) Clusters() []*Cluster {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*Cluster, 0, len(l.clusters))
	for _, c := range l.clusters {
		if c.ready {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// AddCluster starts a cluster and returns once its apiserver serves, its
// nodes are Ready and it can run Pods. ctx bounds the start only: the
// cluster runs until Cluster.Stop or Lab.Stop.
func (l *Lab) AddCluster(ctx context.Context, spec ClusterSpec) (*Cluster, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	c := &Cluster{Name: spec.Name, lab: l}
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		return nil, fmt.Errorf("adding cluster %s: the lab is stopped", spec.Name)
	case l.clusters[spec.Name] != nil:
		l.mu.Unlock()
		return nil, fmt.Errorf("adding cluster %s: a cluster with that name exists", spec.Name)
	}
	l.clusters[spec.Name] = c
	l.mu.Unlock()

	start := time.Now()
	if err := c.start(ctx, spec); err != nil {
		_ = c.stopProcesses(context.WithoutCancel(ctx))
		l.forget(c)
		return nil, fmt.Errorf("adding cluster %s: %w", spec.Name, err)
	}
	l.mu.Lock()
	c.ready = true
	l.mu.Unlock()
	// Pods on real nodes reach every lab apiserver, this one too.
	l.syncForwarders(nil)
	l.logf("cluster %s ready at %s with %d nodes (%s)", c.Name, c.Endpoint, countNodes(spec.Nodes), since(start))
	return c, nil
}

func (l *Lab) forget(c *Cluster) {
	l.mu.Lock()
	if l.clusters[c.Name] == c {
		delete(l.clusters, c.Name)
	}
	l.mu.Unlock()
	l.syncForwarders(nil)
}

// Kubeconfig writes a kubeconfig with one context per running cluster, named
// after the cluster; the current context is the first cluster by name.
func (l *Lab) Kubeconfig(path string) error {
	cfg := kubeconfig(l.Clusters())
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("writing lab kubeconfig: %w", err)
	}
	return nil
}

// Stop stops every cluster, then etcd (an apiserver whose etcd is gone hangs
// in retries), killing what does not exit in time, and returns once no lab
// process is left. A work directory the lab created is removed. Calling Stop
// again returns the first call's result.
func (l *Lab) Stop(ctx context.Context) error {
	l.stopOnce.Do(func() {
		l.stopErr = l.stop(ctx)
		close(l.stopped)
	})
	return l.stopErr
}

func (l *Lab) stop(ctx context.Context) error {
	l.mu.Lock()
	l.closed = true
	clusters := make([]*Cluster, 0, len(l.clusters))
	for _, c := range l.clusters {
		clusters = append(clusters, c)
	}
	l.mu.Unlock()

	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(clusters))
	for i, c := range clusters {
		wg.Go(func() { errs[i] = c.stopProcesses(ctx) })
	}
	wg.Wait()
	l.etcd.proc.stop(ctx)
	stopErr := errors.Join(errs...)
	l.logf("lab stopped (%s)", since(start))

	if l.ownsWorkDir {
		if err := os.RemoveAll(l.workDir); err != nil {
			return errors.Join(stopErr, fmt.Errorf("removing lab work directory: %w", err))
		}
	}
	return stopErr
}

func (l *Lab) logf(format string, args ...any) {
	l.logMu.Lock()
	defer l.logMu.Unlock()
	fmt.Fprintf(l.log, "lab: "+format+"\n", args...)
}

func since(t time.Time) time.Duration {
	return time.Since(t).Round(10 * time.Millisecond)
}
