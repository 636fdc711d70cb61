package labd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
)

// upTimeout bounds how long Up waits for the daemon's clusters: a few
// clusters on a busy two-core machine take minutes, not hours.
const upTimeout = 10 * time.Minute

// UpOptions configure Up.
type UpOptions struct {
	// Dir is the state directory.
	Dir string
	// Command runs the daemon: a program and its arguments that call Run
	// with the same Dir (geofed-lab passes itself with "run --dir ...").
	Command []string
	// Out receives what Up has to say.
	Out io.Writer
}

// Up starts the daemon detached from the terminal and returns once its lab
// is ready, or with the end of its log if it failed.
func Up(ctx context.Context, opts UpOptions) error {
	if pid, err := readPID(opts.Dir); err == nil {
		return fmt.Errorf("a lab is already running in %s (pid %d): stop it with geofed-lab down", opts.Dir, pid)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return fmt.Errorf("creating lab directory: %w", err)
	}
	// What a previous daemon left behind would be mistaken for this one's.
	for _, p := range []string{statePath(opts.Dir), pidPath(opts.Dir)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("clearing stale lab state: %w", err)
		}
	}
	logFile, err := os.Create(logPath(opts.Dir))
	if err != nil {
		return fmt.Errorf("creating daemon log: %w", err)
	}
	defer logFile.Close()

	cmd := exec.Command(opts.Command[0], opts.Command[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A session of its own: the daemon outlives this command and the
	// terminal's hang-up and Ctrl-C.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting lab daemon: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	ctx, cancel := context.WithTimeout(ctx, upTimeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("lab daemon exited (%v):\n%s", err, tail(logPath(opts.Dir), 30))
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			return fmt.Errorf("lab not ready: %w; the daemon (pid %d) was asked to stop; its log is %s", ctx.Err(), cmd.Process.Pid, logPath(opts.Dir))
		case <-tick.C:
		}
		s, err := ReadState(opts.Dir)
		if err != nil {
			continue
		}
		printUp(opts.Out, opts.Dir, s)
		return nil
	}
}

func printUp(out io.Writer, dir string, s *State) {
	fmt.Fprintf(out, "Lab running in %s (daemon pid %d):\n", dir, s.PID)
	var real []ClusterState
	for _, c := range s.Clusters {
		fmt.Fprintf(out, "  %-20s %s\n", c.Name, c.Endpoint)
		if c.RealNode != "" {
			real = append(real, c)
		}
	}
	if len(real) > 0 {
		fmt.Fprintf(out, "\nPods on real nodes reach the apiservers at (FROM PODS in geofed-lab status):\n")
		for _, c := range s.Clusters {
			fmt.Fprintf(out, "  %-20s %s\n", c.Name, c.PodServer)
		}
	}
	fmt.Fprintf(out, "\nUse it:\n  source %s\n", envPath(dir))
	if len(s.Clusters) > 0 {
		fmt.Fprintf(out, "  kubectl --context %s get nodes\n", s.Clusters[0].Name)
	}
	for _, c := range real {
		fmt.Fprintf(out, "  geofed-lab image load %s IMAGE.tar   # then Pods with imagePullPolicy: Never on node %s\n", c.Name, c.RealNode)
	}
	fmt.Fprintf(out, "Stop it:\n  geofed-lab down --dir %s\n", dir)
}

// DownOptions configure Down.
type DownOptions struct {
	// Dir is the state directory; Down removes it.
	Dir string
	Out io.Writer
}

// downTimeout is how long the daemon gets to stop its lab in order before it
// is killed; killing it also kills the lab's processes (they die with it).
const downTimeout = 2 * time.Minute

// Down stops the daemon of dir and removes the directory. With no lab
// running it only removes what is left of one.
func Down(ctx context.Context, opts DownOptions) error {
	// Read before the daemon removes it: what a daemon that dies (or is
	// killed below) leaves running.
	cgroups := realNodeCgroups(opts.Dir)
	pid, err := readPID(opts.Dir)
	switch {
	case errors.Is(err, ErrNoLab):
		fmt.Fprintf(opts.Out, "No lab running in %s\n", opts.Dir)
	case err != nil:
		return err
	default:
		if err := stopDaemon(ctx, pid); err != nil {
			return err
		}
		fmt.Fprintf(opts.Out, "Lab in %s stopped\n", opts.Dir)
	}
	for _, cg := range cgroups {
		if err := lab.RemoveRealNodeLeftovers(ctx, cg); err != nil {
			return fmt.Errorf("clearing what the lab's real node left running: %w", err)
		}
	}
	if err := os.RemoveAll(opts.Dir); err != nil {
		return fmt.Errorf("removing lab directory: %w", err)
	}
	return nil
}

// realNodeCgroups are the cgroups of the real nodes state.json records.
func realNodeCgroups(dir string) []string {
	data, err := os.ReadFile(statePath(dir))
	if err != nil {
		return nil
	}
	var s State
	if json.Unmarshal(data, &s) != nil {
		return nil
	}
	var out []string
	for _, c := range s.Clusters {
		if c.RealNodeCgroup != "" {
			out = append(out, c.RealNodeCgroup)
		}
	}
	return out
}

func stopDaemon(ctx context.Context, pid int) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stopping lab daemon %d: %w", pid, err)
	}
	ctx, cancel := context.WithTimeout(ctx, downTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for alive(pid) {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return fmt.Errorf("lab daemon %d did not stop in time and was killed", pid)
		case <-tick.C:
		}
	}
	return nil
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
