package join

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/hub/membership"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/plan/view"
)

// ViewOptions say how to print a join.
type ViewOptions struct {
	// Output is "" (text for people), json or yaml.
	Output string
	Color  bool
	// Out hears the result; ErrOut what is said for people beside a
	// result for machines.
	Out, ErrOut io.Writer
}

// Write prints what Run did: the new file (DryRun), the RBAC (RBAC), what
// registering with the hub changed, and the new cluster's plan.
func Write(res *Result, o Options, v ViewOptions) error {
	switch {
	case o.Hub == "" && !o.RBAC:
		return writeFileJoin(res, o, v)
	case o.RBAC:
		return res.Grant.WriteRBAC(v.Out, o.Name)
	case o.DryRun:
		if res.Edit != nil {
			if _, err := fmt.Fprintf(v.Out, "%s---\n", res.Edit.Data); err != nil {
				return err
			}
		}
		return writeDryRun(v.Out, o.Name, o.Hub, res.Grant, res.Hub)
	case v.Output != "":
		if res.Edit != nil {
			// The result alone on stdout, for machines.
			fmt.Fprintln(v.ErrOut, joined(res, o))
		}
		return writeData(v.Out, v.Output, o, res)
	}
	writeHubResult(v.Out, o.Context, o.Hub, res.Grant, res.Hub)
	if res.Edit == nil {
		return nil
	}
	fmt.Fprintf(v.Out, "\n%s\n\n", joined(res, o))
	if err := view.Write(v.Out, res.Plan, "", view.TextOptions{Color: v.Color}); err != nil {
		return err
	}
	writeReplicaNote(v.Out, res.Plan, o.Filename)
	return nil
}

// writeFileJoin prints a join to the file alone: the new file (DryRun), or
// where the cluster joined and its plan.
func writeFileJoin(res *Result, o Options, v ViewOptions) error {
	if o.DryRun {
		_, err := v.Out.Write(res.Edit.Data)
		return err
	}
	if o.Offline {
		fmt.Fprintln(v.Out, joined(res, o))
		fmt.Fprintf(v.Out, "Not planned (--offline): kubectl geofed plan -f %s shows what apply would do there.\n", o.Filename)
		return nil
	}
	if v.Output == "" {
		fmt.Fprintln(v.Out, joined(res, o))
		fmt.Fprintln(v.Out)
	} else {
		// The plan alone on stdout, for machines.
		fmt.Fprintln(v.ErrOut, joined(res, o))
	}
	if err := view.Write(v.Out, res.Plan, v.Output, view.TextOptions{Color: v.Color}); err != nil {
		return err
	}
	if v.Output == "" {
		writeReplicaNote(v.Out, res.Plan, o.Filename)
	}
	return nil
}

// joined says where in the file the cluster joined.
func joined(res *Result, o Options) string {
	ed := res.Edit
	if ed.NewRegion {
		return fmt.Sprintf("Cluster %s (context %s) joined the new region %s at %s.", o.Name, o.Context, o.Region, ed.Topology.ClusterPlace(o.Name))
	}
	return fmt.Sprintf("Cluster %s (context %s) joined region %s at %s.", o.Name, o.Context, o.Region, ed.Topology.ClusterPlace(o.Name))
}

// writeReplicaNote says, when a workload on the cluster divides a total,
// that the join moves replicas away from other clusters too.
func writeReplicaNote(w io.Writer, p *plan.Plan, file string) {
	for _, pl := range p.Placements {
		if pl.Total != nil {
			fmt.Fprintf(w, "Replica shares of other clusters may move too: kubectl geofed plan -f %s shows the whole fleet.\n", file)
			return
		}
	}
}

// writeHubResult prints what registering with the hub did.
func writeHubResult(w io.Writer, context, hub string, g Grant, r *membership.JoinResult) {
	fmt.Fprintf(w, "Cluster %s (context %s) joined hub %s: the control plane reaches it at %s as ServiceAccount %s/%s, with the kubeconfig in Secret %s/%s (key %s).\n",
		r.Cluster, context, hub, r.Server, membership.Namespace, membership.Name, r.HubSecret.Namespace, r.HubSecret.Name, r.SecretKey)
	if g.Access.ClusterAdmin {
		fmt.Fprintf(w, "Granted: cluster-admin (--cluster-admin): the control plane may do anything on cluster %s.\n", r.Cluster)
	} else {
		fmt.Fprintf(w, "Granted: least privilege for %s: %s; --rbac prints the RBAC.\n", g.From, resourceList(g.Workloads))
		for _, n := range g.Access.Rules.Notes {
			fmt.Fprintln(w, "Note: "+n)
		}
	}
	fmt.Fprintf(w, "\nOn cluster %s:\n", r.Cluster)
	membership.WriteChanges(w, r.Member)
	fmt.Fprintf(w, "On hub %s:\n", hub)
	membership.WriteChanges(w, r.Hub)
}

// writeDryRun prints what registering would apply: comments saying what
// would change, then the manifests, the hub Secret's value redacted.
func writeDryRun(w io.Writer, cluster, hub string, g Grant, r *membership.JoinResult) error {
	comments := g.comments(cluster)
	comments = append(comments, "Dry run: nothing was changed. join would apply, on cluster "+cluster+":")
	for _, c := range r.Member {
		comments = append(comments, "  "+changeLine(c))
	}
	comments = append(comments, "and on hub "+hub+":")
	for _, c := range r.Hub {
		comments = append(comments, "  "+changeLine(c))
	}
	objs := membership.MemberObjects(cluster, g.Access)
	objs = append(objs, membership.HubSecret(cluster, r.HubSecret.Namespace, nil))
	return membership.WriteYAML(w, comments, objs)
}

func changeLine(c membership.Change) string {
	line := c.Action.Symbol() + " " + c.Ref.String()
	if c.Reason != "" {
		line += " (" + c.Reason + ")"
	}
	return line
}

// resourceList names resources as kubectl does: configmaps,
// deployments.apps.
func resourceList(rs []schema.GroupResource) string {
	if len(rs) == 0 {
		return "no workload kinds"
	}
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.String()
	}
	return strings.Join(names, ", ")
}

// hubOutput is a hub join as json or yaml.
type hubOutput struct {
	Context    string `json:"context"`
	HubContext string `json:"hubContext"`
	*membership.JoinResult
	// Plan is the new cluster's plan, when the file gained it.
	Plan json.RawMessage `json:"plan,omitempty"`
}

func writeData(w io.Writer, format string, o Options, res *Result) error {
	out := hubOutput{Context: o.Context, HubContext: o.Hub, JoinResult: res.Hub}
	if res.Plan != nil {
		var buf bytes.Buffer
		if err := view.JSON(&buf, res.Plan); err != nil {
			return err
		}
		out.Plan = buf.Bytes()
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the result: %w", err)
	}
	if format == "yaml" {
		if data, err = yaml.JSONToYAML(data); err != nil {
			return fmt.Errorf("encoding the result as YAML: %w", err)
		}
	} else {
		data = append(data, '\n')
	}
	_, err = w.Write(data)
	return err
}
