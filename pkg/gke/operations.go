package gke

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/protobuf/proto"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

// Operation polling: GKE creates a cluster in minutes and changes one in
// seconds to minutes, so polls back off from a fraction of a second to
// pollMax. The emulator's operations take seconds; it is polled faster.
const (
	pollStart       = 200 * time.Millisecond
	pollMax         = 5 * time.Second
	pollMaxEmulator = 500 * time.Millisecond
)

// CreateCluster asks GKE to create desired (from Desired) in its project and
// location and returns the long-running operation; WaitOperation waits for
// it. Errors name the cluster and where, and carry GKE's message (a quota
// that is short, say) with a hint for the codes people can act on.
func (c *Client) CreateCluster(ctx context.Context, desired *containerpb.Cluster) (*containerpb.Operation, error) {
	parent := parentName(Project(desired), desired.GetLocation())
	cl := proto.Clone(desired).(*containerpb.Cluster)
	// Output-only in GKE; Desired keeps the project there.
	cl.SelfLink = ""
	op, err := c.cm.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: cl})
	if err != nil {
		return nil, c.apiError(fmt.Sprintf("creating GKE cluster %s (%s)", desired.GetName(), parent), err)
	}
	return op, nil
}

// OperationError is a GKE operation that ended with an error.
type OperationError struct {
	Name    string // the operation's id, e.g. "operation-7"
	Type    containerpb.Operation_Type
	Message string
}

func (e *OperationError) Error() string {
	return fmt.Sprintf("GKE operation %s (%s) failed: %s", e.Name, e.Type, e.Message)
}

// WaitOperation polls op until it is DONE, and returns an *OperationError
// when it failed. op.name is the operation's id, not a resource name: it is
// read at projects/P/locations/L/operations/ID, L being the operation's own
// location, else location. progress, when not nil, hears every status
// change ("operation-7 CREATE_CLUSTER: RUNNING").
func (c *Client) WaitOperation(ctx context.Context, project, location string, op *containerpb.Operation, progress func(string)) error {
	if loc := op.GetLocation(); loc != "" {
		location = loc
	}
	name := parentName(project, location) + "/operations/" + op.GetName()
	limit := c.pollLimit()
	delay := pollStart
	reported := containerpb.Operation_STATUS_UNSPECIFIED
	for {
		if s := op.GetStatus(); s != reported && progress != nil {
			progress(fmt.Sprintf("%s %s: %s", op.GetName(), op.GetOperationType(), s))
			reported = s
		}
		if op.GetStatus() == containerpb.Operation_DONE {
			if st := op.GetError(); st != nil && st.GetCode() != 0 {
				return &OperationError{Name: op.GetName(), Type: op.GetOperationType(), Message: st.GetMessage()}
			}
			if msg := op.GetStatusMessage(); op.GetError() == nil && msg != "" {
				// Older GKE responses report a failure only here.
				return &OperationError{Name: op.GetName(), Type: op.GetOperationType(), Message: msg}
			}
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for GKE operation %s: %w", name, context.Cause(ctx))
		case <-t.C:
		}
		delay = min(2*delay, limit)
		next, err := c.cm.GetOperation(ctx, &containerpb.GetOperationRequest{Name: name})
		if err != nil {
			return c.apiError("waiting for GKE operation "+name, err)
		}
		op = next
	}
}

// RunningOperation returns the newest operation GKE is still running on a
// cluster (creating or changing it), or nil when there is none. An apply
// interrupted while GKE created a cluster finds that operation here and
// waits for it instead of asking again.
func (c *Client) RunningOperation(ctx context.Context, project, location, cluster string) (*containerpb.Operation, error) {
	parent := parentName(project, location)
	resp, err := c.cm.ListOperations(ctx, &containerpb.ListOperationsRequest{Parent: parent})
	if err != nil {
		return nil, c.apiError("listing GKE operations in "+parent, err)
	}
	var newest *containerpb.Operation
	for _, op := range resp.GetOperations() {
		if op.GetStatus() == containerpb.Operation_DONE || !targetsCluster(op.GetTargetLink(), cluster) {
			continue
		}
		// RFC 3339 UTC times sort as strings.
		if newest == nil || op.GetStartTime() >= newest.GetStartTime() {
			newest = op
		}
	}
	return newest, nil
}

