package gke

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// ReasonOrphan is the reason given for a cluster geofed created for this
// topology that the file no longer names: plan and apply never delete a
// cluster (DESIGN §3).
const ReasonOrphan = "no longer in the topology — not deleted (use destroy --clusters)"

// ReasonNodesUnknown is the reason given when Diff had no node counts.
const ReasonNodesUnknown = "node counts not compared: the cluster's nodes could not be read"

// Diff compares the cluster the topology asks for (from Desired) with the
// one GKE reports (nil when it does not exist) and the nodes its pools have
// (from CountNodes; nil when they could not be read), and says what apply
// would do:
//
//   - create, when live is nil: every field and pool is new;
//   - attention, when geofed must not or cannot act: live is in another
//     location (a location is never changed; that is another cluster), it
//     carries no ownership labels for this topology (geofed never adopts a
//     cluster it did not create), or GKE reports it ERROR, STOPPING or
//     DEGRADED. An attention lists reasons only, no field changes;
//   - update, when the release channel or any node pool differs;
//   - noop otherwise.
//
// Node pools are compared by name. A pool missing live is created; a pool
// live but not in the topology is deleted ("-", as GKE allows, and since
// the cluster is geofed's, the file is its whole truth) — except pools GKE's
// node auto-provisioning created, which belong to GKE and are left alone.
// Machine type, accelerators and spot cannot change in place: the pool is
// replaced. Autoscaling and node count change in place.
//
// The node count is per zone, as in GKE and the topology, and is compared
// with the nodes the pool has in each of its zones (see NodeCounts for why
// not with anything GKE's API reports). It is compared only when the desired
// pool does not autoscale, since the autoscaler owns the size of a pool that
// does; and not at all when nodes is nil, which a reason then says.
func Diff(desired, live *containerpb.Cluster, nodes NodeCounts) ClusterChange {
	ch := ClusterChange{
		Region:   regionOf(desired.GetLocation()),
		Project:  Project(desired),
		Location: desired.GetLocation(),
		Cluster:  desired.GetName(),
	}
	if ch.Project == "" {
		ch.Project = Project(live)
	}

	if live == nil {
		ch.Action = object.ActionCreate
		ch.Fields = []FieldChange{
			{Path: "location", After: desired.GetLocation()},
			{Path: "releaseChannel", After: channelOf(desired).String()},
			{Path: "resourceLabels", After: formatLabels(desired.GetResourceLabels())},
		}
		for _, p := range sortedPools(desired.GetNodePools()) {
			ch.NodePools = append(ch.NodePools, NodePoolChange{
				Name:   p.GetName(),
				Action: object.ActionCreate,
				Fields: poolFields(p),
			})
		}
		return ch
	}

	if reasons := attention(desired, live); len(reasons) > 0 {
		ch.Action = object.ActionAttention
		ch.Reasons = reasons
		return ch
	}
	switch live.GetStatus() {
	case containerpb.Cluster_PROVISIONING:
		ch.Reasons = append(ch.Reasons, "GKE is still creating the cluster (PROVISIONING); apply waits for it")
	case containerpb.Cluster_RECONCILING:
		ch.Reasons = append(ch.Reasons, "GKE is updating the cluster (RECONCILING); apply waits for it")
	}

	if d, l := channelOf(desired), channelOf(live); d != l {
		ch.Fields = append(ch.Fields, FieldChange{Path: "releaseChannel", Before: l.String(), After: d.String()})
	}
	ch.NodePools = diffPools(desired.GetNodePools(), live.GetNodePools(), nodes)
	if nodes == nil && comparesNodeCount(desired, live) {
		ch.Reasons = append(ch.Reasons, ReasonNodesUnknown)
	}

	ch.Action = object.ActionNoop
	if len(ch.Fields) > 0 {
		ch.Action = object.ActionUpdate
	}
	for _, p := range ch.NodePools {
		if p.Action != object.ActionNoop {
			ch.Action = object.ActionUpdate
		}
	}
	return ch
}

