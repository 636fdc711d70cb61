package observe

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/container/apiv1/containerpb"
	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"

	"github.com/geofed-io/kubectl-geofed/pkg/capacity"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
)

// Reason is why observing leaves a cluster out of placement: the one
// reason, the first that applies in the order below.
type Reason string

const (
	// GKEUnknown: GKE could not be asked about the cluster (its project
	// could not be listed, or not its zone), so whether it exists is not
	// known.
	GKEUnknown Reason = "GKEUnknown"
	// GKENotServing: GKE reports the cluster ERROR or STOPPING, or
	// running without an endpoint: it cannot take workloads.
	GKENotServing Reason = "GKENotServing"
	// GKEReconciling: GKE has been reconciling the cluster for longer
	// than Options.ReconcilingLimit.
	GKEReconciling Reason = "GKEReconciling"
	// Excluded: the caller keeps it out (Options.Exclude: failover, until
	// the member has been healthy long enough).
	Excluded Reason = "Excluded"
	// Unreachable: the cluster did not answer, refused geofed's
	// credentials, its kubeconfig context is unknown, or the caller knows
	// it dark or without credentials (Options.Members).
	Unreachable Reason = "Unreachable"
	// CapacityUnread: a workload divides replicas by capacity and this
	// cluster's could not be read, so its share cannot be known.
	CapacityUnread Reason = "CapacityUnread"
)

// LeftOut says why placement leaves a cluster out, and what was found:
// plan plans nothing on it and prunes nothing there.
type LeftOut struct {
	Reason Reason
	// Message is what placement, the plan and status print.
	Message string
}

// String is the message, "" for a cluster not left out (nil).
func (l *LeftOut) String() string {
	if l == nil {
		return ""
	}
	return l.Message
}

// Member is what observing found of one cluster of the topology.
type Member struct {
	Name   string
	Region string
	// Conn is the connection; a managed cluster that does not exist yet
	// has Err member.ErrNotCreated.
	Conn *member.Conn
	// LeftOut is nil when placement counts the cluster in.
	LeftOut *LeftOut
	// GKE is the cluster's GKE state; nil for a joined cluster.
	GKE *GKEState
	// Nodes holds the cluster's nodes and bound pods when they were read
	// (for capacity, or Options.Nodes); NodesErr says why they could not
	// be.
	Nodes    *capacity.Cluster
	NodesErr error
	// NodeCounts counts a reachable GKE cluster's nodes per node pool and
	// zone, which its node pools' sizes are compared with; NodeCountsErr
	// says why they could not be counted.
	NodeCounts    gke.NodeCounts
	NodeCountsErr error
}

// NotServing says why GKE's cluster cannot take workloads although it
// exists and is not being created: GKE reports it ERROR or STOPPING, or
// running without an endpoint. It is "" otherwise, and for a joined
// cluster.
func (s *GKEState) NotServing() string {
	if s == nil || s.Err != nil || s.Live == nil || s.Usable() || s.Live.GetStatus() == containerpb.Cluster_PROVISIONING {
		return ""
	}
	return fmt.Sprintf("GKE reports the cluster as %s", s.Live.GetStatus())
}

// Unreadable says why the cluster's objects cannot be read, "" when they
// can: GKE's state first, then the connection's.
func (m *Member) Unreadable() string {
	if st := m.GKE; st != nil {
		switch {
		case st.Err != nil:
			return st.Err.Error()
		case st.Live == nil:
			return "the GKE cluster does not exist yet: apply creates it"
		case st.Live.GetStatus() == containerpb.Cluster_PROVISIONING:
			return "GKE is still creating the cluster (PROVISIONING)"
		case st.NotServing() != "":
			return st.NotServing()
		}
	}
	switch c := m.Conn; {
	case c == nil:
		return "not connected"
	case errors.Is(c.Err, member.ErrNotCreated):
		return "the cluster does not exist yet: apply creates it"
	case c.Err != nil:
		return c.Err.Error()
	}
	return ""
}

// Endpoint is the address geofed reaches the cluster at: the
// connection's, or, before there is one, the endpoint GKE reports.
func (m *Member) Endpoint() string {
	if m.Conn != nil && m.Conn.Config != nil {
		return m.Conn.Config.Host
	}
	if m.GKE != nil && m.GKE.Live.GetEndpoint() != "" {
		return "https://" + m.GKE.Live.GetEndpoint()
	}
	return ""
}

// leaveOut says why placement leaves a cluster out, nil when it does not:
// GKE's state first, an upgrade that hangs before the connection's error
// (it is also why the apiserver may not answer), then the caller's
// exclusion, then the connection.
func leaveOut(m *Member, stuck string, excluded string, isExcluded, kept bool) *LeftOut {
	if st := m.GKE; st != nil && st.Err != nil {
		return &LeftOut{GKEUnknown, st.Err.Error()}
	}
	if why := m.GKE.NotServing(); why != "" {
		// Its share goes to the others.
		return &LeftOut{GKENotServing, why}
	}
	if stuck != "" {
		return &LeftOut{GKEReconciling, stuck}
	}
	if isExcluded {
		return &LeftOut{Excluded, excluded}
	}
	if c := m.Conn; c.Err != nil && !errors.Is(c.Err, member.ErrNotCreated) && !kept {
		return &LeftOut{Unreachable, c.Err.Error()}
	}
	return nil
}

// readNodes reads, for every member that answers, what the others need
// that capacity did not already read: its nodes and bound pods when all
// is set (status reports them), and a GKE cluster's node counts per pool
// (plan compares the pools' sizes with them). Failures are recorded on the
// member, never fatal.
func (o *Observation) readNodes(ctx context.Context, all bool) {
	var g errgroup.Group
	g.SetLimit(8)
	for i := range o.Members {
		m := &o.Members[i]
		if m.Conn == nil || m.Conn.Err != nil {
			continue
		}
		if all && m.Nodes == nil && m.NodesErr == nil {
			g.Go(func() error {
				read, err := m.Conn.ReadCapacity(ctx)
				if err != nil {
					m.NodesErr = err
					if m.GKE != nil && m.GKE.Err == nil {
						m.NodeCountsErr = err
					}
					return nil
				}
				m.Nodes = &read
				if m.GKE != nil && m.GKE.Err == nil {
					m.NodeCounts = gke.CountNodesIn(read.Nodes)
				}
				return nil
			})
			continue
		}
		if m.GKE == nil || m.GKE.Err != nil {
			continue
		}
		if m.Nodes != nil {
			// Listed once already, for capacity.
			m.NodeCounts = gke.CountNodesIn(m.Nodes.Nodes)
			continue
		}
		g.Go(func() error {
			cs, err := kubernetes.NewForConfig(m.Conn.Config)
			if err == nil {
				m.NodeCounts, err = gke.CountNodes(ctx, cs.CoreV1().Nodes())
			}
			m.NodeCountsErr = err
			return nil
		})
	}
	_ = g.Wait()
}
