// Package labd keeps a lab running in the background for geofed-lab: Up
// starts a detached daemon process that runs the lab (Run), a state directory
// tells Status and Down where it is and what it runs, and an env file in it
// points kubectl and geofed at it.
//
// The state directory holds:
//
//	pid         the daemon's process id, written first
//	state.json  the running clusters, written once they are ready and kept
//	            up to date as clusters come and go
//	kubeconfig  a context per cluster the daemon started
//	env         shell exports: KUBECONFIG and whatever addons add
//	daemon.log  the daemon's output
//	faults.sock the fault proxies' control socket (geofed-lab fault)
//	work/       the lab's work directory: certificates, process logs, etcd
package labd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// State is what state.json records about a running lab.
type State struct {
	// PID is the daemon's process id.
	PID int `json:"pid"`
	// Started is when the daemon's lab became ready.
	Started time.Time `json:"started"`
	// Clusters are the running clusters, sorted by name.
	Clusters []ClusterState `json:"clusters"`
	// Env are the variables the env file exports, by name.
	Env map[string]string `json:"env"`
}

// ClusterState is one running cluster.
type ClusterState struct {
	Name     string `json:"name"`
	Endpoint string `json:"endpoint"`
	// Kubeconfig is the path of the cluster's own kubeconfig.
	Kubeconfig string `json:"kubeconfig"`
	// PodServer is the URL at which Pods on the lab's real nodes reach this
	// cluster's apiserver (lab.Cluster.PodEndpoint), e.g. for
	// `join --hub --server`.
	PodServer string `json:"podServer"`
	// RealNode names the cluster's real node, and RealNodeMountNS is the
	// mount namespace where its containerd's socket is (/proc/PID/ns/mnt);
	// both empty when it has none.
	RealNode        string `json:"realNode,omitempty"`
	RealNodeMountNS string `json:"realNodeMountNS,omitempty"`
	// RealNodeCgroup is the cgroup of the real node's processes, which
	// Down clears when the daemon died without stopping them.
	RealNodeCgroup string `json:"realNodeCgroup,omitempty"`
}

func statePath(dir string) string      { return filepath.Join(dir, "state.json") }
func pidPath(dir string) string        { return filepath.Join(dir, "pid") }
func envPath(dir string) string        { return filepath.Join(dir, "env") }
func kubeconfigPath(dir string) string { return filepath.Join(dir, "kubeconfig") }
func logPath(dir string) string        { return filepath.Join(dir, "daemon.log") }
func workDir(dir string) string        { return filepath.Join(dir, "work") }

// ErrNoLab is returned when a state directory has no running lab.
var ErrNoLab = errors.New("no lab is running")

// ReadState reads the state of the lab in dir. It returns ErrNoLab when the
// daemon is not running.
func ReadState(dir string) (*State, error) {
	pid, err := readPID(dir)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(statePath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("the lab in %s is still starting (daemon pid %d; see %s)", dir, pid, logPath(dir))
	}
	if err != nil {
		return nil, fmt.Errorf("reading lab state: %w", err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("reading lab state %s: %w", statePath(dir), err)
	}
	return &s, nil
}

// readPID returns the pid of the running daemon of dir, or ErrNoLab.
func readPID(dir string) (int, error) {
	data, err := os.ReadFile(pidPath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("%w in %s", ErrNoLab, dir)
	}
	if err != nil {
		return 0, fmt.Errorf("reading lab pid: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("reading lab pid from %s: %q is not a pid", pidPath(dir), data)
	}
	if !alive(pid) {
		return 0, fmt.Errorf("%w in %s (daemon pid %d is gone; see %s)", ErrNoLab, dir, pid, logPath(dir))
	}
	return pid, nil
}

func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

// writeFileAtomic writes data so that a reader sees the old or the new file,
// never half of one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
