package capacity

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Cluster is what one cluster offers a workload: the nodes and the bound,
// live pods read from it (none when it does not exist yet) and, for a GKE
// cluster, its node pools, which may add nodes that do not exist yet.
type Cluster struct {
	Nodes []corev1.Node
	Pods  []corev1.Pod
	Pools []Pool
	// ExtendedResourceToleration says the cluster's admission gives every
	// pod that requests an extended resource (nvidia.com/gpu) a toleration
	// of the taint of that name, as GKE's does: GKE taints GPU nodes
	// nvidia.com/gpu=present:NoSchedule and GPU pods land there without
	// tolerating it themselves.
	ExtendedResourceToleration bool
}

// Pool is a node pool of a GKE cluster, from the topology and GKE.
type Pool struct {
	Name string
	// Label and Value select the pool's nodes in Cluster.Nodes
	// (cloud.google.com/gke-nodepool=Name on GKE).
	Label, Value string
	// Shape is one node of the pool as it registers.
	Shape NodeShape
	// Planned is how many nodes the pool will have once this apply creates
	// it (it, or its cluster, does not exist yet); 0 for a pool that exists,
	// whose nodes are in Cluster.Nodes.
	Planned int
	// MaxNodes is what the pool's autoscaling can grow it to, over all its
	// zones; 0 when the pool does not autoscale.
	MaxNodes int
}

// Estimate is how many replicas of a workload fit on one cluster: now, on
// the nodes it has (and the nodes of pools this apply creates), and after
// its autoscaling pools have grown to their maximum.
type Estimate struct {
	Now Fit `json:"now"`
	// ScaleUp is what fits once every autoscaling pool is at its maximum:
	// Now plus what fits on the nodes still to come (and on pool nodes not
	// Ready yet, which are coming too). Nil when no pool autoscales.
	ScaleUp *Fit `json:"scaleUp,omitempty"`
	// ScaleUpNodes is how many nodes the cluster has after that scale-up.
	ScaleUpNodes int `json:"scaleUpNodes,omitempty"`
	// Pools are the cluster's node pools as the fit warning describes them.
	Pools []PoolEstimate `json:"pools,omitempty"`
	// Requests is what one replica asks of a node.
	Requests corev1.ResourceList `json:"requests,omitempty"`
}

// PoolEstimate is one node pool in an Estimate.
type PoolEstimate struct {
	Name string `json:"name"`
	// Nodes is how many nodes it has now, or will have once created.
	Nodes    int `json:"nodes"`
	MaxNodes int `json:"maxNodes,omitempty"`
	// PerNode is how many replicas fit on one empty node of the pool.
	PerNode int64 `json:"perNode"`
	// Allocatable is one node's allocatable.
	Allocatable corev1.ResourceList `json:"allocatable,omitempty"`
}

// Replicas is the figure a division uses: after scale-up when scaleUp is
// true and the cluster can scale up, else now.
func (e *Estimate) Replicas(scaleUp bool) int64 {
	if scaleUp && e.ScaleUp != nil {
		return e.ScaleUp.Replicas
	}
	return e.Now.Replicas
}

// Most is the most replicas that can run on the cluster: after scale-up
// when it can, else now.
func (e *Estimate) Most() int64 { return e.Replicas(true) }

// EstimateOf counts how many replicas of t fit on c, pods own reports true
// for counting as the workload's (see Count).
func EstimateOf(t Template, c Cluster, own func(*corev1.Pod) bool) Estimate {
	if c.ExtendedResourceToleration {
		t = withExtendedResourceTolerations(t)
	}
	e := Estimate{Requests: t.Requests, Now: Count(t, c.Nodes, c.Pods, own), ScaleUpNodes: len(c.Nodes)}
	up := Fit{}
	scales := false
	for _, p := range c.Pools {
		existing, notReady := 0, 0
		for i := range c.Nodes {
			n := &c.Nodes[i]
			if n.Labels[p.Label] != p.Value || n.DeletionTimestamp != nil {
				continue
			}
			existing++
			if !ready(n) {
				notReady++
			}
		}
		e.Pools = append(e.Pools, PoolEstimate{
			Name: p.Name, Nodes: existing + p.Planned, MaxNodes: p.MaxNodes,
			PerNode: CountShape(t, p.Shape, 1).Replicas, Allocatable: p.Shape.Allocatable,
		})
		e.Now.add(CountShape(t, p.Shape, p.Planned))
		e.ScaleUpNodes += p.Planned
		if p.MaxNodes <= 0 {
			continue
		}
		scales = true
		// Nodes not Ready yet are what the pool is growing by: after the
		// scale-up they are nodes of the pool's shape like the rest, so the
		// figure does not dip while they register.
		more := max(0, p.MaxNodes-existing-p.Planned)
		e.ScaleUpNodes += more
		up.add(CountShape(t, p.Shape, more+notReady))
		up.leaveOut(ReasonNotReady, -notReady)
	}
	if scales {
		up.add(e.Now)
		if up.LeftOut[ReasonNotReady] <= 0 {
			delete(up.LeftOut, ReasonNotReady)
		}
		e.ScaleUp = &up
	}
	return e
}

// add counts o's nodes and replicas into f.
func (f *Fit) add(o Fit) {
	f.Replicas += o.Replicas
	f.Considered += o.Considered
	f.NoRoom += o.NoRoom
	for k, v := range o.LeftOut {
		f.leaveOut(k, v)
	}
	for k, v := range o.Insufficient {
		if f.Insufficient == nil {
			f.Insufficient = map[corev1.ResourceName]int{}
		}
		f.Insufficient[k] += v
	}
}

