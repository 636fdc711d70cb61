package status

import (
	"context"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
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

	inv, err := inventory.Read(ctx, m.Conn.Dynamic, in.topology)
	if err != nil {
		c.Errors = append(c.Errors, fmt.Sprintf("cluster %s: %v", c.Name, err))
	}
	live, served, err := listObjects(ctx, m.Conn, in.topology, in.desired, inv)
	if err != nil {
		c.Errors = append(c.Errors, fmt.Sprintf("cluster %s: %v", c.Name, err))
		return c
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
		pods := &namespacePods{client: m.Conn.Dynamic}
		c.Workloads = judge(ctx, in.desired, live, served, recorded, pods)
	}
	return c
}

// listKey is one LIST: a resource in a namespace ("" for cluster-scoped
// kinds).
type listKey struct {
	gvr       schema.GroupVersionResource
	namespace string
}

// listObjects reads geofed's live objects with one LIST per kind and
// namespace, selected by the topology label: every kind and namespace
// geofed renders now or recorded before. served says, by group and kind,
// whether the cluster serves the kind at all.
func listObjects(ctx context.Context, conn *member.Conn, topologyName string, objs []desired.Object, inv *inventory.Inventory) (map[string]*unstructured.Unstructured, map[schema.GroupKind]bool, error) {
	type want struct {
		gk        schema.GroupKind
		version   string
		namespace string
	}
	var wants []want
	for _, o := range objs {
		gvk := o.Object.GroupVersionKind()
		wants = append(wants, want{gvk.GroupKind(), gvk.Version, o.Object.GetNamespace()})
	}
	if inv != nil {
		for _, e := range inv.Entries {
			wants = append(wants, want{schema.GroupKind{Group: e.Group, Kind: e.Kind}, e.Version, e.Namespace})
		}
	}
	served := map[schema.GroupKind]bool{}
	mappings := map[schema.GroupKind]*meta.RESTMapping{}
	lists := map[listKey]bool{}
	for _, w := range wants {
		m, ok := mappings[w.gk]
		if !ok {
			var err error
			if m, err = conn.Mapper.RESTMapping(w.gk, w.version); err != nil {
				// Not served (a CRD not installed): nothing of it is live.
				m = nil
			}
			mappings[w.gk], served[w.gk] = m, m != nil
		}
		if m == nil {
			continue
		}
		ns := w.namespace
		if m.Scope.Name() != meta.RESTScopeNameNamespace {
			ns = ""
		}
		lists[listKey{m.Resource, ns}] = true
	}
	keys := make([]listKey, 0, len(lists))
	for k := range lists {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if a, b := keys[i].gvr.String(), keys[j].gvr.String(); a != b {
			return a < b
		}
		return keys[i].namespace < keys[j].namespace
	})

	live := map[string]*unstructured.Unstructured{}
	for _, lk := range keys {
		list, err := conn.Dynamic.Resource(lk.gvr).Namespace(lk.namespace).List(ctx, metav1.ListOptions{
			LabelSelector: object.LabelTopology + "=" + topologyName,
		})
		if err != nil {
			where := lk.gvr.String()
			if lk.namespace != "" {
				where += " in namespace " + lk.namespace
			}
			return nil, nil, fmt.Errorf("listing %s: %w", where, err)
		}
		for i := range list.Items {
			item := &list.Items[i]
			live[object.KeyOf(item)] = item
		}
	}
	return live, served, nil
}

var podsResource = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

// namespacePods lists each namespace's pods once, when a workload there
// needs them to say why it is not ready: one LIST per namespace in
// trouble, instead of one per workload.
type namespacePods struct {
	client dynamic.Interface
	byNS   map[string][]map[string]any
	failed map[string]error
}

func (p *namespacePods) in(ctx context.Context, namespace string) ([]map[string]any, error) {
	if pods, ok := p.byNS[namespace]; ok {
		return pods, nil
	}
	if err, ok := p.failed[namespace]; ok {
		return nil, err
	}
	if p.byNS == nil {
		p.byNS, p.failed = map[string][]map[string]any{}, map[string]error{}
	}
	// ResourceVersion 0 is served from the apiserver's cache, not etcd: a
	// diagnosis may be a moment old.
	list, err := p.client.Resource(podsResource).Namespace(namespace).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		err = fmt.Errorf("listing the pods of namespace %s: %w", namespace, err)
		p.failed[namespace] = err
		return nil, err
	}
	pods := make([]map[string]any, len(list.Items))
	for i := range list.Items {
		pods[i] = list.Items[i].Object
	}
	p.byNS[namespace] = pods
	return pods, nil
}
