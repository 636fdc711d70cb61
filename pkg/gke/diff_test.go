package gke

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// liveOf is desired as GKE would report it once created: RUNNING, with an
// endpoint, fields GKE adds, and pools in GKE's order, not the file's.
func liveOf(desired *containerpb.Cluster) *containerpb.Cluster {
	live := proto.Clone(desired).(*containerpb.Cluster)
	live.Status = containerpb.Cluster_RUNNING
	live.Endpoint = "34.1.2.3"
	live.CurrentMasterVersion = "1.33.2-gke.1000"
	live.ResourceLabels["team"] = "ml" // someone else's label: not geofed's business
	for _, p := range live.NodePools {
		p.Status = containerpb.NodePool_RUNNING
		p.Config.DiskSizeGb = 100
		p.Locations = []string{"us-west1-a", "us-west1-b"}
	}
	live.NodePools[0], live.NodePools[1] = live.NodePools[1], live.NodePools[0]
	return live
}

// nodesOf is what CountNodes finds on liveOf's cluster: each zone has
// the desired fixed size, autoscaled pools their floor.
func nodesOf() NodeCounts {
	return NodeCounts{
		"cpu":  {"us-west1-a": 1, "us-west1-b": 1},
		"a100": {"us-west1-a": 0, "us-west1-b": 0},
	}
}

// pool returns the live pool called name.
func pool(c *containerpb.Cluster, name string) *containerpb.NodePool {
	for _, p := range c.NodePools {
		if p.Name == name {
			return p
		}
	}
	panic("no pool " + name)
}

func noopPools() []NodePoolChange {
	return []NodePoolChange{{Name: "a100", Action: object.ActionNoop}, {Name: "cpu", Action: object.ActionNoop}}
}