// attention returns why geofed must leave live alone, or nothing.
func attention(desired, live *containerpb.Cluster) []string {
	if l := live.GetLocation(); l != "" && l != desired.GetLocation() {
		return []string{fmt.Sprintf("exists in location %s, the topology says %s: a cluster's location cannot change "+
			"(move it by giving the new cluster another name, then destroy the old one with destroy --clusters)", l, desired.GetLocation())}
	}
	labels := live.GetResourceLabels()
	if labels[LabelManagedBy] != ManagedBy {
		return []string{fmt.Sprintf("exists but not managed by this topology: geofed did not create it (no %s=%s label); "+
			"join it with a kubeconfig context instead, or choose another name", LabelManagedBy, ManagedBy)}
	}
	if want, got := desired.GetResourceLabels()[LabelTopology], labels[LabelTopology]; got != want {
		return []string{fmt.Sprintf("exists but not managed by this topology: it belongs to topology %q", got)}
	}
	switch s := live.GetStatus(); s {
	case containerpb.Cluster_ERROR, containerpb.Cluster_STOPPING, containerpb.Cluster_DEGRADED:
		reason := "GKE reports status " + s.String()
		if msg := conditionMessages(live); msg != "" {
			reason += ": " + msg
		}
		return []string{reason}
	}
	return nil
}

// conditionMessages is GKE's explanation of a cluster's status: its
// conditions, else the deprecated status message, which GKE still fills (and
// the lab emulator fills alone).
func conditionMessages(c *containerpb.Cluster) string {
	var msgs []string
	for _, cond := range c.GetConditions() {
		if m := cond.GetMessage(); m != "" {
			msgs = append(msgs, m)
		}
	}
	if len(msgs) == 0 {
		return c.GetStatusMessage()
	}
	return strings.Join(msgs, "; ")
}

