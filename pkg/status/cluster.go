package status

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/observe"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// clusterInput is what Compute knows of one cluster before reading it.
type clusterInput struct {
	topology string
	ref      topology.ClusterRef
	// member is what observing found of the cluster: its connection or
	// why it is left out, its GKE state, its nodes and bound pods.
	member *observe.Member
	// desired are the cluster's desired objects, in apply order;
	// desiredKnown is false when placement could not be computed.
	desired      []desired.Object
	desiredKnown bool
	// planned is plan's full dry-run of the cluster (--refresh=full).
	planned *plan.Cluster
}

// readCluster reads one cluster; it never fails, it reports.
func readCluster(ctx context.Context, in clusterInput) (c Cluster) {
	c = Cluster{Name: in.ref.Cluster.Name, Region: in.ref.Region, Mode: "joined"}
	if in.ref.Cluster.Managed() {
		c.Mode = "managed"
	}
	m := in.member
	// Every request to the cluster counts, connecting and discovery too.
	defer func() {
		if m.Conn != nil {
			c.Requests = m.Conn.Requests()
		}
	}()
	if st := m.GKE; st != nil {
		c.GKE = &GKE{Project: gke.Project(st.Desired), Location: st.Desired.GetLocation()}
		if st.Live != nil {
			c.GKE.Status = st.Live.GetStatus().String()
		}
	}
	c.Endpoint = m.Endpoint()
	if why := m.Unreadable(); why != "" {
		c.Unreachable = why
		return c
	}
	c.Reachable = true
	c.ServerVersion = m.Conn.Version
	c.Excluded = m.LeftOut.String()

	if m.NodesErr != nil {
		c.Errors = append(c.Errors, m.NodesErr.Error())
	}
	if m.Nodes != nil {
		c.Nodes = nodeCounts(m.Nodes.Nodes)
		c.Resources = extendedResources(m.Nodes.Nodes, m.Nodes.Pods)
	}

	read, err := observe.ReadObjects(ctx, m.Conn, observe.ObjectsOptions{Topology: in.topology, Desired: in.desired, Whole: true})
	if err != nil {
		c.Errors = append(c.Errors, fmt.Sprintf("cluster %s: %v", c.Name, err))
	}
	if len(read.Unread) > 0 {
		for _, gk := range slices.SortedFunc(maps.Keys(read.Unread), func(a, b schema.GroupKind) int { return strings.Compare(a.String(), b.String()) }) {
			c.Errors = append(c.Errors, fmt.Sprintf("cluster %s: %v", c.Name, read.Unread[gk]))
		}
		return c
	}
	inv := read.Inventory
	live := map[string]*unstructured.Unstructured{}
	for key, o := range read.Live {
		live[key] = o.(*unstructured.Unstructured)
	}
	served := map[schema.GroupKind]bool{}
	for gk, mapping := range read.Mappings {
		served[gk] = mapping != nil
	}
	if inv != nil {
		d := driftOf(driftInput{entries: inv.Entries, live: live, desired: in.desired, desiredKnown: in.desiredKnown, planned: in.planned})
		c.Drift = &d
	}
	if in.desiredKnown {
		recorded := map[string]bool{}
		if inv != nil {
			for _, e := range inv.Entries {
				recorded[e.Key()] = e.UID != ""
			}
		}
		c.Workloads = judge(ctx, in.desired, live, served, recorded, m.Pods())
	}
	return c
}

// podLister lists a namespace's pods, once: observe.Pods.
type podLister interface {
	In(ctx context.Context, namespace string) ([]map[string]any, error)
}
