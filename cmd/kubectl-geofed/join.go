package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/membership"
	"github.com/geofed-io/kubectl-geofed/pkg/join"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

const joinExample = `  # Add the cluster of context serving-us to region us-east1, then see its plan
  kubectl geofed join serving-us --region us-east1 --label role=serving -f topology.yaml

  # Name it, and see the new file without writing it
  kubectl geofed join gke_acme_us-east1_edge --name edge-us --region us-east1 -f topology.yaml --dry-run

  # Add a cluster that cannot be reached from here (yet)
  kubectl geofed join edge-eu --region europe-west1 -f topology.yaml --offline

  # Add it to the file and register it with the control plane in the hub
  kubectl geofed join serving-us --region us-east1 -f topology.yaml --hub hub

  # Register a cluster the file already has, granted the kinds the file renders for it
  kubectl geofed join serving-us -f topology.yaml --hub hub

  # See the RBAC it would be granted (the default kinds, plus widgets), changing nothing
  kubectl geofed join serving-us --rbac --grant widgets.example.com

  # The hub reaches the cluster at another address than this machine does
  kubectl geofed join serving-us --hub hub --server https://10.0.0.2:6443`

// JoinOptions holds the flags of the join command: join.Options, and how
// to read the fleet and print.
type JoinOptions struct {
	join.Options
	// Grants are the --grant resources, RESOURCE.GROUP, which Complete
	// parses into join.Options.Grants.
	Grants []string
	printFlags
	fleetFlags

	ConfigFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
}

