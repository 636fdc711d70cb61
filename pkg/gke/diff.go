package gke

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
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
// Node pools are paired by the topology's name: a live pool stands for the
// topology pool its LabelPoolName resource label names, else for the pool
// of its own name (a pool that replaced another is named apart from it; see
// Replacement). A pool missing live is created; a live pool the topology
// does not name is deleted ("-": its nodes drained first; since the cluster
// is geofed's, the file is its whole truth) — except pools GKE's node
// auto-provisioning created, which belong to GKE and are left alone.
//
// What GKE's UpdateNodePool takes changes in place ("~"): the machine type
// and the accelerators, GKE recreating the nodes with the pool's upgrade
// settings (RecreatesNodes); autoscaling and node count too. What it does
// not take forces a replacement ("-/+", Replace): spot, which
// UpdateNodePoolRequest has no field for, and removing every accelerator of
// a machine that has none built in, which its repeated accelerators field
// cannot say (an empty list is no change). The replacement is created
// beside the old pool, which is drained and deleted once the new one's nodes
// are Ready; a replacement an apply left half done (both pools there) is
// shown with the new pool existing, so that the next apply finishes it.
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

// LabelPoolName is the GKE resource label, on a node pool's config (and so
// on its VMs), naming the topology pool it stands for when its own name is
// another: the pool that replaced one. GKE label keys allow no '/', hence
// no geofed.io/ prefix.
const LabelPoolName = "geofed-node-pool"

// TopologyName is the topology pool a live pool stands for: the one its
// LabelPoolName resource label names, else the one of its own name.
func TopologyName(p *containerpb.NodePool) string {
	if n := p.GetConfig().GetResourceLabels()[LabelPoolName]; n != "" {
		return n
	}
	return p.GetName()
}

// ReplacementName is the name in GKE of a pool created for the topology's
// pool desired while a live pool has its name: the topology's name, cut to
// leave room (GKE names are 40 characters at most), a dash and eight hex
// digits of a hash of what the new pool's nodes are. Replacing the pool
// again, its topology name is free once more and is used, so names never
// grow; the hash keeps the name the same for the same configuration, so an
// interrupted apply's re-run finds the pool it created.
func ReplacementName(desired *containerpb.NodePool) string {
	m := desired.GetConfig().GetMachineType()
	sum := sha256.Sum256(fmt.Appendf(nil, "%s|%s|spot=%t", m, formatAccelerators(m, desired.GetConfig().GetAccelerators()), desired.GetConfig().GetSpot()))
	base := desired.GetName()
	if len(base) > 31 {
		base = strings.TrimRight(base[:31], "-")
	}
	return base + "-" + hex.EncodeToString(sum[:4])
}

// LivePool is the live pool that is the topology's pool desired, or stays
// it once apply has run: of the live pools standing for its name, the one
// GKE can change into it in place. It is nil when apply creates the pool,
// also as a replacement.
func LivePool(desired *containerpb.NodePool, live *containerpb.Cluster) *containerpb.NodePool {
	keep, _ := pairPool(desired, candidates(live.GetNodePools())[desired.GetName()])
	return keep
}

// candidates groups live pools by the topology name they stand for, those
// of that very name first, then by name.
func candidates(live []*containerpb.NodePool) map[string][]*containerpb.NodePool {
	out := map[string][]*containerpb.NodePool{}
	for _, p := range live {
		n := TopologyName(p)
		out[n] = append(out[n], p)
	}
	for n, ps := range out {
		sort.SliceStable(ps, func(i, j int) bool {
			if a, b := ps[i].GetName() == n, ps[j].GetName() == n; a != b {
				return a
			}
			return ps[i].GetName() < ps[j].GetName()
		})
	}
	return out
}

// pairPool picks, of the live pools standing for desired, the one to keep
// (the first GKE can change into desired in place) and the old ones, which
// a replacement drains and deletes.
func pairPool(desired *containerpb.NodePool, cands []*containerpb.NodePool) (keep *containerpb.NodePool, old []*containerpb.NodePool) {
	for _, c := range cands {
		if keep == nil && !forcesReplacement(desired, c) {
			keep = c
			continue
		}
		old = append(old, c)
	}
	return keep, old
}

