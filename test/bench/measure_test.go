package bench

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// measureEnv, set to 1, makes this test binary run the command in its
// arguments and report that command's own rusage on file descriptor 3.
//
// Why a process in between: os/exec starts a child with vfork, so the
// child's mm is its parent's until exec, and Linux then keeps the old mm's
// high-water mark in the child's ru_maxrss. Measured from the bench
// directly, every command's peak RSS is at least the bench's own (291 MiB
// at 64 clusters, where each command showed exactly that). Started from
// this process, freshly executed, a command's peak is floored only by what
// this binary holds once its packages are initialised: about 80 MiB, below
// anything the bench compares (kubectl and geofed hold more than 100 MiB).
const measureEnv = "GEOFED_BENCH_MEASURE"

func TestMain(m *testing.M) {
	if os.Getenv(measureEnv) == "1" {
		os.Exit(measureChild(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// measureChild runs args with this process's standard streams and writes
// "maxrss-KiB user-ns system-ns" to fd 3. It exits with the command's exit
// code, or 128+signal when a signal ended it. If this process is killed
// (the bench's limit), the command is killed with it.
func measureChild(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "measure: no command")
		return 125
	}
	syscall.CloseOnExec(3) // the command is not to hold the report open
	report := os.NewFile(3, "rusage")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, measureEnv+"=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err := cmd.Run()
	ps := cmd.ProcessState
	if ps == nil {
		fmt.Fprintf(os.Stderr, "measure: %v\n", err)
		return 126
	}
	ru, _ := ps.SysUsage().(*syscall.Rusage)
	if ru != nil && report != nil {
		fmt.Fprintf(report, "%d %d %d\n", ru.Maxrss, ps.UserTime().Nanoseconds(), ps.SystemTime().Nanoseconds())
		report.Close()
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// measured starts cmd (made by the caller, not yet started) through
// measureChild and returns the command's own peak RSS and CPU.
func measured(cmd *exec.Cmd) (rss int64, cpu time.Duration, err error) {
	self, err := os.Executable()
	if err != nil {
		return 0, 0, fmt.Errorf("finding the bench's own binary: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	cmd.Args = append([]string{self}, append([]string{cmd.Path}, cmd.Args[1:]...)...)
	cmd.Path = self
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, measureEnv+"=1")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		w.Close()
		return 0, 0, err
	}
	w.Close()
	data, _ := io.ReadAll(r)
	err = cmd.Wait()
	f := strings.Fields(string(data))
	if len(f) != 3 {
		return 0, 0, errors.Join(err, fmt.Errorf("the command's rusage was not reported"))
	}
	kib, _ := strconv.ParseInt(f[0], 10, 64)
	user, _ := strconv.ParseInt(f[1], 10, 64)
	sys, _ := strconv.ParseInt(f[2], 10, 64)
	return kib << 10, time.Duration(user + sys), err
}

// TestRunMeasuresTheCommandsOwnPeak holds 512 MiB in the bench's process
// and checks that a command's peak RSS is its own: for sh no more than the
// floor measureEnv describes, about 200 MiB for a dd with a 200 MiB buffer.
// Measured straight from this process, both would show at least 512 MiB.
func TestRunMeasuresTheCommandsOwnPeak(t *testing.T) {
	ballast := make([]byte, 512<<20)
	for i := range ballast {
		if i%4096 == 0 {
			ballast[i] = 1
		}
	}
	defer func() { _ = ballast[len(ballast)-1] }()

	tests := []struct {
		name     string
		args     []string
		wantCode int
		min, max int64
	}{
		{"sh exits 3", []string{"sh", "-c", "exit 3"}, 3, 0, 128 << 20},
		{"dd with a 200 MiB buffer", []string{"dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1"}, 0, 195 << 20, 300 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, err := exec.LookPath(tt.args[0])
			if err != nil {
				t.Fatal(err)
			}
			r := run(nil, "", path, tt.args[1:]...)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr: %s", r.code, tt.wantCode, r.stderr)
			}
			if r.rss < tt.min || r.rss > tt.max {
				t.Errorf("peak RSS %d MiB, want %d–%d MiB", r.rss>>20, tt.min>>20, tt.max>>20)
			}
		})
	}
	ballast[0] = 2
}
