package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/geofed-io/kubectl-geofed/pkg/hub/membership"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

const unjoinExample = `  # Take the cluster of context serving-us out of the control plane in hub
  kubectl geofed unjoin serving-us --hub hub

  # A cluster joined under another name than its context's
  kubectl geofed unjoin gke_acme_us-east1_edge --name edge-us --hub hub

  # ... and also remove what the control plane applied on it
  kubectl geofed unjoin serving-us --hub hub --delete-objects`

// UnjoinOptions holds the flags of the unjoin command.
type UnjoinOptions struct {
	// Context is the kubeconfig context of the member cluster.
	Context string
	// Name is the cluster's name it was joined under; Complete derives it
	// from the context when --name is not given.
	Name         string
	Hub          string
	HubNamespace string
	// DeleteObjects removes what the hub's Topologies applied on the
	// cluster, once it is out of the control plane.
	DeleteObjects bool
	// LockWait is how long --delete-objects waits for a lock on the
	// cluster (an apply of the control plane under way).
	LockWait time.Duration

	ConfigFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
}

// NewUnjoinCommand removes what join --hub made.
func NewUnjoinCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &UnjoinOptions{ConfigFlags: flags, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "unjoin CONTEXT --hub HUB",
		Short: "Remove a cluster's credentials from a control plane, and its ServiceAccount from the cluster",
		Long: `Undo join --hub: delete the hub's Secret geofed-member-<name> (the
cluster's kubeconfig) from --hub-namespace, and on the cluster the
ServiceAccount kube-system/geofed, its token Secret kube-system/geofed-token,
the ClusterRole and ClusterRoleBinding geofed, and the Role and RoleBinding
geofed in kube-system.

Only objects labelled geofed.io/membership=<name> are deleted: an object of
one of those names without the label is left alone and named. Objects
already gone are fine, so unjoin can be run again. When the cluster cannot be
reached, the hub's Secret is deleted all the same (the control plane can no
longer reach the cluster) and unjoin says what is left on the cluster: run it
again once the cluster answers.

What geofed applied on the cluster stays there, still labelled and recorded
in its inventories, unless --delete-objects: then, once the cluster is out of
the control plane (so the controller can no longer put anything back), unjoin
removes what each Topology in --hub-namespace of the hub that includes the
cluster applied on it, and nothing on any other member, as kubectl geofed
destroy does and with its safety: an object someone re-created is spared,
and a Namespace or CRD that still holds what geofed did not apply is kept,
still recorded, and named. It reaches the cluster with CONTEXT, your own
credentials. What a topology applied from the command line only (never
pushed) is not touched: kubectl geofed destroy -f removes it.

The topology file is not changed: a cluster still in it, and pushed, is one
the control plane cannot reach.

Exit codes: 0 unjoined (and with --delete-objects, every object removed), 1
failed or something kept (what is left is named; running unjoin again
carries on).`,
		Example: unjoinExample,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return kubeconfigContexts(kubeconfigFlag(flags)), cobra.ShellCompDirectiveNoFileComp
		},
	}
	cmd.Flags().StringVar(&o.Name, "name", "", "Cluster name it was joined under (default: the context, made into a DNS-1123 label)")
	cmd.Flags().StringVar(&o.Hub, "hub", "", "Kubeconfig context of the hub cluster")
	cmd.Flags().StringVar(&o.HubNamespace, "hub-namespace", defaultHubNamespace, "Namespace of the control plane in the hub")
	cmd.Flags().BoolVar(&o.DeleteObjects, "delete-objects", false, "Also remove what the hub's Topologies applied on the cluster (default: leave it there)")
	cmd.Flags().DurationVar(&o.LockWait, "lock-timeout", time.Minute, "With --delete-objects, wait this long for an apply under way on the cluster to release its lock")
	_ = cmd.RegisterFlagCompletionFunc("hub", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return kubeconfigContexts(kubeconfigFlag(flags)), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// Complete reads the argument and names the cluster after its context
// unless --name is given.
func (o *UnjoinOptions) Complete(args []string) error {
	if len(args) > 0 {
		o.Context = args[0]
	}
	if o.Name == "" && o.Context != "" {
		var err error
		if o.Name, err = topology.ClusterNameFromContext(o.Context); err != nil {
			return fmt.Errorf("%w: give the name it was joined under with --name", err)
		}
	}
	return nil
}

// Validate checks the flags.
func (o *UnjoinOptions) Validate() error {
	switch {
	case o.Context == "":
		return errors.New("a kubeconfig context is required: unjoin CONTEXT --hub HUB")
	case o.Hub == "":
		return errors.New("the hub cluster is required: --hub HUB")
	case o.HubNamespace == "":
		return errors.New("--hub-namespace must not be empty")
	}
	if errs := validation.IsDNS1123Label(o.Name); len(errs) > 0 {
		return fmt.Errorf("cluster name %q: %s", o.Name, strings.Join(errs, "; "))
	}
	return nil
}

// Run deletes, prints what was deleted and what is left, and fails when
// anything is left that unjoin would have deleted.
func (o *UnjoinOptions) Run(ctx context.Context) error {
	mcfg, err := memberConfig(o.ConfigFlags, o.Context)
	if err != nil {
		return err
	}
	mc, err := kubernetes.NewForConfig(mcfg)
	if err != nil {
		return fmt.Errorf("context %q: %w", o.Context, err)
	}
	hcfg, err := hubConfig(o.ConfigFlags, o.Hub)
	if err != nil {
		return err
	}
	hcfg.Timeout = member.DefaultRequestTimeout
	hcfg.QPS, hcfg.Burst = member.DefaultQPS, member.DefaultBurst
	hc, err := kubernetes.NewForConfig(hcfg)
	if err != nil {
		return fmt.Errorf("hub %s: %w", o.Hub, err)
	}
	var topos []memberTopology
	if o.DeleteObjects {
		hub, err := newHubClient(hcfg)
		if err != nil {
			return err
		}
		if topos, err = memberTopologies(ctx, hub, o.HubNamespace, o.Name, o.Context, kubeconfigFlag(o.ConfigFlags)); err != nil {
			return err
		}
	}
	res, err := membership.Unjoin(ctx, membership.UnjoinOptions{
		Cluster: o.Name, Member: mc, Hub: hc, HubName: o.Hub, HubNamespace: o.HubNamespace, Progress: o.ErrOut,
	})
	fmt.Fprintf(o.Out, "On cluster %s (context %s):\n", o.Name, o.Context)
	membership.WriteChanges(o.Out, res.Member)
	fmt.Fprintf(o.Out, "On hub %s:\n", o.Hub)
	membership.WriteChanges(o.Out, res.Hub)
	if res.MemberUnreachable != "" {
		var left []string
		for _, c := range res.Left() {
			left = append(left, c.Ref.String())
		}
		fmt.Fprintf(o.Out, "\nCluster %s could not be reached: whichever of %s exist are still there, and the token works until they are deleted. Run this unjoin again once the cluster answers.\n",
			o.Name, strings.Join(left, ", "))
	}
	if err != nil {
		if o.DeleteObjects {
			fmt.Fprintf(o.Out, "\nNo object was deleted: unjoin did not finish, and the control plane may still reach cluster %s.\n", o.Name)
		}
		return &ExitError{Code: 1, Err: fmt.Errorf("unjoining cluster %s: %w", o.Name, err)}
	}
	var left []string
	if o.DeleteObjects {
		left = o.destroyOnMember(ctx, o.Out, topos)
	}
	fmt.Fprintf(o.Out, "\nCluster %s (context %s) unjoined from hub %s.\n", o.Name, o.Context, o.Hub)
	if len(left) > 0 {
		return &ExitError{Code: 1, Err: errors.New(leftMessage(o.Name, left))}
	}
	return nil
}

// memberConfig is the client configuration of a member's context in the
// usual kubeconfig resolution (or --kubeconfig). It does not connect: an
// unreachable member is unjoin's to report.
func memberConfig(flags *genericclioptions.ConfigFlags, context string) (*rest.Config, error) {
	cfg, err := member.ContextConfig(kubeconfigFlag(flags), context)
	if err != nil {
		return nil, fmt.Errorf("context %q: %w", context, err)
	}
	cfg.Timeout = member.DefaultRequestTimeout
	cfg.QPS, cfg.Burst = member.DefaultQPS, member.DefaultBurst
	return cfg, nil
}
