package membership

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
)

// GrantOptions say what a member's ServiceAccount is granted under least
// privilege. join --hub and the controller's join of the GKE clusters it
// creates both grant through Grant.
type GrantOptions struct {
	// Kinds are the kinds the topology renders for the member (KindsOf a
	// plan's objects for it, or TopologyKinds); nil grants
	// DefaultWorkloads.
	Kinds *Kinds
	// Topology names geofed's inventory on the member: the kinds an
	// earlier apply left there stay granted, so prune can still delete
	// them. Read only with Kinds.
	Topology string
	// Conn is the member: its mapper resolves the kinds, its client reads
	// the inventory. Needed only with Kinds.
	Conn *member.Conn
	// Extra resources are granted besides (join --grant).
	Extra []schema.GroupResource
}

// Grant is the least-privilege access of a member's ServiceAccount, and the
// workload resources it covers.
func Grant(ctx context.Context, o GrantOptions) (Access, []schema.GroupResource, error) {
	workloads := DefaultWorkloads()
	if o.Kinds != nil {
		kinds := *o.Kinds
		if o.Topology != "" {
			inv, err := inventory.Read(ctx, o.Conn.Dynamic, o.Topology)
			if err != nil {
				return Access{}, nil, fmt.Errorf("cluster %s: %w", o.Conn.Name, err)
			}
			kinds = kinds.WithApplied(inv)
		}
		var err error
		if workloads, err = Resources(o.Conn.Mapper, kinds); err != nil {
			return Access{}, nil, fmt.Errorf("cluster %s: %w", o.Conn.Name, err)
		}
	}
	workloads = append(workloads, o.Extra...)
	return Access{Rules: ComputeRules(workloads)}, workloads, nil
}