func TestDiff(t *testing.T) {
	base := ClusterChange{Region: "us-west1", Project: "acme-ml", Location: "us-west1", Cluster: "training-us"}
	with := func(mod func(*ClusterChange)) ClusterChange {
		c := base
		mod(&c)
		return c
	}
	tests := []struct {
		name    string
		desired func(*containerpb.Cluster) // changes to exampleDesired
		live    func(*containerpb.Cluster) // changes to liveOf(desired); nil live when noLive
		noLive  bool
		nodes   func(NodeCounts) // changes to nodesOf(); nil counts when noNodes
		noNodes bool
		want    ClusterChange
	}{
		{
			name:   "create",
			noLive: true,
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionCreate
				c.Fields = []FieldChange{
					{Path: "location", After: "us-west1"},
					{Path: "releaseChannel", After: "REGULAR"},
					{Path: "resourceLabels", After: "geofed-topology=ai-platform, managed-by=kubectl-geofed"},
				}
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionCreate, Fields: []FieldChange{
						{Path: "machineType", After: "a2-highgpu-1g"},
						{Path: "accelerators", After: "nvidia-tesla-a100 x1"},
						{Path: "spot", After: "true"},
						{Path: "nodeCount", After: "0"},
						{Path: "autoscaling", After: "min 0, max 8"},
					}},
					{Name: "cpu", Action: object.ActionCreate, Fields: []FieldChange{
						{Path: "machineType", After: "e2-standard-8"},
						{Path: "accelerators", After: "none"},
						{Path: "spot", After: "false"},
						{Path: "nodeCount", After: "1"},
						{Path: "autoscaling", After: "off"},
					}},
				}
			}),
		},
		{
			name: "noop",
			want: with(func(c *ClusterChange) { c.Action = object.ActionNoop; c.NodePools = noopPools() }),
		},
		{
			name:  "node count changes in place",
			nodes: func(n NodeCounts) { n["cpu"] = map[string]int32{"us-west1-a": 3, "us-west1-b": 3} },
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionNoop},
					{Name: "cpu", Action: object.ActionUpdate, Fields: []FieldChange{{Path: "nodeCount", Before: "3", After: "1"}}},
				}
			}),
		},
		{
			name:  "a zone short of nodes",
			nodes: func(n NodeCounts) { n["cpu"] = map[string]int32{"us-west1-a": 1} },
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionNoop},
					{Name: "cpu", Action: object.ActionUpdate, Fields: []FieldChange{
						{Path: "nodeCount", Before: "us-west1-a: 1, us-west1-b: 0", After: "1"},
					}},
				}
			}),
		},
		{
			name:  "a pool without nodes",
			nodes: func(n NodeCounts) { delete(n, "cpu") },
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionNoop},
					{Name: "cpu", Action: object.ActionUpdate, Fields: []FieldChange{{Path: "nodeCount", Before: "0", After: "1"}}},
				}
			}),
		},
		{
			// GKE keeps initialNodeCount at its creation value after a
			// resize: only the nodes say how big a pool is.
			name:  "resized pool: initialNodeCount is history",
			live:  func(l *containerpb.Cluster) { pool(l, "cpu").InitialNodeCount = 3 },
			nodes: func(n NodeCounts) { n["cpu"] = map[string]int32{"us-west1-a": 1, "us-west1-b": 1} },
			want:  with(func(c *ClusterChange) { c.Action = object.ActionNoop; c.NodePools = noopPools() }),
		},
		{
			name:    "nodes unknown: counts not compared, with a reason",
			noNodes: true,
			live:    func(l *containerpb.Cluster) { pool(l, "a100").Autoscaling.MaxNodeCount = 4 },
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionUpdate, Fields: []FieldChange{{Path: "autoscaling", Before: "min 0, max 4", After: "min 0, max 8"}}},
					{Name: "cpu", Action: object.ActionNoop},
				}
				c.Reasons = []string{ReasonNodesUnknown}
			}),
		},
		{
			name:    "nodes unknown but every pool autoscales: nothing to say",
			noNodes: true,
			desired: func(d *containerpb.Cluster) {
				pool(d, "cpu").Autoscaling = &containerpb.NodePoolAutoscaling{Enabled: true, MinNodeCount: 1, MaxNodeCount: 1}
			},
			live: func(l *containerpb.Cluster) {
				pool(l, "cpu").Autoscaling = &containerpb.NodePoolAutoscaling{Enabled: true, MinNodeCount: 1, MaxNodeCount: 1}
			},
			want: with(func(c *ClusterChange) { c.Action = object.ActionNoop; c.NodePools = noopPools() }),
		},
		{
			name:  "the autoscaler owns an autoscaled pool's size",
			nodes: func(n NodeCounts) { n["a100"] = map[string]int32{"us-west1-a": 5, "us-west1-b": 2} },
			want:  with(func(c *ClusterChange) { c.Action = object.ActionNoop; c.NodePools = noopPools() }),
		},
		{
			name: "autoscaling bounds change in place",
			live: func(l *containerpb.Cluster) { pool(l, "a100").Autoscaling.MaxNodeCount = 4 },
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionUpdate, Fields: []FieldChange{{Path: "autoscaling", Before: "min 0, max 4", After: "min 0, max 8"}}},
					{Name: "cpu", Action: object.ActionNoop},
				}
			}),
		},
		{
			name: "autoscaling turned on",
			live: func(l *containerpb.Cluster) { pool(l, "a100").Autoscaling = nil },
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionUpdate, Fields: []FieldChange{{Path: "autoscaling", Before: "off", After: "min 0, max 8"}}},
					{Name: "cpu", Action: object.ActionNoop},
				}
			}),
		},
		{
			name: "autoscaling turned off: the size is set again",
			live: func(l *containerpb.Cluster) {
				pool(l, "cpu").Autoscaling = &containerpb.NodePoolAutoscaling{Enabled: true, MinNodeCount: 1, MaxNodeCount: 3}
			},
			nodes: func(n NodeCounts) { n["cpu"] = map[string]int32{"us-west1-a": 2, "us-west1-b": 2} },
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionNoop},
					{Name: "cpu", Action: object.ActionUpdate, Fields: []FieldChange{
						{Path: "nodeCount", Before: "2", After: "1"},
						{Path: "autoscaling", Before: "min 1, max 3", After: "off"},
					}},
				}
			}),
		},
		{
			name: "release channel changes in place",
			live: func(l *containerpb.Cluster) { l.ReleaseChannel = nil },
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.Fields = []FieldChange{{Path: "releaseChannel", Before: "UNSPECIFIED", After: "REGULAR"}}
				c.NodePools = noopPools()
			}),
		},
		{
			name: "machine type changes in place, the nodes recreated",
			desired: func(d *containerpb.Cluster) {
				pool(d, "cpu").Config.MachineType = "e2-standard-16"
				pool(d, "cpu").InitialNodeCount = 2
			},
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionNoop},
					{Name: "cpu", Action: object.ActionUpdate, Fields: []FieldChange{
						{Path: "machineType", Before: "e2-standard-8", After: "e2-standard-16", RecreatesNodes: true},
						{Path: "nodeCount", Before: "1", After: "2"},
					}},
				}
			}),
		},
		{
			name: "accelerators change in place, the nodes recreated",
			desired: func(d *containerpb.Cluster) {
				pool(d, "cpu").Config.Accelerators = []*containerpb.AcceleratorConfig{
					{AcceleratorType: "nvidia-tesla-t4", AcceleratorCount: 1},
					{AcceleratorType: "nvidia-l4", AcceleratorCount: 2},
				}
			},
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionNoop},
					{Name: "cpu", Action: object.ActionUpdate, Fields: []FieldChange{
						{Path: "accelerators", Before: "none", After: "nvidia-l4 x2, nvidia-tesla-t4 x1", RecreatesNodes: true},
					}},
				}
			}),
		},
		{
			name: "every accelerator dropped from a machine without built-in GPUs: replaced",
			desired: func(d *containerpb.Cluster) {
				pool(d, "cpu").Config.MachineType = "n1-standard-8"
			},
			live: func(l *containerpb.Cluster) {
				pool(l, "cpu").Config.MachineType = "n1-standard-8"
				pool(l, "cpu").Config.Accelerators = []*containerpb.AcceleratorConfig{{AcceleratorType: "nvidia-tesla-t4", AcceleratorCount: 1}}
			},
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionNoop},
					{Name: "cpu", Action: object.ActionReplace, Fields: []FieldChange{
						{Path: "accelerators", Before: "nvidia-tesla-t4 x1", After: "none", Replace: true},
					}, Replacement: &Replacement{Pool: "cpu-318f4cf6", Old: []string{"cpu"}}},
				}
			}),
		},
		{
			name: "accelerator order does not matter",
			desired: func(d *containerpb.Cluster) {
				pool(d, "cpu").Config.Accelerators = []*containerpb.AcceleratorConfig{
					{AcceleratorType: "nvidia-tesla-t4", AcceleratorCount: 1},
					{AcceleratorType: "nvidia-l4", AcceleratorCount: 2},
				}
			},
			live: func(l *containerpb.Cluster) {
				pool(l, "cpu").Config.Accelerators = []*containerpb.AcceleratorConfig{
					{AcceleratorType: "nvidia-l4", AcceleratorCount: 2},
					{AcceleratorType: "nvidia-tesla-t4", AcceleratorCount: 1},
				}
			},
			want: with(func(c *ClusterChange) { c.Action = object.ActionNoop; c.NodePools = noopPools() }),
		},
		{
			name: "built-in GPUs reported by GKE but not named in the file",
			desired: func(d *containerpb.Cluster) {
				pool(d, "a100").Config.Accelerators = nil
			},
			want: with(func(c *ClusterChange) { c.Action = object.ActionNoop; c.NodePools = noopPools() }),
		},
		{
			name: "machine type and accelerator count change together in place",
			live: func(l *containerpb.Cluster) {
				pool(l, "a100").Config.Accelerators[0].AcceleratorCount = 2
				pool(l, "a100").Config.MachineType = "a2-highgpu-2g"
			},
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionUpdate, Fields: []FieldChange{
						{Path: "machineType", Before: "a2-highgpu-2g", After: "a2-highgpu-1g", RecreatesNodes: true},
						{Path: "accelerators", Before: "nvidia-tesla-a100 x2", After: "nvidia-tesla-a100 x1", RecreatesNodes: true},
					}},
					{Name: "cpu", Action: object.ActionNoop},
				}
			}),
		},
		{
			name: "spot replaces the pool, even with an in-place change alongside",
			live: func(l *containerpb.Cluster) {
				pool(l, "a100").Config.Spot = false
				pool(l, "a100").Config.MachineType = "a2-highgpu-2g"
				pool(l, "a100").Autoscaling.MinNodeCount = 1
			},
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionReplace, Fields: []FieldChange{
						{Path: "machineType", Before: "a2-highgpu-2g", After: "a2-highgpu-1g"},
						{Path: "spot", Before: "false", After: "true", Replace: true},
						{Path: "autoscaling", Before: "min 1, max 8", After: "min 0, max 8"},
					}, Replacement: &Replacement{Pool: "a100-9b076c5c", Old: []string{"a100"}}},
					{Name: "cpu", Action: object.ActionNoop},
				}
			}),
		},
		{
			name: "replacement under way: the new pool beside the old one",
			live: func(l *containerpb.Cluster) {
				next := proto.Clone(pool(l, "a100")).(*containerpb.NodePool)
				next.Name, next.Config.ResourceLabels = "a100-9b076c5c", map[string]string{LabelPoolName: "a100"}
				l.NodePools = append(l.NodePools, next)
				pool(l, "a100").Config.Spot = false
			},
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionReplace, Fields: []FieldChange{
						{Path: "spot", Before: "false", After: "true", Replace: true},
					}, Replacement: &Replacement{Pool: "a100-9b076c5c", Exists: true, Old: []string{"a100"}}},
					{Name: "cpu", Action: object.ActionNoop},
				}
			}),
		},
		{
			name: "a pool that replaced one is the topology's: nothing to do",
			live: func(l *containerpb.Cluster) {
				for _, p := range l.NodePools {
					p.Config.ResourceLabels = map[string]string{LabelPoolName: p.Name}
					p.Name += "-0a1b2c3d"
				}
			},
			nodes: func(n NodeCounts) {
				n["cpu-0a1b2c3d"], n["a100-0a1b2c3d"] = n["cpu"], n["a100"]
				delete(n, "cpu")
				delete(n, "a100")
			},
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionNoop
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionNoop, Pool: "a100-0a1b2c3d"},
					{Name: "cpu", Action: object.ActionNoop, Pool: "cpu-0a1b2c3d"},
				}
			}),
		},
		{
			name: "a pool that replaced one changes in place under its GKE name",
			live: func(l *containerpb.Cluster) {
				p := pool(l, "cpu")
				p.Name, p.Config.ResourceLabels = "cpu-0a1b2c3d", map[string]string{LabelPoolName: "cpu"}
			},
			nodes: func(n NodeCounts) {
				n["cpu-0a1b2c3d"] = map[string]int32{"us-west1-a": 2, "us-west1-b": 2}
				delete(n, "cpu")
			},
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionNoop},
					{Name: "cpu", Action: object.ActionUpdate, Pool: "cpu-0a1b2c3d", Fields: []FieldChange{{Path: "nodeCount", Before: "2", After: "1"}}},
				}
			}),
		},
		{
			name: "replacing a pool that replaced one takes the topology's name back",
			live: func(l *containerpb.Cluster) {
				p := pool(l, "a100")
				p.Name, p.Config.ResourceLabels, p.Config.Spot = "a100-0a1b2c3d", map[string]string{LabelPoolName: "a100"}, false
			},
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionReplace, Fields: []FieldChange{
						{Path: "spot", Before: "false", After: "true", Replace: true},
					}, Replacement: &Replacement{Pool: "a100", Old: []string{"a100-0a1b2c3d"}}},
					{Name: "cpu", Action: object.ActionNoop},
				}
			}),
		},
		{
			name: "the file changed back during a replacement: the old pool is kept, the new one goes",
			live: func(l *containerpb.Cluster) {
				next := proto.Clone(pool(l, "a100")).(*containerpb.NodePool)
				next.Name, next.Config.ResourceLabels, next.Config.Spot = "a100-0a1b2c3d", map[string]string{LabelPoolName: "a100"}, false
				l.NodePools = append(l.NodePools, next)
			},
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionReplace, Fields: []FieldChange{
						{Path: "spot", Before: "false", After: "true", Replace: true},
					}, Replacement: &Replacement{Pool: "a100", Exists: true, Old: []string{"a100-0a1b2c3d"}}},
					{Name: "cpu", Action: object.ActionNoop},
				}
			}),
		},
		{
			name: "pool added to the file",
			live: func(l *containerpb.Cluster) { l.NodePools = l.NodePools[1:] },
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionCreate, Fields: []FieldChange{
						{Path: "machineType", After: "a2-highgpu-1g"},
						{Path: "accelerators", After: "nvidia-tesla-a100 x1"},
						{Path: "spot", After: "true"},
						{Path: "nodeCount", After: "0"},
						{Path: "autoscaling", After: "min 0, max 8"},
					}},
					{Name: "cpu", Action: object.ActionNoop},
				}
			}),
		},
		{
			name: "pool removed from the file is deleted",
			live: func(l *containerpb.Cluster) {
				l.NodePools = append(l.NodePools, &containerpb.NodePool{
					Name: "big", InitialNodeCount: 1, Locations: []string{"us-west1-a", "us-west1-b"},
					Config: &containerpb.NodeConfig{MachineType: "n2-standard-32"},
				})
			},
			nodes: func(n NodeCounts) { n["big"] = map[string]int32{"us-west1-a": 2, "us-west1-b": 2} },
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionNoop},
					{Name: "big", Action: object.ActionDelete, Fields: []FieldChange{
						{Path: "machineType", Before: "n2-standard-32"},
						{Path: "accelerators", Before: "none"},
						{Path: "spot", Before: "false"},
						{Path: "nodeCount", Before: "2"},
						{Path: "autoscaling", Before: "off"},
					}},
					{Name: "cpu", Action: object.ActionNoop},
				}
			}),
		},
		{
			name: "a pool standing for a name the file no longer has is deleted by its GKE name",
			live: func(l *containerpb.Cluster) {
				l.NodePools = append(l.NodePools, &containerpb.NodePool{
					Name: "big-0a1b2c3d", InitialNodeCount: 1, Locations: []string{"us-west1-a"},
					Config: &containerpb.NodeConfig{MachineType: "n2-standard-32", ResourceLabels: map[string]string{LabelPoolName: "big"}},
				})
			},
			nodes: func(n NodeCounts) { n["big-0a1b2c3d"] = map[string]int32{"us-west1-a": 1} },
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionNoop},
					{Name: "big-0a1b2c3d", Action: object.ActionDelete, Fields: []FieldChange{
						{Path: "machineType", Before: "n2-standard-32"},
						{Path: "accelerators", Before: "none"},
						{Path: "spot", Before: "false"},
						{Path: "nodeCount", Before: "1"},
						{Path: "autoscaling", Before: "off"},
					}},
					{Name: "cpu", Action: object.ActionNoop},
				}
			}),
		},
		{
			name: "a new pool whose name a pool of another topology name holds is created under another",
			desired: func(d *containerpb.Cluster) {
				d.NodePools = append(d.NodePools, &containerpb.NodePool{Name: "web", InitialNodeCount: 1, Config: &containerpb.NodeConfig{MachineType: "e2-standard-4"}})
			},
			live: func(l *containerpb.Cluster) {
				l.NodePools = append(l.NodePools, &containerpb.NodePool{
					Name: "web", InitialNodeCount: 1, Locations: []string{"us-west1-a"},
					Config: &containerpb.NodeConfig{MachineType: "e2-standard-4", ResourceLabels: map[string]string{LabelPoolName: "api"}},
				})
			},
			nodes: func(n NodeCounts) { n["web"] = map[string]int32{"us-west1-a": 1} },
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionNoop},
					{Name: "cpu", Action: object.ActionNoop},
					{Name: "web", Action: object.ActionCreate, Pool: "web-4c4f4583", Fields: []FieldChange{
						{Path: "machineType", After: "e2-standard-4"},
						{Path: "accelerators", After: "none"},
						{Path: "spot", After: "false"},
						{Path: "nodeCount", After: "1"},
						{Path: "autoscaling", After: "off"},
					}},
					{Name: "web", Action: object.ActionDelete, Fields: []FieldChange{
						{Path: "machineType", Before: "e2-standard-4"},
						{Path: "accelerators", Before: "none"},
						{Path: "spot", Before: "false"},
						{Path: "nodeCount", Before: "1"},
						{Path: "autoscaling", Before: "off"},
					}},
				}
			}),
		},
		{
			name: "auto-provisioned pools are GKE's",
			live: func(l *containerpb.Cluster) {
				l.NodePools = append(l.NodePools, &containerpb.NodePool{
					Name:        "nap-e2-standard-4-abc",
					Config:      &containerpb.NodeConfig{MachineType: "e2-standard-4"},
					Autoscaling: &containerpb.NodePoolAutoscaling{Enabled: true, Autoprovisioned: true, MaxNodeCount: 10},
				})
			},
			want: with(func(c *ClusterChange) { c.Action = object.ActionNoop; c.NodePools = noopPools() }),
		},
		{
			name:  "still provisioning: diffed, with a reason",
			live:  func(l *containerpb.Cluster) { l.Status = containerpb.Cluster_PROVISIONING },
			nodes: func(n NodeCounts) { n["cpu"] = map[string]int32{"us-west1-a": 2, "us-west1-b": 2} },
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionUpdate
				c.NodePools = []NodePoolChange{
					{Name: "a100", Action: object.ActionNoop},
					{Name: "cpu", Action: object.ActionUpdate, Fields: []FieldChange{{Path: "nodeCount", Before: "2", After: "1"}}},
				}
				c.Reasons = []string{"GKE is still creating the cluster (PROVISIONING); apply waits for it"}
			}),
		},
		{
			name: "reconciling: a reason, nothing to do",
			live: func(l *containerpb.Cluster) { l.Status = containerpb.Cluster_RECONCILING },
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionNoop
				c.NodePools = noopPools()
				c.Reasons = []string{"GKE is updating the cluster (RECONCILING); apply waits for it"}
			}),
		},
		{
			name: "another location is another cluster",
			live: func(l *containerpb.Cluster) { l.Location = "us-west1-a"; l.ReleaseChannel = nil },
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionAttention
				c.Reasons = []string{"exists in location us-west1-a, the topology says us-west1: a cluster's location cannot change " +
					"(move it by giving the new cluster another name, then destroy the old one with destroy --clusters)"}
			}),
		},
		{
			name: "not created by geofed",
			live: func(l *containerpb.Cluster) { l.ResourceLabels = map[string]string{"team": "ml"} },
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionAttention
				c.Reasons = []string{"exists but not managed by this topology: geofed did not create it (no managed-by=kubectl-geofed label); " +
					"join it with a kubeconfig context instead, or choose another name"}
			}),
		},
		{
			name: "created by geofed for another topology",
			live: func(l *containerpb.Cluster) { l.ResourceLabels[LabelTopology] = "other-platform" },
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionAttention
				c.Reasons = []string{`exists but not managed by this topology: it belongs to topology "other-platform"`}
			}),
		},
		{
			name: "ERROR, with GKE's conditions",
			live: func(l *containerpb.Cluster) {
				l.Status = containerpb.Cluster_ERROR
				l.Conditions = []*containerpb.StatusCondition{{Message: "quota exceeded for NVIDIA_A100_GPUS"}, {Message: "node pool a100 failed"}}
				pool(l, "cpu").InitialNodeCount = 7
			},
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionAttention
				c.Reasons = []string{"GKE reports status ERROR: quota exceeded for NVIDIA_A100_GPUS; node pool a100 failed"}
			}),
		},
		{
			name: "ERROR, with only the deprecated status message",
			live: func(l *containerpb.Cluster) {
				l.Status = containerpb.Cluster_ERROR
				l.StatusMessage = "provisioning the control plane: boom"
			},
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionAttention
				c.Reasons = []string{"GKE reports status ERROR: provisioning the control plane: boom"}
			}),
		},
		{
			name: "STOPPING",
			live: func(l *containerpb.Cluster) { l.Status = containerpb.Cluster_STOPPING },
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionAttention
				c.Reasons = []string{"GKE reports status STOPPING"}
			}),
		},
		{
			name: "DEGRADED",
			live: func(l *containerpb.Cluster) {
				l.Status = containerpb.Cluster_DEGRADED
				l.Conditions = []*containerpb.StatusCondition{{Message: "control plane unreachable"}}
			},
			want: with(func(c *ClusterChange) {
				c.Action = object.ActionAttention
				c.Reasons = []string{"GKE reports status DEGRADED: control plane unreachable"}
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desired := exampleDesired()
			if tt.desired != nil {
				tt.desired(desired)
			}
			var live *containerpb.Cluster
			if !tt.noLive {
				live = liveOf(exampleDesired())
				if tt.live != nil {
					tt.live(live)
				}
			}
			var nodes NodeCounts
			if !tt.noNodes {
				nodes = nodesOf()
				if tt.nodes != nil {
					tt.nodes(nodes)
				}
			}
			got := Diff(desired, live, nodes)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Diff() mismatch (-want +got):\n%s", d)
			}
		})
	}
}

