package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
)

const approveExample = `  # The controller's prune guard holds deletions on serving-us: let them through
  kubectl geofed approve --hub hub --topology storefront --cluster serving-us

  # Every member it holds
  kubectl geofed approve --hub hub --topology storefront`

// ApproveOptions holds the flags of the approve command.
type ApproveOptions struct {
	Hub          string
	HubNamespace string
	Topology     string
	Clusters     []string

	ConfigFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
}

// NewApproveCommand approves the deletions the controller's prune guard
// holds.
func NewApproveCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ApproveOptions{ConfigFlags: flags, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "approve --hub HUB --topology NAME [--cluster C]...",
		Short: "Let through the deletions the control plane's prune guard holds",
		Long: `When a reconcile would delete many of a member's objects, or every object of
a workload still in the topology, the control plane applies everything else,
deletes nothing there, and sets condition PruneBlocked naming the members,
the counts, why, and the plan's ID. approve records, on the Topology, an
approval of exactly that plan (all its held members, or those named with
--cluster); the next reconcile deletes them. A plan that holds anything else
has another ID: an approval never carries over to it.`,
		Example: approveExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.Hub, "hub", "", "Kubeconfig context of the hub")
	cmd.Flags().StringVar(&o.HubNamespace, "hub-namespace", defaultHubNamespace, "Namespace of the control plane in the hub")
	cmd.Flags().StringVar(&o.Topology, "topology", "", "The Topology whose held deletions to approve")
	cmd.Flags().StringSliceVar(&o.Clusters, "cluster", nil, "Approve only these members' deletions (default: every member held)")
	return cmd
}

// Validate checks the flags.
func (o *ApproveOptions) Validate() error {
	if o.Hub == "" || o.Topology == "" {
		return errors.New("approve needs --hub and --topology")
	}
	return nil
}

// planID finds the plan's ID in condition PruneBlocked's message.
var planID = regexp.MustCompile(`\bPlan (prune-[0-9a-f]+)\b`)

// Run records the approval of the plan PruneBlocked names.
func (o *ApproveOptions) Run(ctx context.Context) error {
	c, err := hubClient(o.ConfigFlags, o.Hub)
	if err != nil {
		return err
	}
	var topo v1alpha1.Topology
	key := types.NamespacedName{Namespace: o.HubNamespace, Name: o.Topology}
	if err := c.Get(ctx, key, &topo); err != nil {
		return fmt.Errorf("reading Topology %s in hub %s: %w", key, o.Hub, err)
	}
	cond := meta.FindStatusCondition(topo.Status.Conditions, v1alpha1.ConditionPruneBlocked)
	if cond == nil || cond.Status != "True" {
		return fmt.Errorf("Topology %s: the prune guard holds nothing (no condition %s=True): nothing to approve", key, v1alpha1.ConditionPruneBlocked)
	}
	m := planID.FindStringSubmatch(cond.Message)
	if m == nil {
		return fmt.Errorf("Topology %s: condition %s names no plan: %s", key, v1alpha1.ConditionPruneBlocked, cond.Message)
	}
	for _, name := range o.Clusters {
		if !strings.Contains(cond.Message, name+" would lose ") {
			return fmt.Errorf("Topology %s: the prune guard holds nothing on %q: %s", key, name, cond.Message)
		}
	}
	value, who := m[1], "every member it holds"
	if len(o.Clusters) > 0 {
		value += ":" + strings.Join(o.Clusters, ",")
		who = strings.Join(o.Clusters, ", ")
	}
	patch := client.MergeFrom(topo.DeepCopy())
	if topo.Annotations == nil {
		topo.Annotations = map[string]string{}
	}
	topo.Annotations[v1alpha1.AnnotationApprovePrune] = value
	if err := c.Patch(ctx, &topo, patch); err != nil {
		return fmt.Errorf("recording the approval on Topology %s: %w", key, err)
	}
	fmt.Fprintf(o.Out, "Approved plan %s of Topology %s for %s: the next reconcile deletes what the prune guard held there.\n", m[1], key, who)
	return nil
}