// diffPools pairs pools by name; the result is sorted by pool name.
func diffPools(desired, live []*containerpb.NodePool, nodes NodeCounts) []NodePoolChange {
	liveByName := make(map[string]*containerpb.NodePool, len(live))
	for _, p := range live {
		liveByName[p.GetName()] = p
	}
	var out []NodePoolChange
	for _, d := range sortedPools(desired) {
		l, ok := liveByName[d.GetName()]
		delete(liveByName, d.GetName())
		if !ok {
			out = append(out, NodePoolChange{Name: d.GetName(), Action: object.ActionCreate, Fields: poolFields(d)})
			continue
		}
		out = append(out, diffPool(d, l, nodes))
	}
	for _, l := range liveByName {
		if l.GetAutoscaling().GetAutoprovisioned() {
			continue
		}
		var fields []FieldChange
		for _, f := range poolFields(l) {
			if f.Path == "nodeCount" && nodes != nil {
				f.After = currentSize(l, nodes)
			}
			fields = append(fields, FieldChange{Path: f.Path, Before: f.After})
		}
		out = append(out, NodePoolChange{Name: l.GetName(), Action: object.ActionDelete, Fields: fields})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func diffPool(d, l *containerpb.NodePool, nodes NodeCounts) NodePoolChange {
	ch := NodePoolChange{Name: d.GetName(), Action: object.ActionNoop}
	replace := func(path, before, after string) {
		if before != after {
			ch.Fields = append(ch.Fields, FieldChange{Path: path, Before: before, After: after, Replace: true})
			ch.Action = object.ActionReplace
		}
	}
	update := func(path, before, after string) {
		if before != after {
			ch.Fields = append(ch.Fields, FieldChange{Path: path, Before: before, After: after})
			if ch.Action == object.ActionNoop {
				ch.Action = object.ActionUpdate
			}
		}
	}
	dm, lm := d.GetConfig().GetMachineType(), l.GetConfig().GetMachineType()
	replace("machineType", lm, dm)
	replace("accelerators", formatAccelerators(lm, l.GetConfig().GetAccelerators()), formatAccelerators(dm, d.GetConfig().GetAccelerators()))
	replace("spot", strconv.FormatBool(l.GetConfig().GetSpot()), strconv.FormatBool(d.GetConfig().GetSpot()))
	if !d.GetAutoscaling().GetEnabled() && nodes != nil {
		update("nodeCount", currentSize(l, nodes), itoa(d.GetInitialNodeCount()))
	}
	update("autoscaling", formatAutoscaling(l.GetAutoscaling()), formatAutoscaling(d.GetAutoscaling()))
	return ch
}

// comparesNodeCount reports whether Diff would compare a node count given
// the nodes: whether a fixed-size desired pool exists live.
func comparesNodeCount(desired, live *containerpb.Cluster) bool {
	liveNames := make(map[string]bool)
	for _, p := range live.GetNodePools() {
		liveNames[p.GetName()] = true
	}
	for _, p := range desired.GetNodePools() {
		if liveNames[p.GetName()] && !p.GetAutoscaling().GetEnabled() {
			return true
		}
	}
	return false
}

// currentSize renders a pool's nodes per zone: "3" when every zone of the
// pool has 3, "us-west1-a: 2, us-west1-b: 1" when the zones differ.
func currentSize(p *containerpb.NodePool, nodes NodeCounts) string {
	perZone := nodes[p.GetName()]
	zones := p.GetLocations()
	if len(zones) == 0 {
		for z := range perZone {
			zones = append(zones, z)
		}
		sort.Strings(zones)
	}
	if len(zones) == 0 {
		return "0"
	}
	uniform := true
	parts := make([]string, len(zones))
	for i, z := range zones {
		uniform = uniform && perZone[z] == perZone[zones[0]]
		parts[i] = fmt.Sprintf("%s: %d", z, perZone[z])
	}
	if uniform {
		return itoa(perZone[zones[0]])
	}
	return strings.Join(parts, ", ")
}

// poolFields lists every field of a pool, for a create (or, turned around,
// a delete).
func poolFields(p *containerpb.NodePool) []FieldChange {
	m := p.GetConfig().GetMachineType()
	return []FieldChange{
		{Path: "machineType", After: m},
		{Path: "accelerators", After: formatAccelerators(m, p.GetConfig().GetAccelerators())},
		{Path: "spot", After: strconv.FormatBool(p.GetConfig().GetSpot())},
		{Path: "nodeCount", After: itoa(p.GetInitialNodeCount())},
		{Path: "autoscaling", After: formatAutoscaling(p.GetAutoscaling())},
	}
}

// formatAccelerators renders accelerators sorted by type. Machine types
// with GPUs built in (a2, a3, g2, ...) get them whether or not the request
// names them, and GKE reports them either way, so an empty list means the
// machine's built-in GPUs.
func formatAccelerators(machineType string, accs []*containerpb.AcceleratorConfig) string {
	var parts []string
	for _, a := range accs {
		if a.GetAcceleratorCount() > 0 {
			parts = append(parts, fmt.Sprintf("%s x%d", a.GetAcceleratorType(), a.GetAcceleratorCount()))
		}
	}
	if len(parts) == 0 {
		if m, ok := catalog.LookupMachine(machineType); ok && m.GPUs > 0 {
			parts = append(parts, fmt.Sprintf("%s x%d", m.GPUType, m.GPUs))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func formatAutoscaling(a *containerpb.NodePoolAutoscaling) string {
	if !a.GetEnabled() {
		return "off"
	}
	return fmt.Sprintf("min %d, max %d", a.GetMinNodeCount(), a.GetMaxNodeCount())
}

func formatLabels(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for k, v := range labels {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func channelOf(c *containerpb.Cluster) containerpb.ReleaseChannel_Channel {
	return c.GetReleaseChannel().GetChannel()
}

func sortedPools(pools []*containerpb.NodePool) []*containerpb.NodePool {
	out := append([]*containerpb.NodePool(nil), pools...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// regionOf is the region of a location, which is a region or one of its
// zones; an uncatalogued location is its own region.
func regionOf(location string) string {
	if _, ok := catalog.LookupRegion(location); ok {
		return location
	}
	if r, ok := catalog.RegionOfZone(location); ok {
		return r
	}
	return location
}

// Orphans returns an attention change for every live cluster that carries
// this topology's ownership labels but that the topology no longer names as
// a managed cluster at that project and location. Geofed never deletes a
// cluster from plan or apply, so this is all the plan says about them. The
// result is sorted like SortChanges.
func Orphans(t *topology.Topology, live []*containerpb.Cluster) []ClusterChange {
	// A live cluster whose project is unknown (no SelfLink) matches a
	// cluster of that location and name in any project: better to miss an
	// orphan than to call a cluster in the file one.
	type key struct{ project, location, name string }
	inFile := make(map[key]bool)
	for _, ref := range t.Clusters() {
		if d := Desired(t, ref); d != nil {
			inFile[key{Project(d), d.GetLocation(), d.GetName()}] = true
			inFile[key{"", d.GetLocation(), d.GetName()}] = true
		}
	}
	var out []ClusterChange
	for _, c := range live {
		labels := c.GetResourceLabels()
		if labels[LabelManagedBy] != ManagedBy || labels[LabelTopology] != t.Metadata.Name {
			continue
		}
		if inFile[key{Project(c), c.GetLocation(), c.GetName()}] {
			continue
		}
		out = append(out, ClusterChange{
			Region:   regionOf(c.GetLocation()),
			Project:  Project(c),
			Location: c.GetLocation(),
			Cluster:  c.GetName(),
			Action:   object.ActionAttention,
			Reasons:  []string{ReasonOrphan},
		})
	}
	SortChanges(out)
	return out
}