// TestDiffProjectFromLive: a desired cluster built by hand, without
// Desired's SelfLink, still reports the project GKE gives.
func TestDiffProjectFromLive(t *testing.T) {
	desired := exampleDesired()
	live := liveOf(desired)
	desired.SelfLink = ""
	if got := Diff(desired, live, nodesOf()).Project; got != "acme-ml" {
		t.Errorf("Project = %q, want acme-ml", got)
	}
}

func TestSymbol(t *testing.T) {
	want := map[object.Action]string{
		object.ActionCreate: "+", object.ActionUpdate: "~", object.ActionReplace: "-/+", object.ActionDelete: "-", object.ActionAttention: "!", object.ActionNoop: "",
	}
	for a, sym := range want {
		if got := (ClusterChange{Action: a}).Symbol(); got != sym {
			t.Errorf("ClusterChange{%s}.Symbol() = %q, want %q", a, got, sym)
		}
		if got := (NodePoolChange{Action: a}).Symbol(); got != sym {
			t.Errorf("NodePoolChange{%s}.Symbol() = %q, want %q", a, got, sym)
		}
	}
}

func TestSortChanges(t *testing.T) {
	cs := []ClusterChange{
		{Region: "us-west1", Location: "us-west1-a", Cluster: "b"},
		{Region: "europe-west4", Location: "europe-west4", Cluster: "z"},
		{Region: "us-west1", Location: "us-west1", Cluster: "c"},
		{Region: "us-west1", Location: "us-west1-a", Cluster: "a", Project: "p2"},
		{Region: "us-west1", Location: "us-west1-a", Cluster: "a", Project: "p1"},
	}
	SortChanges(cs)
	var got []string
	for _, c := range cs {
		got = append(got, c.Location+"/"+c.Cluster+"@"+c.Project)
	}
	want := []string{"europe-west4/z@", "us-west1/c@", "us-west1-a/a@p1", "us-west1-a/a@p2", "us-west1-a/b@"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("order mismatch (-want +got):\n%s", d)
	}
}

