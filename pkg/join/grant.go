package join

import (
	"context"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/geofed-io/kubectl-geofed/pkg/hub/membership"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// Grant is what join grants the cluster's ServiceAccount, and why.
type Grant struct {
	Access membership.Access
	// From says where the workload kinds come from.
	From      string
	Workloads []schema.GroupResource
}

// grant computes the access: cluster-admin, or least privilege for the
// kinds the topology renders for the cluster (the plan's objects for it,
// when join planned) or has applied there (the default kinds without a
// topology) and the Grants.
func (o Options) grant(ctx context.Context, t *topology.Topology, planned *plan.Result, conn *member.Conn) (Grant, error) {
	if o.ClusterAdmin {
		return Grant{Access: membership.Access{ClusterAdmin: true}, From: "--cluster-admin"}, nil
	}
	g := Grant{From: "the default workload kinds"}
	gopts := membership.GrantOptions{Conn: conn, Extra: o.Grants}
	if t != nil {
		var (
			kinds   membership.Kinds
			isKnown bool
		)
		if planned != nil {
			kinds, isKnown = membership.PlannedKinds(planned.Desired, o.Name)
		}
		if !isKnown {
			var err error
			if kinds, err = membership.TopologyKinds(t, nil, o.Name); err != nil {
				return Grant{}, fmt.Errorf("listing the kinds %s renders for cluster %s: %w", o.Filename, o.Name, err)
			}
		}
		gopts.Kinds, gopts.Topology = &kinds, t.Metadata.Name
		g.From = "the kinds " + o.Filename + " renders for it or has applied there"
	}
	for _, gr := range o.Grants {
		if conn != nil {
			if _, err := conn.Mapper.KindFor(gr.WithVersion("")); err != nil && o.Warnings != nil {
				fmt.Fprintf(o.Warnings, "Warning: cluster %s serves no resource %s (yet); granted all the same.\n", o.Name, gr)
			}
		}
	}
	if len(o.Grants) > 0 {
		g.From += " and --grant"
	}
	var err error
	if g.Access, g.Workloads, err = membership.Grant(ctx, gopts); err != nil {
		return Grant{}, err
	}
	return g, nil
}

// comments head the RBAC and dry-run YAML: what is granted, and why.
func (g Grant) comments(cluster string) []string {
	if g.Access.ClusterAdmin {
		return []string{fmt.Sprintf("RBAC of ServiceAccount %s/%s on cluster %s: cluster-admin (--cluster-admin); the control plane may do anything there.", membership.Namespace, membership.Name, cluster)}
	}
	out := []string{fmt.Sprintf("RBAC of ServiceAccount %s/%s on cluster %s: least privilege for %s.", membership.Namespace, membership.Name, cluster, g.From)}
	for _, n := range g.Access.Rules.Notes {
		out = append(out, "Note: "+n)
	}
	return out
}

// WriteRBAC prints the RBAC objects of the grant as YAML, headed by what
// is granted and why.
func (g Grant) WriteRBAC(w io.Writer, cluster string) error {
	return membership.WriteYAML(w, g.comments(cluster), membership.RBACObjects(cluster, g.Access))
}