// AwaitCluster waits until GKE has finished creating or changing a cluster
// (PROVISIONING or RECONCILING) and returns it as it is then, with the
// operation waited for (nil when GKE listed none, and the cluster itself was
// polled). A cluster in any other state is returned at once. A failed
// operation is an *OperationError, returned with the cluster.
func (c *Client) AwaitCluster(ctx context.Context, project, location, name string, progress func(string)) (*containerpb.Cluster, *containerpb.Operation, error) {
	live, err := c.GetCluster(ctx, project, location, name)
	if err != nil || live == nil || !busy(live) {
		return live, nil, err
	}
	op, err := c.RunningOperation(ctx, project, location, name)
	if err != nil {
		return live, nil, err
	}
	if op != nil {
		werr := c.WaitOperation(ctx, project, location, op, progress)
		live, err = c.GetCluster(ctx, project, location, name)
		if werr != nil {
			return live, op, werr
		}
		if err != nil || live == nil || !busy(live) {
			return live, op, err
		}
	}
	// No operation listed (or another one started after it): poll the
	// cluster itself.
	limit := c.pollLimit()
	delay := pollStart
	reported := containerpb.Cluster_STATUS_UNSPECIFIED
	for live != nil && busy(live) {
		if s := live.GetStatus(); s != reported && progress != nil {
			progress(fmt.Sprintf("cluster %s: %s", name, s))
			reported = s
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return live, op, fmt.Errorf("waiting for GKE cluster %s to leave %s: %w", name, live.GetStatus(), context.Cause(ctx))
		case <-t.C:
		}
		delay = min(2*delay, limit)
		if live, err = c.GetCluster(ctx, project, location, name); err != nil {
			return nil, op, err
		}
	}
	return live, op, nil
}

func (c *Client) pollLimit() time.Duration {
	if c.emulatorHost != "" {
		return pollMaxEmulator
	}
	return pollMax
}

func busy(c *containerpb.Cluster) bool {
	s := c.GetStatus()
	return s == containerpb.Cluster_PROVISIONING || s == containerpb.Cluster_RECONCILING
}

// targetsCluster reports whether an operation's target link is the named
// cluster or one of its node pools.
func targetsCluster(link, cluster string) bool {
	i := strings.Index(link, "/clusters/"+cluster)
	if i < 0 {
		return false
	}
	rest := link[i+len("/clusters/")+len(cluster):]
	return rest == "" || strings.HasPrefix(rest, "/")
}

// SetNodePoolSize sets a fixed-size node pool's node count per zone.
func (c *Client) SetNodePoolSize(ctx context.Context, cluster *containerpb.Cluster, pool string, nodes int32) (*containerpb.Operation, error) {
	name := poolName(cluster, pool)
	op, err := c.cm.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: name, NodeCount: nodes})
	if err != nil {
		return nil, c.apiError(fmt.Sprintf("resizing node pool %s of GKE cluster %s to %d nodes", pool, cluster.GetName(), nodes), err)
	}
	return op, nil
}

// SetNodePoolAutoscaling replaces a node pool's autoscaling; a nil or
// disabled a turns autoscaling off.
func (c *Client) SetNodePoolAutoscaling(ctx context.Context, cluster *containerpb.Cluster, pool string, a *containerpb.NodePoolAutoscaling) (*containerpb.Operation, error) {
	if a == nil {
		a = &containerpb.NodePoolAutoscaling{}
	}
	name := poolName(cluster, pool)
	op, err := c.cm.SetNodePoolAutoscaling(ctx, &containerpb.SetNodePoolAutoscalingRequest{Name: name, Autoscaling: a})
	if err != nil {
		return nil, c.apiError(fmt.Sprintf("setting autoscaling of node pool %s of GKE cluster %s to %s", pool, cluster.GetName(), formatAutoscaling(a)), err)
	}
	return op, nil
}

// SetReleaseChannel moves a cluster to another release channel.
func (c *Client) SetReleaseChannel(ctx context.Context, cluster *containerpb.Cluster, channel containerpb.ReleaseChannel_Channel) (*containerpb.Operation, error) {
	op, err := c.cm.UpdateCluster(ctx, &containerpb.UpdateClusterRequest{
		Name:   clusterName(cluster),
		Update: &containerpb.ClusterUpdate{DesiredReleaseChannel: &containerpb.ReleaseChannel{Channel: channel}},
	})
	if err != nil {
		return nil, c.apiError(fmt.Sprintf("moving GKE cluster %s to release channel %s", cluster.GetName(), channel), err)
	}
	return op, nil
}

// CreateNodePool adds a node pool (one of Desired's) to a running cluster.
func (c *Client) CreateNodePool(ctx context.Context, cluster *containerpb.Cluster, pool *containerpb.NodePool) (*containerpb.Operation, error) {
	op, err := c.cm.CreateNodePool(ctx, &containerpb.CreateNodePoolRequest{Parent: clusterName(cluster), NodePool: pool})
	if err != nil {
		return nil, c.apiError(fmt.Sprintf("creating node pool %s of GKE cluster %s", pool.GetName(), cluster.GetName()), err)
	}
	return op, nil
}