func TestOrphans(t *testing.T) {
	tp := exampleTopology()
	owned := func(project, location, name, topo string) *containerpb.Cluster {
		return &containerpb.Cluster{
			Name: name, Location: location, Status: containerpb.Cluster_RUNNING,
			SelfLink:       selfLinkPrefix + ResourceName(project, location, name),
			ResourceLabels: map[string]string{LabelTopology: topo, LabelManagedBy: ManagedBy},
		}
	}
	noSelfLink := owned("", "us-west1", "training-us", "ai-platform")
	noSelfLink.SelfLink = ""
	notOurs := owned("acme-ml", "us-east1", "legacy", "ai-platform")
	delete(notOurs.ResourceLabels, LabelManagedBy)

	live := []*containerpb.Cluster{
		owned("acme-ml", "us-west1", "training-us", "ai-platform"),     // in the file
		owned("acme-ml", "us-central1", "training-old", "ai-platform"), // removed from the file
		owned("acme-ml", "europe-west1-b", "batch", "ai-platform"),     // removed, zonal
		owned("acme-ml", "us-west1-a", "training-us", "ai-platform"),   // same name, old location
		owned("acme-other", "us-west1", "training-us", "ai-platform"),  // same name, other project
		owned("acme-ml", "asia-east1", "inference", "other-platform"),  // another topology's
		noSelfLink, // project unknown: matches the file's cluster by location and name
		notOurs,    // not created by geofed
		{Name: "serving-eu", Location: "europe-west1", Status: containerpb.Cluster_RUNNING}, // joined, unlabelled
	}
	got := Orphans(tp, live)
	orphan := func(region, project, location, name string) ClusterChange {
		return ClusterChange{Region: region, Project: project, Location: location, Cluster: name,
			Action: object.ActionAttention, Reasons: []string{ReasonOrphan}}
	}
	want := []ClusterChange{
		orphan("europe-west1", "acme-ml", "europe-west1-b", "batch"),
		orphan("us-central1", "acme-ml", "us-central1", "training-old"),
		orphan("us-west1", "acme-other", "us-west1", "training-us"),
		orphan("us-west1", "acme-ml", "us-west1-a", "training-us"),
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Orphans() mismatch (-want +got):\n%s", d)
	}
}

