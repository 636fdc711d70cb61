package lab

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Memory is what a lab process holds, from Linux's /proc.
type Memory struct {
	// RSS is the resident set, file pages shared with other processes of
	// the same binary included; Peak is its high-water mark.
	RSS, Peak int64
	// Private is the process's anonymous memory (its heap, stacks and
	// runtime): what each further process of the same binary costs.
	Private int64
}

// APIServerMemory reads the memory of the cluster's apiserver.
func (c *Cluster) APIServerMemory() (Memory, error) {
	c.mu.Lock()
	p := c.apiserver
	c.mu.Unlock()
	if p == nil {
		return Memory{}, fmt.Errorf("reading the memory of cluster %s's apiserver: it has not started", c.Name)
	}
	m, err := readMemory(p.pid())
	if err != nil {
		return m, fmt.Errorf("reading the memory of cluster %s's apiserver: %w", c.Name, err)
	}
	return m, nil
}

// readMemory reads VmRSS and VmHWM from /proc/PID/status and Anonymous
// from /proc/PID/smaps_rollup, all in kB there.
func readMemory(pid int) (Memory, error) {
	var m Memory
	fields := map[string]*int64{"VmRSS:": &m.RSS, "VmHWM:": &m.Peak, "Anonymous:": &m.Private}
	for _, file := range []string{"status", "smaps_rollup"} {
		path := fmt.Sprintf("/proc/%d/%s", pid, file)
		data, err := os.ReadFile(path)
		if err != nil {
			return m, err
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[2] != "kB" || fields[f[0]] == nil {
				continue
			}
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return m, fmt.Errorf("%s: %q: %w", path, sc.Text(), err)
			}
			*fields[f[0]] = kb << 10
		}
	}
	if m.RSS == 0 || m.Private == 0 {
		return m, fmt.Errorf("/proc/%d: no VmRSS or Anonymous figure (not Linux?)", pid)
	}
	return m, nil
}
