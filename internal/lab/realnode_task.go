package lab

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// ContainerPID is the host PID of a running container on the cluster's
// real node, by the container ID a Pod's status gives (without its
// containerd:// scheme): tests read the live process (its user, its
// capabilities, its mounts) rather than the spec that asked for them.
func (c *Cluster) ContainerPID(ctx context.Context, id string) (int, error) {
	mntns := c.RealNodeMountNS()
	if mntns == "" {
		return 0, fmt.Errorf("cluster %s has no real node", c.Name)
	}
	out, err := ctrIn(ctx, mntns, "tasks", "list")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == id {
			if f[2] != "RUNNING" {
				return 0, fmt.Errorf("container %s is %s", id, f[2])
			}
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("no task of container %s on %s's real node", id, c.Name)
}