// TestOrphansClusterTurnedJoined: a cluster the file now joins by
// kubeconfig is no longer geofed's to manage in GKE, so it is reported.
func TestOrphansClusterTurnedJoined(t *testing.T) {
	tp := exampleTopology()
	c := &tp.Spec.Regions[0].Clusters[0]
	c.GKE, c.Kubeconfig = nil, &topology.KubeconfigRef{Context: "training-us"}
	live := []*containerpb.Cluster{{
		Name: "training-us", Location: "us-west1",
		SelfLink:       selfLinkPrefix + ResourceName("acme-ml", "us-west1", "training-us"),
		ResourceLabels: map[string]string{LabelTopology: "ai-platform", LabelManagedBy: ManagedBy},
	}}
	got := Orphans(tp, live)
	if len(got) != 1 || got[0].Cluster != "training-us" || got[0].Action != object.ActionAttention {
		t.Errorf("Orphans() = %+v, want training-us needing attention", got)
	}
}

// TestChangesJSON pins the JSON form of changes, which saved plans embed.
func TestChangesJSON(t *testing.T) {
	tp := exampleTopology()
	desired := Desired(tp, tp.Clusters()[0])
	live := liveOf(desired)
	nodes := nodesOf()
	nodes["cpu"] = map[string]int32{"us-west1-a": 3, "us-west1-b": 3}
	pool(live, "a100").Config.Spot = false
	pool(live, "cpu").Config.MachineType = "e2-standard-4"
	live.ReleaseChannel.Channel = containerpb.ReleaseChannel_STABLE

	zonal := exampleDesired()
	zonal.Name, zonal.Location = "training-us-b", "us-west1-b"
	zonal.SelfLink = selfLinkPrefix + ResourceName("acme-ml", "us-west1-b", "training-us-b")

	changes := []ClusterChange{Diff(desired, live, nodes), Diff(zonal, nil, nil)}
	changes = append(changes, Orphans(tp, []*containerpb.Cluster{{
		Name: "old", Location: "europe-west1", SelfLink: selfLinkPrefix + ResourceName("acme-ml", "europe-west1", "old"),
		ResourceLabels: map[string]string{LabelTopology: "ai-platform", LabelManagedBy: ManagedBy},
	}})...)
	SortChanges(changes)
	got, err := json.MarshalIndent(changes, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "changes.json.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("JSON mismatch (-want +got):\n%s", d)
	}
	var back []ClusterChange
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(changes, back); d != "" {
		t.Errorf("JSON round trip mismatch (-want +got):\n%s", d)
	}
}

