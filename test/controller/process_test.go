package controller_test

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// binaries are built once, as a user would install them.
var controllerBinary, pluginBinary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "geofed-controller-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	controllerBinary = filepath.Join(dir, "geofed-controller")
	pluginBinary = filepath.Join(dir, "kubectl-geofed")
	for bin, pkg := range map[string]string{
		controllerBinary: "github.com/geofed-io/kubectl-geofed/cmd/geofed-controller",
		pluginBinary:     "github.com/geofed-io/kubectl-geofed/cmd/kubectl-geofed",
	} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", pkg, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// replica is one geofed-controller process, run as an operator would run
// it by hand: the real binary, flags, a kubeconfig for the hub.
type replica struct {
	name    string
	cmd     *exec.Cmd
	metrics string
	probe   string
	log     string
	exited  chan struct{}
}

// replicaFlags are the flags every replica in these tests runs with: a
// short leader Lease, so a hand-over fits in a test.
type replicaFlags struct {
	hubKubeconfig string
	resync        time.Duration
	extra         []string
	// electionDefaults runs the leader election with the binary's own
	// timings instead of the short ones below.
	electionDefaults bool
}

const (
	leaseDuration = 4 * time.Second
	renewDeadline = 3 * time.Second
	retryPeriod   = 500 * time.Millisecond
)

func startReplica(t *testing.T, name string, f replicaFlags) *replica {
	t.Helper()
	addrs := freeAddrs(t, 2)
	r := &replica{name: name, metrics: addrs[0], probe: addrs[1], exited: make(chan struct{})}
	r.log = filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(r.log)
	must(t, err)
	args := append([]string{
		"--kubeconfig", f.hubKubeconfig,
		"--namespace", namespace,
		"--metrics-bind-address", r.metrics,
		"--health-probe-bind-address", r.probe,
		"--resync", f.resync.String(),
		"--apply-timeout", "60s",
		"--member-timeout", "3s",
		"--member-request-timeout", "10s",
		"--drift-delay", "500ms",
		"--log-format", "text",
	}, f.extra...)
	if !f.electionDefaults {
		args = append(args,
			"--leader-elect-lease-duration", leaseDuration.String(),
			"--leader-elect-renew-deadline", renewDeadline.String(),
			"--leader-elect-retry-period", retryPeriod.String())
	}
	r.cmd = exec.Command(controllerBinary, args...)
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	must(t, r.cmd.Start())
	go func() {
		_ = r.cmd.Wait()
		logFile.Close()
		close(r.exited)
	}()
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			r.tail(t, 60)
		}
	})
	return r
}

// stop ends the replica as Kubernetes would, SIGTERM, and waits for it.
func (r *replica) stop() {
	select {
	case <-r.exited:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(20 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// kill ends it at once, as a node dying would: no Lease released, nothing
// finished.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	must(t, r.cmd.Process.Kill())
	<-r.exited
}

func (r *replica) tail(t *testing.T, n int) {
	data, _ := os.ReadFile(r.log)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	t.Logf("--- last lines of %s's log ---\n%s", r.name, strings.Join(lines, "\n"))
}

// waitReady waits for /readyz: the hub cache has synced.
func (r *replica) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + r.probe + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-r.exited:
			t.Fatalf("%s exited before it was ready", r.name)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 60s: %v", r.name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// scrape reads the replica's metrics; "" when it does not answer.
func (r *replica) scrape() string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.metrics+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// metric is the value of the first series of the metrics whose line starts
// with prefix, "" when there is none.
func metric(body, prefix string) string {
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, prefix) {
			f := strings.Fields(line)
			return f[len(f)-1]
		}
	}
	return ""
}

// leading says whether the replica leads, by controller-runtime's own
// leader_election_master_status series.
func (r *replica) leading() bool {
	return metric(r.scrape(), `leader_election_master_status{name="geofed-controller"}`) == "1"
}

// logHas says whether the replica's log has a line with every part.
func (r *replica) logHas(parts ...string) bool {
	data, _ := os.ReadFile(r.log)
	for _, line := range strings.Split(string(data), "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// grepLines is the lines of body that contain part.
func grepLines(body, part string) string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if strings.Contains(line, part) && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
