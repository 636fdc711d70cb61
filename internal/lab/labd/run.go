package labd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
)

// An Addon runs beside the lab in the daemon; the GKE emulator is one. It
// starts serving, returns the environment variables a client needs to reach
// it (such as GKE_EMULATOR_HOST), and stops serving when ctx ends, which
// happens before the lab stops.
type Addon func(ctx context.Context, l *lab.Lab) (env map[string]string, err error)

// RunOptions configure Run.
type RunOptions struct {
	// Dir is the state directory.
	Dir string
	// BinDir holds the lab binaries; default $GEOFED_LAB_BIN.
	BinDir string
	// Clusters are started concurrently.
	Clusters []lab.ClusterSpec
	// Addons are started, in order, once the clusters are ready.
	Addons []Addon
	// Out receives progress lines.
	Out io.Writer
}

// refreshEvery is how often the daemon records clusters that addons added
// or removed (GKE clusters created through the emulator) in state.json.
const refreshEvery = 2 * time.Second

// Run runs a lab in the foreground until ctx ends, recording it in the state
// directory, and stops it and clears the directory's state before returning.
// It is what the daemon started by Up runs.
func Run(ctx context.Context, opts RunOptions) (err error) {
	// The env file and state name paths that must work from anywhere.
	if abs, err := filepath.Abs(opts.Dir); err == nil {
		opts.Dir = abs
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return fmt.Errorf("creating lab directory: %w", err)
	}
	if pid, err := readPID(opts.Dir); err == nil && pid != os.Getpid() {
		return fmt.Errorf("a lab is already running in %s (pid %d): stop it with geofed-lab down", opts.Dir, pid)
	}
	if err := os.WriteFile(pidPath(opts.Dir), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing lab pid: %w", err)
	}
	// Whatever happens, leave no state claiming a running lab.
	defer func() {
		for _, p := range []string{statePath(opts.Dir), pidPath(opts.Dir)} {
			if rmErr := os.Remove(p); rmErr != nil && !os.IsNotExist(rmErr) && err == nil {
				err = fmt.Errorf("clearing lab state: %w", rmErr)
			}
		}
	}()
	if err := os.RemoveAll(workDir(opts.Dir)); err != nil {
		return fmt.Errorf("clearing lab work directory: %w", err)
	}

	// The lab outlives ctx long enough to be stopped in order below.
	l, err := lab.Start(context.WithoutCancel(ctx), lab.Options{BinDir: opts.BinDir, WorkDir: workDir(opts.Dir), Log: opts.Out})
	if err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if stopErr := l.Stop(stopCtx); stopErr != nil && err == nil {
			err = stopErr
		}
	}()

	g, gctx := errgroup.WithContext(ctx)
	for _, spec := range opts.Clusters {
		g.Go(func() error {
			_, err := l.AddCluster(gctx, spec)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := l.Kubeconfig(kubeconfigPath(opts.Dir)); err != nil {
		return err
	}
	faults, err := startFaultProxies(ctx, opts.Dir, l.Clusters())
	if err != nil {
		return err
	}
	defer faults.Close()

	addonCtx, stopAddons := context.WithCancel(ctx)
	defer stopAddons()
	env := map[string]string{"KUBECONFIG": kubeconfigPath(opts.Dir)}
	if slices.ContainsFunc(opts.Clusters, func(s lab.ClusterSpec) bool { return s.RealNode }) {
		maps.Copy(env, podServerEnv(l.Clusters()))
	}
	for _, addon := range opts.Addons {
		vars, err := addon(addonCtx, l)
		if err != nil {
			return fmt.Errorf("starting lab addon: %w", err)
		}
		maps.Copy(env, vars)
	}
	if err := writeFileAtomic(envPath(opts.Dir), []byte(envFile(opts.Dir, env)), 0o644); err != nil {
		return fmt.Errorf("writing lab env file: %w", err)
	}

	state := State{PID: os.Getpid(), Started: time.Now().UTC().Truncate(time.Second), Env: env}
	if err := refreshState(opts.Dir, &state, l); err != nil {
		return err
	}
	fmt.Fprintf(opts.Out, "lab ready in %s\n", opts.Dir)

	tick := time.NewTicker(refreshEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(opts.Out, "stopping lab")
			return nil
		case <-tick.C:
			if err := refreshState(opts.Dir, &state, l); err != nil {
				return err
			}
		}
	}
}

// refreshState writes state.json when the lab's clusters differ from those
// it records.
func refreshState(dir string, s *State, l *lab.Lab) error {
	var clusters []ClusterState
	for _, c := range l.Clusters() {
		cs := ClusterState{Name: c.Name, Endpoint: c.Endpoint, Kubeconfig: c.KubeconfigPath, PodServer: c.PodEndpoint()}
		if ns := c.RealNodeMountNS(); ns != "" {
			cs.RealNode, cs.RealNodeMountNS, cs.RealNodeCgroup = lab.RealNodeName(c.Name), ns, c.RealNodeCgroup()
		}
		clusters = append(clusters, cs)
	}
	if s.Clusters != nil && slices.Equal(clusters, s.Clusters) {
		return nil
	}
	if clusters == nil {
		clusters = []ClusterState{}
	}
	s.Clusters = clusters
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(statePath(dir), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing lab state: %w", err)
	}
	return nil
}

// PodServerEnvPrefix starts the env file's variables that hold where Pods on
// real nodes reach each cluster's apiserver: GEOFED_LAB_POD_SERVER_HUB for
// cluster hub (upper case, dashes as underscores).
const PodServerEnvPrefix = "GEOFED_LAB_POD_SERVER_"

func podServerEnv(clusters []*lab.Cluster) map[string]string {
	env := map[string]string{}
	for _, c := range clusters {
		env[PodServerEnvPrefix+strings.ToUpper(strings.ReplaceAll(c.Name, "-", "_"))] = c.PodEndpoint()
	}
	return env
}

// envFile is the shell file that points clients at the lab.
func envFile(dir string, env map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# The geofed lab in %s. Use it with: source %s\n", dir, envPath(dir))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(env[k]))
	}
	return b.String()
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