// TestReplacementName pins the names replacements get: an apply's re-run
// must find the pool an interrupted one created, also across versions.
func TestReplacementName(t *testing.T) {
	np := func(name, machine string, spot bool, accs ...*containerpb.AcceleratorConfig) *containerpb.NodePool {
		return &containerpb.NodePool{Name: name, Config: &containerpb.NodeConfig{MachineType: machine, Spot: spot, Accelerators: accs}}
	}
	t4 := &containerpb.AcceleratorConfig{AcceleratorType: "nvidia-tesla-t4", AcceleratorCount: 1}
	long := "a-pool-with-a-very-long-name-of-forty-c"
	for _, tt := range []struct {
		pool *containerpb.NodePool
		want string
	}{
		{np("cpu", "e2-standard-8", false), "cpu-22732729"},
		{np("cpu", "e2-standard-8", true), "cpu-dc4874cd"},
		{np("cpu", "n1-standard-8", false, t4), "cpu-e0dd8e06"},
		{np("gpu", "n1-standard-8", false, t4), "gpu-e0dd8e06"},
		// Cut to 31 characters, a trailing dash dropped: 40 in all at most.
		{np(long, "e2-standard-8", false), "a-pool-with-a-very-long-name-of-22732729"},
		{np("a-pool-with-a-very-long-name-o-forty", "e2-standard-8", false), "a-pool-with-a-very-long-name-o-22732729"},
	} {
		got := ReplacementName(tt.pool)
		if got != tt.want || len(got) > 40 {
			t.Errorf("ReplacementName(%s, %s, spot %t) = %q, want %q", tt.pool.Name, tt.pool.Config.MachineType, tt.pool.Config.Spot, got, tt.want)
		}
	}
}