// diffPools pairs pools by topology name; the result is sorted by name.
func diffPools(desired, live []*containerpb.NodePool, nodes NodeCounts) []NodePoolChange {
	byName := candidates(live)
	taken := make(map[string]bool, len(live))
	for _, p := range live {
		taken[p.GetName()] = true
	}
	var out []NodePoolChange
	for _, d := range sortedPools(desired) {
		cands := byName[d.GetName()]
		delete(byName, d.GetName())
		out = append(out, diffPool(d, cands, taken, nodes))
	}
	var gone []*containerpb.NodePool
	for _, ls := range byName {
		gone = append(gone, ls...)
	}
	for _, l := range sortedPools(gone) {
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
	// Stable: a pool created under another name sorts before the pool of
	// its name deleted.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// diffPool is what happens to the topology's pool d, given the live pools
// standing for it and the names live pools have taken.
func diffPool(d *containerpb.NodePool, cands []*containerpb.NodePool, taken map[string]bool, nodes NodeCounts) NodePoolChange {
	ch := NodePoolChange{Name: d.GetName()}
	keep, old := pairPool(d, cands)
	switch {
	case len(cands) == 0:
		ch.Action, ch.Fields = object.ActionCreate, poolFields(d)
		if n := freeName(d, taken); n != d.GetName() {
			ch.Pool = n
		}
	case len(old) == 0:
		ch.Action = object.ActionNoop
		if keep.GetName() != d.GetName() {
			ch.Pool = keep.GetName()
		}
		ch.Fields = poolDiff(d, keep, nodes)
		if len(ch.Fields) > 0 {
			ch.Action = object.ActionUpdate
		}
	default:
		ch.Action = object.ActionReplace
		ch.Fields = poolDiff(d, old[0], nodes)
		r := &Replacement{}
		for _, o := range old {
			r.Old = append(r.Old, o.GetName())
		}
		if keep != nil {
			r.Pool, r.Exists = keep.GetName(), true
		} else {
			r.Pool = freeName(d, taken)
		}
		ch.Replacement = r
	}
	return ch
}

// freeName is the name in GKE a new pool for d gets: the topology's unless
// a live pool has it.
func freeName(d *containerpb.NodePool, taken map[string]bool) string {
	if !taken[d.GetName()] {
		return d.GetName()
	}
	return ReplacementName(d)
}

// forcesReplacement reports whether GKE cannot change pool l into d in
// place (see Diff).
func forcesReplacement(d, l *containerpb.NodePool) bool {
	for _, f := range poolDiff(d, l, nil) {
		if f.Replace {
			return true
		}
	}
	return false
}

// poolDiff lists the fields of live pool l that differ from d, each marked
// as changed in place by recreating the nodes or as forcing a replacement;
// a field that forces one leaves the others unmarked, since the new pool is
// made with all of them. The node count is compared when nodes are known
// and d does not autoscale (the autoscaler owns the size of a pool that
// does).
func poolDiff(d, l *containerpb.NodePool, nodes NodeCounts) []FieldChange {
	var out []FieldChange
	add := func(path, before, after string, recreates, replace bool) {
		if before != after {
			out = append(out, FieldChange{Path: path, Before: before, After: after, RecreatesNodes: recreates && !replace, Replace: replace})
		}
	}
	dm, lm := d.GetConfig().GetMachineType(), l.GetConfig().GetMachineType()
	add("machineType", lm, dm, true, false)
	add("accelerators", formatAccelerators(lm, l.GetConfig().GetAccelerators()), formatAccelerators(dm, d.GetConfig().GetAccelerators()),
		true, cannotClearAccelerators(d, l))
	add("spot", strconv.FormatBool(l.GetConfig().GetSpot()), strconv.FormatBool(d.GetConfig().GetSpot()), false, true)
	if !d.GetAutoscaling().GetEnabled() && nodes != nil {
		add("nodeCount", currentSize(l, nodes), itoa(d.GetInitialNodeCount()), false, false)
	}
	add("autoscaling", formatAutoscaling(l.GetAutoscaling()), formatAutoscaling(d.GetAutoscaling()), false, false)
	if slices.ContainsFunc(out, func(f FieldChange) bool { return f.Replace }) {
		for i := range out {
			out[i].RecreatesNodes = false
		}
	}
	return out
}

// cannotClearAccelerators reports whether d drops every accelerator l has
// attached, on a machine without built-in GPUs: UpdateNodePoolRequest's
// accelerators are a repeated field, where an empty list is no change.
func cannotClearAccelerators(d, l *containerpb.NodePool) bool {
	if len(d.GetConfig().GetAccelerators()) > 0 || len(l.GetConfig().GetAccelerators()) == 0 {
		return false
	}
	m, ok := catalog.LookupMachine(d.GetConfig().GetMachineType())
	return !ok || m.GPUs == 0
}

// comparesNodeCount reports whether Diff would compare a node count given
// the nodes: whether a fixed-size desired pool exists live.
func comparesNodeCount(desired, live *containerpb.Cluster) bool {
	liveNames := make(map[string]bool)
	for _, p := range live.GetNodePools() {
		liveNames[TopologyName(p)] = true
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