// withExtendedResourceTolerations adds, for every extended resource t
// requests, the toleration the ExtendedResourceToleration admission plugin
// adds to such pods.
func withExtendedResourceTolerations(t Template) Template {
	tols := slices.Clone(t.Tolerations)
	for _, name := range slices.Sorted(maps.Keys(t.Requests)) {
		if q := t.Requests[name]; q.Sign() <= 0 || !extended(name) {
			continue
		}
		tols = append(tols, corev1.Toleration{Key: string(name), Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	}
	t.Tolerations = tols
	return t
}

// extended reports whether name is an extended resource, by Kubernetes'
// rule: not in the kubernetes.io domain nor unqualified (cpu, memory,
// hugepages-2Mi), and not a quota's "requests." name.
func extended(name corev1.ResourceName) bool {
	s := string(name)
	domain, _, qualified := strings.Cut(s, "/")
	return qualified && !strings.HasPrefix(s, "requests.") &&
		domain != "kubernetes.io" && !strings.HasSuffix(domain, ".kubernetes.io")
}

// Owner is one of a workload's objects that make pods: a Deployment,
// StatefulSet, ReplicaSet or Job, by kind, namespace and name.
type Owner struct {
	Kind, Namespace, Name string
}

// OwnedBy reports the pods the owners made: a pod whose controller is one
// of the ReplicaSets, StatefulSets or Jobs, or a ReplicaSet a Deployment
// made (named after the Deployment and the pod's pod-template-hash, as the
// Deployment controller names them). Owner references rather than labels:
// matching geofed's labels would need them on pod templates, and adding
// them would restart every pod of an existing workload (and cannot be done
// to a Job, whose template is immutable).
func OwnedBy(owners []Owner) func(*corev1.Pod) bool {
	set := make(map[Owner]bool, len(owners))
	for _, o := range owners {
		set[o] = true
	}
	return func(p *corev1.Pod) bool {
		for _, ref := range p.OwnerReferences {
			if ref.Controller == nil || !*ref.Controller {
				continue
			}
			if set[Owner{Kind: ref.Kind, Namespace: p.Namespace, Name: ref.Name}] {
				return true
			}
			if ref.Kind != "ReplicaSet" {
				continue
			}
			hash := p.Labels["pod-template-hash"]
			if deploy, ok := strings.CutSuffix(ref.Name, "-"+hash); ok && hash != "" &&
				set[Owner{Kind: "Deployment", Namespace: p.Namespace, Name: deploy}] {
				return true
			}
		}
		return false
	}
}

// Figures is the Estimate in a few words for the placement explanation:
// "now: 1 fits · after scale-up to 10 nodes: 10 fit".
func (e *Estimate) Figures() string {
	s := "now: " + replicasFit(e.Now.Replicas)
	if e.ScaleUp != nil {
		s += fmt.Sprintf(" · after scale-up to %s: %s", count(e.ScaleUpNodes, "node", "nodes"), replicasFit(e.ScaleUp.Replicas))
	}
	return s
}

func replicasFit(n int64) string {
	if n == 1 {
		return "1 fits"
	}
	return fmt.Sprintf("%d fit", n)
}

// Overfill is the warning for a cluster given placed replicas when fewer
// fit, even after scale-up, e.g. "5 replicas × 2 nvidia.com/gpu placed, 2
// fit (pool a100: 2 nodes × 2 nvidia.com/gpu, no autoscaling) — 3 would
// stay Pending"; "" when they fit. resource names what one replica is
// described by (the policy's resource); a template that does not request
// it is described by its cpu and memory.
func (e *Estimate) Overfill(placed int64, resource corev1.ResourceName) string {
	most := e.Most()
	if placed <= most {
		return ""
	}
	why := e.Now.Counted()
	if len(e.Pools) > 0 {
		pools := make([]string, len(e.Pools))
		for i, p := range e.Pools {
			pools[i] = p.describe(resource)
		}
		why = strings.Join(pools, "; ")
	}
	return fmt.Sprintf("%s × %s placed, %s (%s) — %d would stay Pending",
		count(placed, "replica", "replicas"), e.perReplica(resource), replicasFit(most), why, placed-most)
}

// perReplica is what one replica asks for, in the resources that say most:
// the named resource when it asks for it, else cpu and memory.
func (e *Estimate) perReplica(resource corev1.ResourceName) string {
	if q, ok := e.Requests[resource]; ok && q.Sign() > 0 {
		return q.String() + " " + string(resource)
	}
	var parts []string
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := e.Requests[name]; ok && q.Sign() > 0 {
			parts = append(parts, q.String()+" "+string(name))
		}
	}
	if len(parts) == 0 {
		return "1 pod slot"
	}
	return strings.Join(parts, ", ")
}

func (p PoolEstimate) describe(resource corev1.ResourceName) string {
	node := "node"
	if q, ok := p.Allocatable[resource]; ok && q.Sign() > 0 {
		node = q.String() + " " + string(resource)
	} else if p.PerNode == 0 {
		node = "node, 0 fit on one"
	} else {
		node = replicasFit(p.PerNode) + " on one"
	}
	s := fmt.Sprintf("pool %s: %s × %s", p.Name, count(p.Nodes, "node", "nodes"), node)
	if p.MaxNodes > 0 {
		return s + fmt.Sprintf(", autoscaling to %d", p.MaxNodes)
	}
	return s + ", no autoscaling"
}
