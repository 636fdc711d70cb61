package gkeemu

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/rest"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
)

// NewLabProvisioner returns a Provisioner that runs each emulated cluster as
// a lab cluster of the same name, with one group of KWOK nodes per node pool
// and zone.
func NewLabProvisioner(l *lab.Lab) Provisioner {
	return &labProvisioner{lab: l}
}

type labProvisioner struct {
	lab *lab.Lab
}

func (p *labProvisioner) Provision(ctx context.Context, name string, pools []NodePoolNodes) (ControlPlane, error) {
	c, err := p.lab.AddCluster(ctx, lab.ClusterSpec{Name: name, Nodes: labNodes(name, pools)})
	if err != nil {
		return ControlPlane{}, err
	}
	return ControlPlane{
		Endpoint:       c.Endpoint,
		CAData:         c.CAData,
		ClientCertData: c.ClientCertData,
		ClientKeyData:  c.ClientKeyData,
	}, nil
}

func (p *labProvisioner) Resize(ctx context.Context, name string, pools []NodePoolNodes) error {
	c, err := p.cluster(name)
	if err != nil {
		return err
	}
	return c.SetNodes(ctx, labNodes(name, pools))
}

// Deprovision stops the lab cluster; a cluster the lab does not run (its
// start failed, and AddCluster cleaned up) is already deprovisioned.
func (p *labProvisioner) Deprovision(ctx context.Context, name string) error {
	c := p.lab.Cluster(name)
	if c == nil {
		return nil
	}
	return c.Stop(ctx)
}

func (p *labProvisioner) SetDark(ctx context.Context, name string, dark bool) error {
	c, err := p.cluster(name)
	if err != nil {
		return err
	}
	if dark {
		return c.StopAPIServer(ctx)
	}
	return c.StartAPIServer(ctx)
}

// RESTConfig makes the lab's clusters Autoscalable: they run a scheduler.
func (p *labProvisioner) RESTConfig(name string) (*rest.Config, error) {
	c, err := p.cluster(name)
	if err != nil {
		return nil, err
	}
	return c.RESTConfig(), nil
}

func (p *labProvisioner) cluster(name string) (*lab.Cluster, error) {
	c := p.lab.Cluster(name)
	if c == nil {
		return nil, fmt.Errorf("the lab runs no cluster %q", name)
	}
	return c, nil
}

// labNodes maps node pools to lab node groups named like GKE's nodes
// ("gke-CLUSTER-POOL-..."), with the zone's letter so each zone's nodes of a
// pool are a group of their own. Each node is the pool's nodeshape.Of, on a
// capacity of its machine's vCPUs and memory.
func labNodes(cluster string, pools []NodePoolNodes) []lab.NodeSpec {
	out := make([]lab.NodeSpec, 0, len(pools))
	for _, np := range pools {
		zoneLetter := np.Zone[strings.LastIndex(np.Zone, "-")+1:]
		gpus := np.Node.Allocatable[lab.GPUResource]
		out = append(out, lab.NodeSpec{
			Name:        fmt.Sprintf("gke-%s-%s-%s", cluster, np.Pool, zoneLetter),
			Count:       np.Count,
			Indexes:     np.Indexes,
			CPU:         *resource.NewMilliQuantity(np.MilliCPU, resource.DecimalSI),
			Memory:      *resource.NewQuantity(np.MemoryMiB<<20, resource.BinarySI),
			GPUs:        gpus.Value(),
			Allocatable: np.Node.Allocatable,
			Labels:      np.Node.Labels,
			Taints:      np.Node.Taints,
		})
	}
	return out
}