// UpdateNodePool changes pool (its name in GKE) of cluster in place into
// desired: its machine type and accelerators, which GKE makes by recreating
// the pool's nodes with the pool's surge or blue-green upgrade settings, as
// `gcloud container node-pools update --machine-type` does. GKE requires a
// node version and an image type; the live pool's are sent, so that
// nothing else changes (the "-" alias would upgrade nodes that lag behind
// the control plane).
func (c *Client) UpdateNodePool(ctx context.Context, cluster *containerpb.Cluster, pool string, desired, live *containerpb.NodePool) (*containerpb.Operation, error) {
	req := &containerpb.UpdateNodePoolRequest{
		Name:        poolName(cluster, pool),
		NodeVersion: live.GetVersion(),
		ImageType:   live.GetConfig().GetImageType(),
		MachineType: desired.GetConfig().GetMachineType(),
	}
	if req.NodeVersion == "" {
		req.NodeVersion = "-"
	}
	for _, a := range desired.GetConfig().GetAccelerators() {
		req.Accelerators = append(req.Accelerators, proto.Clone(a).(*containerpb.AcceleratorConfig))
	}
	op, err := c.cm.UpdateNodePool(ctx, req)
	if err != nil {
		return nil, c.apiError(fmt.Sprintf("changing the machine of node pool %s of GKE cluster %s to %s", pool, cluster.GetName(),
			strings.TrimSuffix(req.MachineType+" with "+formatAccelerators(req.MachineType, req.Accelerators), " with none")), err)
	}
	return op, nil
}

// DeleteNodePool deletes pool (its name in GKE) of cluster, and its nodes.
// GKE does not wait for PodDisruptionBudgets: apply drains the nodes first.
func (c *Client) DeleteNodePool(ctx context.Context, cluster *containerpb.Cluster, pool string) (*containerpb.Operation, error) {
	op, err := c.cm.DeleteNodePool(ctx, &containerpb.DeleteNodePoolRequest{Name: poolName(cluster, pool)})
	if err != nil {
		return nil, c.apiError(fmt.Sprintf("deleting node pool %s of GKE cluster %s", pool, cluster.GetName()), err)
	}
	return op, nil
}