func TestLivePool(t *testing.T) {
	desired := pool(exampleDesired(), "a100") // spot
	np := func(name, label string, spot bool) *containerpb.NodePool {
		p := proto.Clone(desired).(*containerpb.NodePool)
		p.Name, p.Config.Spot = name, spot
		if label != "" {
			p.Config.ResourceLabels = map[string]string{LabelPoolName: label}
		}
		return p
	}
	for _, tt := range []struct {
		name string
		live []*containerpb.NodePool
		want string // "" for none
	}{
		{"by its name", []*containerpb.NodePool{np("a100", "", true)}, "a100"},
		{"by its label", []*containerpb.NodePool{np("a100-0a1b2c3d", "a100", true)}, "a100-0a1b2c3d"},
		{"the one GKE can change into it", []*containerpb.NodePool{np("a100", "", false), np("a100-0a1b2c3d", "a100", true)}, "a100-0a1b2c3d"},
		{"its own name first when both can", []*containerpb.NodePool{np("a100-0a1b2c3d", "a100", true), np("a100", "", true)}, "a100"},
		{"none can: a replacement is created", []*containerpb.NodePool{np("a100", "", false)}, ""},
		{"labelled for another pool", []*containerpb.NodePool{np("a100", "gpu", true)}, ""},
		{"missing", nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := LivePool(desired, &containerpb.Cluster{NodePools: tt.live}).GetName(); got != tt.want {
				t.Errorf("LivePool = %q, want %q", got, tt.want)
			}
		})
	}
}
