package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// stopGrace is how long a process gets to exit after SIGTERM before its
// whole process group is killed. Lab state is thrown away, so there is
// nothing worth waiting longer for.
const stopGrace = 5 * time.Second

// process is one running lab binary. It runs in its own process group, so
// stopping it also stops anything it started, and a terminal's Ctrl-C, which
// goes to the foreground group only, reaches the lab's owner rather than
// killing the control plane out of order under it.
type process struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	grace   time.Duration
	done    chan struct{} // closed once the process has been waited for
	err     error         // the result of Wait, valid after done is closed
}

type processSpec struct {
	name    string // for messages: "etcd", "serving-us/kube-apiserver"
	path    string
	args    []string
	env     []string // added to the lab's own environment
	dir     string
	logPath string
	// grace is how long stop waits after SIGTERM; default stopGrace.
	grace time.Duration
}

func startProcess(spec processSpec) (*process, error) {
	logFile, err := os.OpenFile(spec.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening log of %s: %w", spec.name, err)
	}
	fmt.Fprintf(logFile, "=== %s %s %s\n", time.Now().Format(time.RFC3339), spec.path, strings.Join(spec.args, " "))

	cmd := exec.Command(spec.path, spec.args...)
	cmd.Dir = spec.dir
	cmd.Env = append(os.Environ(), spec.env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", spec.name, err)
	}
	p := &process{name: spec.name, logPath: spec.logPath, cmd: cmd, grace: spec.grace, done: make(chan struct{})}
	if p.grace == 0 {
		p.grace = stopGrace
	}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// pid is the process id, which is also its process group id.
func (p *process) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended, and how.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// stop ends the process group: SIGTERM, then SIGKILL after the process's
// grace period or when ctx ends, whichever comes first. It returns once the process has been
// reaped.
func (p *process) stop(ctx context.Context) {
	if done, _ := p.exited(); done {
		// The leader is gone but a child it left in the group may not be.
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
		return
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
	// A paused process (Cluster.PauseAPIServer) acts on SIGTERM only once
	// continued; continuing a running one does nothing.
	_ = syscall.Kill(-p.pid(), syscall.SIGCONT)
	grace := time.NewTimer(p.grace)
	defer grace.Stop()
	select {
	case <-p.done:
	case <-grace.C:
	case <-ctx.Done():
	}
	// Also after a clean exit: nothing of the group may outlive the lab.
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	<-p.done
}

// signal sends sig to the process group, unless the process has ended.
func (p *process) signal(sig syscall.Signal) error {
	if done, err := p.exited(); done {
		return fmt.Errorf("%s is not running (exited: %v)", p.name, err)
	}
	if err := syscall.Kill(-p.pid(), sig); err != nil {
		return fmt.Errorf("sending %v to %s: %w", sig, p.name, err)
	}
	return nil
}

// failure describes a process that did not come up, with the end of its log,
// which is where the reason is.
func (p *process) failure(what string, cause error) error {
	msg := fmt.Sprintf("%s: %s", p.name, what)
	if done, err := p.exited(); done {
		msg += fmt.Sprintf(" (exited: %v)", err)
	}
	return fmt.Errorf("%s: %w\n--- last lines of %s ---\n%s", msg, cause, p.logPath, tailFile(p.logPath, 25))
}

// tailFile returns the last n lines a file's latest run wrote (logs are
// appended to across restarts; each run starts with a "=== " line), or a note
// saying why it cannot.
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	defer f.Close()
	// Logs can be large; the end is what matters.
	const window = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > window {
		if _, err := f.Seek(-window, io.SeekEnd); err != nil {
			return fmt.Sprintf("(cannot read log: %v)", err)
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	for i := len(lines) - 1; i > 0; i-- {
		if bytes.HasPrefix(lines[i], []byte("=== ")) {
			lines = lines[i:]
			break
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// errAddrInUse marks a start that failed because another process took the
// port between the lab picking it and the binary binding it; the caller picks
// a new port and tries again.
var errAddrInUse = errors.New("address already in use")

func logSaysAddrInUse(path string) bool {
	return strings.Contains(tailFile(path, 50), "address already in use")
}