// NewJoinCommand adds an existing cluster to a topology file.
func NewJoinCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &JoinOptions{ConfigFlags: flags, IOStreams: streams}
	var labels []string
	cmd := &cobra.Command{
		Use:   "join CONTEXT (--region REGION -f TOPOLOGY | --hub HUB)",
		Short: "Add an existing cluster to the topology file, or to a control plane, by kubeconfig context",
		Long: `Add the cluster a kubeconfig context reaches to a region of the topology file,
as a joined cluster: geofed applies workloads to it, and never creates,
changes or deletes the cluster itself.

The file is edited in place: the new cluster's lines are added under its
region (the region is added to spec.regions when the file has none of that
name), and everything else — comments, key order, formatting — stays as it
was. The new file is validated before it is written, and written atomically.

join refuses a cluster name or context the file already has, an unknown
region, and a context it cannot reach (--offline joins it without
connecting). Then it shows the plan for the new cluster: what apply would
create there. Replica shares of other clusters may move as well: kubectl
geofed plan shows the whole fleet.

The cluster's name defaults to the context's, made into a DNS-1123 label.
--dry-run prints the new file instead of writing it, after the same checks
(the context is reached unless --offline is given too).

With --hub, join also registers the cluster with the geofed control plane
in the hub cluster of that context. On the cluster it creates a
ServiceAccount kube-system/geofed, a token Secret kube-system/geofed-token
for it (and waits for the token controller to fill it), and the RBAC the
engine needs; on the hub it stores a kubeconfig with that token as Secret
geofed-member-<name>, key kubeconfig, in --hub-namespace (created when
missing). Everything is labelled geofed.io/membership=<name> and server-side
applied, so joining again changes nothing; join refuses to change an object
of those names that does not carry the label. The hub reaches the cluster at
the server of its context, or --server. No token or kubeconfig is printed.

The RBAC is least privilege, never cluster-admin unless --cluster-admin asks
for it. In kube-system: ConfigMaps and coordination.k8s.io Leases (the
inventory and the apply lock). Cluster-wide: reading Nodes, Pods and
ReplicaSets (capacity, readiness, owners), and reading and writing Namespaces
and the workload kinds. With -f, the workload kinds are those the topology
renders for the cluster, and those geofed's inventory there says it applied
(so prune can still delete them); join again after the topology changes.
Without -f: Deployments, StatefulSets, DaemonSets, Jobs, CronJobs,
ConfigMaps, Secrets, Services, ServiceAccounts, PersistentVolumeClaims,
PodDisruptionBudgets, HorizontalPodAutoscalers, Ingresses and
NetworkPolicies. --grant adds more. A Namespace geofed no
longer renders is pruned only when geofed can list everything in it, so with
least privilege such a Namespace is kept (and said so). --rbac prints the
RBAC objects as YAML and changes nothing.

With --hub, -f and --region are optional. Both given: the cluster is added to
the file as above, and the file is written last, after the hub holds the
credentials — a failure leaves the file as it was, and running the same
command again finishes the job. -f alone: a cluster the file already has,
granted the kinds the file renders for it. Neither: credentials only.
--dry-run prints what would be created (the new file first, when there is
one), the hub Secret's value redacted. kubectl geofed unjoin undoes it.

Exit codes: 0 joined, 1 refused or failed (nothing written), or joined but the
new cluster's plan is incomplete.`,
		Example: joinExample,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args, labels); err != nil {
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
	cmd.Flags().StringVarP(&o.Filename, "filename", "f", "", "Topology file to add the cluster to (with --hub, also what says which kinds to grant)")
	cmd.Flags().StringVar(&o.Region, "region", "", "GCP region the cluster is in (added to the topology if it has none of that name)")
	cmd.Flags().StringVar(&o.Name, "name", "", "Cluster name in the topology (default: the context, made into a DNS-1123 label)")
	cmd.Flags().StringArrayVar(&labels, "label", nil, "Label of the cluster, KEY=VALUE; repeat for more")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "Print the new topology file instead of writing it (with --hub, also what would be created, and create nothing)")
	cmd.Flags().BoolVar(&o.Offline, "offline", false, "Do not connect to the cluster or plan: join a context that cannot be reached from here")
	o.printFlags.add(cmd, "", "Output format of the plan (with --hub, of the result): json or yaml (default: human-readable text)", "json", "yaml")
	cmd.Flags().StringVar(&o.Hub, "hub", "", "Kubeconfig context of the hub cluster: also register the cluster with the control plane there")
	cmd.Flags().StringVar(&o.HubNamespace, "hub-namespace", defaultHubNamespace, "Namespace of the control plane in the hub")
	cmd.Flags().StringVar(&o.Server, "server", "", "Address the hub reaches the cluster at (default: the context's server)")
	cmd.Flags().StringArrayVar(&o.Grants, "grant", nil, "Also grant the engine a resource, RESOURCE.GROUP (deployments.apps, configmaps); repeat for more")
	cmd.Flags().BoolVar(&o.ClusterAdmin, "cluster-admin", false, "Bind cluster-admin instead of least privilege")
	cmd.Flags().BoolVar(&o.RBAC, "rbac", false, "Print the RBAC objects join would apply, as YAML, and change nothing")
	o.fleetFlags.add(cmd, "Clusters planned at once")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	_ = cmd.RegisterFlagCompletionFunc("region", cobra.FixedCompletions(catalog.RegionNames(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("hub", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return kubeconfigContexts(kubeconfigFlag(flags)), cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// Complete reads the argument, the labels, the grants and the environment,
// and names the cluster after its context unless --name is given.
func (o *JoinOptions) Complete(args []string, labels []string) error {
	if len(args) > 0 {
		o.Context = args[0]
	}
	o.fleetFlags.complete()
	o.printFlags.complete(o.IOStreams.Out)
	var err error
	if o.Labels, err = join.ParseLabels(labels); err != nil {
		return err
	}
	o.Options.Grants = nil
	for _, g := range o.Grants {
		gr, err := membership.ParseGrant(g)
		if err != nil {
			return err
		}
		o.Options.Grants = append(o.Options.Grants, gr)
	}
	if o.Name == "" && o.Context != "" {
		if o.Name, err = topology.ClusterNameFromContext(o.Context); err != nil {
			return fmt.Errorf("%w: name the cluster with --name", err)
		}
		o.NameFromContext = true
	}
	return nil
}

// Validate checks the flags.
func (o *JoinOptions) Validate() error {
	if err := o.Options.Validate(o.Output); err != nil {
		return err
	}
	return o.fleetFlags.validate()
}

// Run joins, prints what it did and fails when the new cluster's plan is
// incomplete.
func (o *JoinOptions) Run(ctx context.Context) error {
	sess := o.fleetFlags.session(kubeconfigFlag(o.ConfigFlags))
	defer sess.Close()
	opts := o.Options
	opts.Session, opts.Plan = sess, o.fleetFlags.planOptions(nil)
	opts.Member = o.fleetFlags.memberOptions(kubeconfigFlag(o.ConfigFlags))
	opts.Warnings, opts.Progress = o.ErrOut, o.ErrOut
	res, err := join.Run(ctx, opts)
	if err != nil {
		return err
	}
	if err := join.Write(res, opts, join.ViewOptions{Output: o.Output, Color: o.Color, Out: o.Out, ErrOut: o.ErrOut}); err != nil {
		return err
	}
	if !o.DryRun && res.Plan != nil && res.Plan.Failed() {
		return &ExitError{Code: 1, Err: fmt.Errorf("cluster %s was joined, but its plan is incomplete: %s", o.Name, res.Plan.Summary.Failures())}
	}
	return nil
}