// PoolNamed is the topology's pool desired to create under name in GKE,
// with nodes per zone: a name other than the topology's is recorded in the
// LabelPoolName resource label, so that Diff knows the pool as the
// topology's.
func PoolNamed(desired *containerpb.NodePool, name string, nodes int32) *containerpb.NodePool {
	p := proto.Clone(desired).(*containerpb.NodePool)
	p.Name, p.InitialNodeCount = name, nodes
	if name != desired.GetName() {
		if p.Config == nil {
			p.Config = &containerpb.NodeConfig{}
		}
		labels := maps.Clone(p.Config.ResourceLabels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels[LabelPoolName] = desired.GetName()
		p.Config.ResourceLabels = labels
	}
	return p
}

// UpdateKind is one kind of in-place change apply makes to a live cluster.
type UpdateKind string

const (
	UpdateReleaseChannel      UpdateKind = "releaseChannel"
	UpdateCreateNodePool      UpdateKind = "createNodePool"
	UpdateNodePoolAutoscaling UpdateKind = "nodePoolAutoscaling"
	UpdateNodePoolSize        UpdateKind = "nodePoolSize"
	// UpdateNodePoolMachine changes a pool's machine type and
	// accelerators; GKE recreates its nodes.
	UpdateNodePoolMachine UpdateKind = "nodePoolMachine"
)

// Update is one in-place change, one GKE operation: GKE runs one operation
// per cluster at a time, so apply starts them one after the other.
type Update struct {
	Kind UpdateKind
	// Pool is the node pool changed, by its topology name; "" for a
	// cluster-level change.
	Pool string
	// LivePool is the pool's name in GKE when it is not Pool (see
	// NodePoolChange.Pool).
	LivePool string
	// Description says what changes, for progress lines and errors.
	Description string
}

// GKEName is the changed pool's name in GKE.
func (u Update) GKEName() string {
	if u.LivePool != "" {
		return u.LivePool
	}
	return u.Pool
}

// Updates turns a planned ClusterChange into the in-place changes that make
// the live cluster match desired, in the order to make them: the release
// channel, new node pools, then per pool autoscaling before size (so a pool
// leaving autoscaling is not clamped by its old bounds), then the machine
// type and accelerators, which recreate the nodes (at their new count).
// Node pools to replace or delete are not in-place changes: they need the
// cluster's nodes drained, which apply does itself.
//
// It refuses a change that needs attention before anything is touched.
func Updates(ch ClusterChange, desired *containerpb.Cluster) ([]Update, error) {
	switch ch.Action {
	case object.ActionAttention:
		return nil, fmt.Errorf("GKE cluster %s needs attention, geofed leaves it alone: %s", ch.Cluster, strings.Join(ch.Reasons, "; "))
	case object.ActionUpdate:
	default:
		return nil, nil
	}
	var out []Update
	for _, f := range ch.Fields {
		if f.Path == "releaseChannel" {
			out = append(out, Update{Kind: UpdateReleaseChannel, Description: "release channel " + f.Before + " → " + f.After})
		}
	}
	for _, p := range ch.NodePools {
		if p.Action == object.ActionCreate {
			d := "create node pool " + p.Name
			if p.Pool != "" {
				d += " as " + p.Pool + " (a pool is named " + p.Name + " already)"
			}
			out = append(out, Update{Kind: UpdateCreateNodePool, Pool: p.Name, LivePool: p.Pool, Description: d})
		}
	}
	for _, p := range ch.NodePools {
		if p.Action != object.ActionUpdate {
			continue
		}
		for _, path := range []string{"autoscaling", "nodeCount"} {
			for _, f := range p.Fields {
				if f.Path != path {
					continue
				}
				u := Update{Kind: UpdateNodePoolAutoscaling, Pool: p.Name, LivePool: p.Pool, Description: fmt.Sprintf("node pool %s: autoscaling %s → %s", p.Name, f.Before, f.After)}
				if path == "nodeCount" {
					u = Update{Kind: UpdateNodePoolSize, Pool: p.Name, LivePool: p.Pool, Description: fmt.Sprintf("node pool %s: nodes %s → %s", p.Name, f.Before, f.After)}
				}
				out = append(out, u)
			}
		}
		var machine []string
		for _, f := range p.Fields {
			if f.RecreatesNodes {
				machine = append(machine, fmt.Sprintf("%s %s → %s", f.Path, f.Before, f.After))
			}
		}
		if len(machine) > 0 {
			out = append(out, Update{Kind: UpdateNodePoolMachine, Pool: p.Name, LivePool: p.Pool,
				Description: fmt.Sprintf("node pool %s: %s (nodes recreated)", p.Name, strings.Join(machine, ", "))})
		}
	}
	for _, u := range out {
		if u.Pool != "" && findPool(desired, u.Pool) == nil {
			return nil, fmt.Errorf("GKE cluster %s: the plan changes node pool %s, which the topology does not have", ch.Cluster, u.Pool)
		}
	}
	return out, nil
}

// StartUpdate starts the GKE operation that makes u on cluster, with the
// values desired (from Desired) asks for; live is the cluster as GKE
// reports it now, whose pools a machine change reads its versions from.
func (c *Client) StartUpdate(ctx context.Context, desired, live *containerpb.Cluster, u Update) (*containerpb.Operation, error) {
	switch u.Kind {
	case UpdateReleaseChannel:
		return c.SetReleaseChannel(ctx, desired, channelOf(desired))
	case UpdateCreateNodePool, UpdateNodePoolAutoscaling, UpdateNodePoolSize, UpdateNodePoolMachine:
		p := findPool(desired, u.Pool)
		if p == nil {
			return nil, fmt.Errorf("GKE cluster %s has no node pool %s in the topology", desired.GetName(), u.Pool)
		}
		switch u.Kind {
		case UpdateCreateNodePool:
			return c.CreateNodePool(ctx, desired, PoolNamed(p, u.GKEName(), p.GetInitialNodeCount()))
		case UpdateNodePoolAutoscaling:
			return c.SetNodePoolAutoscaling(ctx, desired, u.GKEName(), p.GetAutoscaling())
		case UpdateNodePoolSize:
			return c.SetNodePoolSize(ctx, desired, u.GKEName(), p.GetInitialNodeCount())
		default:
			lp := findPool(live, u.GKEName())
			if lp == nil {
				return nil, fmt.Errorf("GKE cluster %s has no node pool %s", desired.GetName(), u.GKEName())
			}
			return c.UpdateNodePool(ctx, desired, u.GKEName(), p, lp)
		}
	}
	return nil, fmt.Errorf("unknown GKE update %q", u.Kind)
}

// findPool is c's pool called name, or nil.
func findPool(c *containerpb.Cluster, name string) *containerpb.NodePool {
	for _, p := range c.GetNodePools() {
		if p.GetName() == name {
			return p
		}
	}
	return nil
}

func parentName(project, location string) string {
	return "projects/" + project + "/locations/" + location
}

func clusterName(c *containerpb.Cluster) string {
	return ResourceName(Project(c), c.GetLocation(), c.GetName())
}

func poolName(c *containerpb.Cluster, pool string) string {
	return clusterName(c) + "/nodePools/" + pool
}
