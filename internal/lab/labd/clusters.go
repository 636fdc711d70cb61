package labd

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
)

// DefaultCluster is the cluster `geofed-lab up` starts when none is named:
// the joined cluster of manifests/topology.yaml, with a GPU node for each of
// the model-server replicas the scenario places there (2) and one spare.
const DefaultCluster = "serving-us@us-east1:3"

// defaultRegion is the region of a cluster flag that names none.
const defaultRegion = "us-east1"

// ParseCluster turns a --cluster flag, NAME[@REGION][:GPUS], into a cluster
// shaped like a small GKE cluster in REGION (default us-east1): two
// e2-standard-8 nodes, and GPUS g2-standard-8 nodes with one NVIDIA L4 each.
func ParseCluster(flag string) (lab.ClusterSpec, error) {
	rest, gpuText, hasGPUs := strings.Cut(flag, ":")
	name, region, hasRegion := strings.Cut(rest, "@")
	if !hasRegion {
		region = defaultRegion
	}
	var gpus int64
	if hasGPUs {
		n, err := strconv.ParseInt(gpuText, 10, 32)
		if err != nil || n < 0 {
			return lab.ClusterSpec{}, fmt.Errorf("cluster %q: GPU count %q is not a non-negative number (want NAME[@REGION][:GPUS])", flag, gpuText)
		}
		gpus = n
	}
	if name == "" || region == "" {
		return lab.ClusterSpec{}, fmt.Errorf("cluster %q: want NAME[@REGION][:GPUS]", flag)
	}
	zone := region + "-b"
	labels := func(pool, machine string) map[string]string {
		return map[string]string{
			"topology.kubernetes.io/region":    region,
			"topology.kubernetes.io/zone":      zone,
			"node.kubernetes.io/instance-type": machine,
			"cloud.google.com/gke-nodepool":    pool,
		}
	}
	spec := lab.ClusterSpec{
		Name: name,
		Nodes: []lab.NodeSpec{{
			Name:   name + "-cpu",
			Count:  2,
			CPU:    resource.MustParse("8"),
			Memory: resource.MustParse("32Gi"),
			Labels: labels("cpu", "e2-standard-8"),
		}},
	}
	if gpus > 0 {
		l := labels("gpu", "g2-standard-8")
		l["cloud.google.com/gke-accelerator"] = "nvidia-l4"
		spec.Nodes = append(spec.Nodes, lab.NodeSpec{
			Name:   name + "-gpu",
			Count:  int(gpus),
			CPU:    resource.MustParse("8"),
			Memory: resource.MustParse("32Gi"),
			GPUs:   1,
			Labels: l,
		})
	}
	return spec, nil
}
