package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/membership"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/plan/view"
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

// JoinOptions holds the flags of the join command.
type JoinOptions struct {
	// Context is the kubeconfig context of the cluster to join.
	Context  string
	Filename string
	Region   string
	// Name is the cluster's name in the topology; Complete derives it from
	// the context when --name is not given.
	Name   string
	Labels map[string]string
	// DryRun prints the new topology file instead of writing it.
	DryRun bool
	// Offline neither connects to the cluster nor plans.
	Offline bool
	printFlags
	fleetFlags

	// Hub is the kubeconfig context of the control plane's cluster: join
	// also registers the cluster there (membership.Join).
	Hub          string
	HubNamespace string
	// Server is the cluster's address as the hub reaches it; "" is the
	// context's.
	Server string
	// Grants are the --grant resources, RESOURCE.GROUP, which Complete
	// parses into grants.
	Grants       []string
	grants       []schema.GroupResource
	ClusterAdmin bool
	// RBAC prints the RBAC objects and changes nothing.
	RBAC bool

	// nameFromContext says Name was derived, for the hint when it clashes.
	nameFromContext bool
	// tokenTimeout bounds the wait for the token controller; zero is
	// membership.DefaultTokenTimeout.
	tokenTimeout time.Duration

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
	if o.Labels, err = parseLabels(labels); err != nil {
		return err
	}
	o.grants = nil
	for _, g := range o.Grants {
		gr, err := membership.ParseGrant(g)
		if err != nil {
			return err
		}
		o.grants = append(o.grants, gr)
	}
	if o.Name == "" && o.Context != "" {
		if o.Name, err = topology.ClusterNameFromContext(o.Context); err != nil {
			return fmt.Errorf("%w: name the cluster with --name", err)
		}
		o.nameFromContext = true
	}
	return nil
}

// parseLabels parses repeated --label KEY=VALUE flags.
func parseLabels(flags []string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--label %q: want KEY=VALUE", f)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("--label %s is given twice", k)
		}
		out[k] = v
	}
	return out, nil
}

// Validate checks the flags.
func (o *JoinOptions) Validate() error {
	if o.Context == "" {
		return errors.New("a kubeconfig context is required: join CONTEXT --region REGION -f topology.yaml")
	}
	if o.Hub != "" || o.RBAC {
		return o.validateMembership()
	}
	switch {
	case o.Server != "" || len(o.Grants) > 0 || o.ClusterAdmin:
		return errors.New("--server, --grant and --cluster-admin say how to register the cluster with a control plane: give --hub HUB too")
	case o.Filename == "":
		return errors.New("a topology file is required: -f topology.yaml")
	case o.Region == "":
		return errors.New("a region is required: --region REGION (a GCP region, such as us-east1)")
	}
	if err := o.printFlags.validate("", "json", "yaml"); err != nil {
		return err
	}
	switch {
	case o.Output != "" && o.DryRun:
		return errors.New("--dry-run prints the new topology file; --output applies to the plan, which it does not print")
	case o.Output != "" && o.Offline:
		return errors.New("--offline plans nothing, so there is nothing for --output to print")
	}
	return o.fleetFlags.validate()
}

// Run edits the file, checks the cluster can be reached (by planning the
// new topology), writes the file and shows the new cluster's plan; with
// --hub or --rbac, runMembership does.
func (o *JoinOptions) Run(ctx context.Context) error {
	if o.Hub != "" || o.RBAC {
		return o.runMembership(ctx)
	}
	ed, err := o.edit()
	if err != nil {
		return err
	}

	// Planning the new topology is the reachability check: the connection
	// plan makes to the new cluster says whether it answers, and plan also
	// refuses a context that reaches a cluster the file already has.
	var res *plan.Result
	if !o.Offline {
		if res, err = o.plan(ctx, ed.Topology); err != nil {
			return err
		}
	}

	if o.DryRun {
		_, err := o.Out.Write(ed.Data)
		return err
	}
	if err := topology.WriteFile(o.Filename, ed.Data); err != nil {
		return err
	}
	joined := o.joined(ed)
	if o.Offline {
		fmt.Fprintln(o.Out, joined)
		fmt.Fprintf(o.Out, "Not planned (--offline): kubectl geofed plan -f %s shows what apply would do there.\n", o.Filename)
		return nil
	}

	p := res.Plan.Only(o.Name)
	if o.Output == "" {
		fmt.Fprintln(o.Out, joined)
		fmt.Fprintln(o.Out)
	} else {
		// The plan alone on stdout, for machines.
		fmt.Fprintln(o.ErrOut, joined)
	}
	if err := view.Write(o.Out, p, o.Output, view.TextOptions{Color: o.Color}); err != nil {
		return err
	}
	return o.planDone(p)
}

// joined says where in the file the cluster joined.
func (o *JoinOptions) joined(ed *topology.Edit) string {
	if ed.NewRegion {
		return fmt.Sprintf("Cluster %s (context %s) joined the new region %s at %s.", o.Name, o.Context, o.Region, ed.Topology.ClusterPlace(o.Name))
	}
	return fmt.Sprintf("Cluster %s (context %s) joined region %s at %s.", o.Name, o.Context, o.Region, ed.Topology.ClusterPlace(o.Name))
}

// edit adds the cluster to the file's text; nothing is written.
func (o *JoinOptions) edit() (*topology.Edit, error) {
	data, err := os.ReadFile(o.Filename)
	if err != nil {
		return nil, fmt.Errorf("reading topology: %w", err)
	}
	ed, err := topology.Options{}.AddJoinedCluster(o.Filename, data, topology.JoinedCluster{
		Region: o.Region, Name: o.Name, Labels: o.Labels, Context: o.Context,
	})
	if err != nil {
		var dup *topology.DuplicateNameError
		if errors.As(err, &dup) && o.nameFromContext {
			return nil, fmt.Errorf("%w; the name comes from the context: give another with --name", err)
		}
		return nil, err
	}
	return ed, nil
}

// planDone ends the text after the new cluster's plan, and fails when the
// plan is incomplete.
func (o *JoinOptions) planDone(p *plan.Plan) error {
	if o.Output == "" && dividesReplicas(p) {
		fmt.Fprintf(o.Out, "Replica shares of other clusters may move too: kubectl geofed plan -f %s shows the whole fleet.\n", o.Filename)
	}
	if p.Failed() {
		return &ExitError{Code: 1, Err: fmt.Errorf("cluster %s was joined, but its plan is incomplete: %s", o.Name, p.Summary.Failures())}
	}
	return nil
}

// plan computes the plan of the new topology and refuses a cluster it
// could not connect to. Nothing has been written yet.
func (o *JoinOptions) plan(ctx context.Context, t *topology.Topology) (*plan.Result, error) {
	sess := o.fleetFlags.session(kubeconfigFlag(o.ConfigFlags))
	defer sess.Close()
	res, err := computePlan(ctx, sess, o.fleetFlags.planOptions(t))
	if err != nil {
		return nil, fmt.Errorf("planning %s with cluster %s joined: %w; nothing was written", o.Filename, o.Name, err)
	}
	if conn := res.Observation.Conn(o.Name); conn == nil || conn.Err != nil {
		why := "it was not connected to"
		if conn != nil {
			why = conn.Err.Error()
		}
		return nil, fmt.Errorf("context %q cannot be reached: %s; nothing was written (--offline joins it anyway)", o.Context, why)
	}
	return res, nil
}

// dividesReplicas reports whether a workload on the cluster divides a
// total, so the join moves replicas away from other clusters.
func dividesReplicas(p *plan.Plan) bool {
	for _, pl := range p.Placements {
		if pl.Total != nil {
			return true
		}
	}
	return false
}

// kubeconfigContexts lists the contexts of the kubeconfig kubectl would
// read, for completion.
func kubeconfigContexts(explicit string) []string {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = explicit
	cfg, err := rules.Load()
	if err != nil {
		return nil
	}
	var names []string
	for name := range cfg.Contexts {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// validateMembership checks the flags of join --hub and join --rbac.
func (o *JoinOptions) validateMembership() error {
	switch {
	case o.Region != "" && o.Filename == "":
		return errors.New("--region adds the cluster to a topology file: give -f topology.yaml too")
	case len(o.Labels) > 0 && o.Region == "":
		return errors.New("--label goes with --region and -f, which add the cluster to the file")
	case o.Offline && (o.Hub != "" || o.Filename != ""):
		return errors.New("--offline cannot go with --hub, nor with --rbac -f: both connect to the cluster")
	case o.ClusterAdmin && len(o.Grants) > 0:
		return errors.New("--cluster-admin grants everything: --grant has nothing to add")
	case o.RBAC && o.DryRun:
		return errors.New("--rbac changes nothing already: --dry-run has nothing to add")
	case (o.RBAC || o.DryRun) && o.Output != "":
		return errors.New("--rbac and --dry-run print YAML manifests: --output does not apply")
	case o.Hub != "" && o.HubNamespace == "":
		return errors.New("--hub-namespace must not be empty")
	}
	if err := o.printFlags.validate("", "json", "yaml"); err != nil {
		return err
	}
	if errs := validation.IsDNS1123Label(o.Name); len(errs) > 0 {
		return fmt.Errorf("cluster name %q: %s; give another with --name", o.Name, strings.Join(errs, "; "))
	}
	if o.Server != "" {
		if u, err := url.Parse(o.Server); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("--server %q: want the apiserver's URL, https://HOST[:PORT]", o.Server)
		}
	}
	return o.fleetFlags.validate()
}

// grant is what join grants the cluster's ServiceAccount, and why.
type grant struct {
	access membership.Access
	// from says where the workload kinds come from.
	from      string
	workloads []schema.GroupResource
}

// runMembership registers the cluster with the hub (or, --rbac, prints
// what it would be granted). With --region the file is written last, once
// the hub holds the credentials: every step before it can be repeated.
func (o *JoinOptions) runMembership(ctx context.Context) error {
	var (
		t    *topology.Topology
		ed   *topology.Edit
		res  *plan.Result
		conn *member.Conn
		err  error
	)
	switch {
	case o.Region != "":
		if ed, err = o.edit(); err != nil {
			return err
		}
		t = ed.Topology
		if !o.RBAC {
			// The plan's connection is the reachability check, and
			// the one used from here on.
			if res, err = o.plan(ctx, t); err != nil {
				return err
			}
			conn = res.Observation.Conn(o.Name)
		}
	case o.Filename != "":
		if t, err = o.joinedTopology(); err != nil {
			return err
		}
	}
	if conn == nil && (t != nil || !o.RBAC) {
		if conn, err = o.connect(ctx, t); err != nil {
			return err
		}
	}
	g, err := o.grant(ctx, t, res, conn)
	if err != nil {
		return err
	}
	if o.RBAC {
		return membership.WriteYAML(o.Out, g.comments(o.Name), membership.RBACObjects(o.Name, g.access))
	}

	mc, err := kubernetes.NewForConfig(conn.Config)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", o.Name, err)
	}
	hcfg, err := hubConfig(o.ConfigFlags, o.Hub)
	if err != nil {
		return err
	}
	hcfg.Timeout = o.RequestTimeout
	hcfg.QPS, hcfg.Burst = o.QPS, o.Burst
	hc, err := kubernetes.NewForConfig(hcfg)
	if err != nil {
		return fmt.Errorf("hub %s: %w", o.Hub, err)
	}
	endpoint, err := o.endpoint(conn.Config)
	if err != nil {
		return err
	}
	jr, err := membership.Join(ctx, membership.JoinOptions{
		Cluster: o.Name, Member: mc, Hub: hc, HubName: o.Hub, HubNamespace: o.HubNamespace,
		Access: g.access, Endpoint: endpoint, TokenTimeout: o.tokenTimeout, DryRun: o.DryRun, Progress: o.ErrOut,
	})
	if err != nil {
		if ed != nil {
			return fmt.Errorf("%w; %s was not written", err, o.Filename)
		}
		return err
	}

	if o.DryRun {
		if ed != nil {
			if _, err := fmt.Fprintf(o.Out, "%s---\n", ed.Data); err != nil {
				return err
			}
		}
		return writeJoinDryRun(o.Out, o.Name, o.Hub, g, jr)
	}
	if ed != nil {
		if err := topology.WriteFile(o.Filename, ed.Data); err != nil {
			return fmt.Errorf("%w; cluster %s is registered with hub %s, but not in the file: run the same join again to add it", err, o.Name, o.Hub)
		}
	}

	var p *plan.Plan
	if res != nil {
		p = res.Plan.Only(o.Name)
	}
	if o.Output != "" {
		if ed != nil {
			// The result alone on stdout, for machines.
			fmt.Fprintln(o.ErrOut, o.joined(ed))
		}
		return o.writeMembershipData(jr, p)
	}
	writeJoinResult(o.Out, o.Context, o.Hub, g, jr)
	if ed == nil {
		return nil
	}
	fmt.Fprintf(o.Out, "\n%s\n\n", o.joined(ed))
	if err := view.Write(o.Out, p, "", view.TextOptions{Color: o.Color}); err != nil {
		return err
	}
	return o.planDone(p)
}

// joinedTopology loads the file for the kinds it renders for a cluster it
// already has, reached by the same context.
func (o *JoinOptions) joinedTopology() (*topology.Topology, error) {
	t, err := topology.Load(o.Filename)
	if err != nil {
		return nil, err
	}
	ref, ok := t.Cluster(o.Name)
	switch {
	case !ok:
		return nil, fmt.Errorf("cluster %s is not in %s: add it with --region REGION, or leave out -f to grant the default kinds", o.Name, o.Filename)
	case ref.Cluster.Kubeconfig == nil:
		return nil, fmt.Errorf("cluster %s in %s is a GKE cluster geofed manages: the control plane reaches it through GKE, not with a joined cluster's credentials", o.Name, o.Filename)
	case ref.Cluster.Kubeconfig.Context != o.Context:
		return nil, fmt.Errorf("cluster %s in %s is reached by context %q, not %q", o.Name, o.Filename, ref.Cluster.Kubeconfig.Context, o.Context)
	}
	return t, nil
}

// connect reaches the cluster by its context, through the topology's
// kubeconfig path for it when the file gives one.
func (o *JoinOptions) connect(ctx context.Context, t *topology.Topology) (*member.Conn, error) {
	target := member.Target{Name: o.Name, Kubeconfig: &topology.KubeconfigRef{Context: o.Context}}
	opts := member.Options{
		KubeconfigPath: kubeconfigFlag(o.ConfigFlags),
		QPS:            o.QPS,
		Burst:          o.Burst,
		Timeout:        o.ClusterTimeout,
		RequestTimeout: o.RequestTimeout,
		UserAgent:      userAgent(),
	}
	if t != nil {
		if ref, ok := t.Cluster(o.Name); ok && ref.Cluster.Kubeconfig != nil {
			target.Kubeconfig, target.Region, opts.TopologyDir = ref.Cluster.Kubeconfig, ref.Region, t.Dir()
		}
	}
	conn := member.Connect(ctx, []member.Target{target}, opts)[0]
	if conn.Err != nil {
		return nil, fmt.Errorf("context %q cannot be reached: %w; nothing was changed", o.Context, conn.Err)
	}
	return conn, nil
}

// grant computes the access: cluster-admin, or least privilege for the
// kinds the topology renders for the cluster (the plan's objects for it,
// when join planned) or has applied there (the default kinds without a
// topology) and the --grant resources.
func (o *JoinOptions) grant(ctx context.Context, t *topology.Topology, res *plan.Result, conn *member.Conn) (grant, error) {
	if o.ClusterAdmin {
		return grant{access: membership.Access{ClusterAdmin: true}, from: "--cluster-admin"}, nil
	}
	g := grant{from: "the default workload kinds"}
	gopts := membership.GrantOptions{Conn: conn, Extra: o.grants}
	if t != nil {
		var (
			kinds   membership.Kinds
			planned bool
		)
		if res != nil {
			kinds, planned = membership.PlannedKinds(res.Desired, o.Name)
		}
		if !planned {
			var err error
			if kinds, err = membership.TopologyKinds(t, nil, o.Name); err != nil {
				return grant{}, fmt.Errorf("listing the kinds %s renders for cluster %s: %w", o.Filename, o.Name, err)
			}
		}
		gopts.Kinds, gopts.Topology = &kinds, t.Metadata.Name
		g.from = "the kinds " + o.Filename + " renders for it or has applied there"
	}
	for _, gr := range o.grants {
		if conn != nil {
			if _, err := conn.Mapper.KindFor(gr.WithVersion("")); err != nil {
				fmt.Fprintf(o.ErrOut, "Warning: cluster %s serves no resource %s (yet); granted all the same.\n", o.Name, gr)
			}
		}
	}
	if len(o.grants) > 0 {
		g.from += " and --grant"
	}
	var err error
	if g.access, g.workloads, err = membership.Grant(ctx, gopts); err != nil {
		return grant{}, err
	}
	return g, nil
}

// comments head the --rbac and --dry-run YAML: what is granted, and why.
func (g grant) comments(cluster string) []string {
	if g.access.ClusterAdmin {
		return []string{fmt.Sprintf("RBAC of ServiceAccount %s/%s on cluster %s: cluster-admin (--cluster-admin); the control plane may do anything there.", membership.Namespace, membership.Name, cluster)}
	}
	out := []string{fmt.Sprintf("RBAC of ServiceAccount %s/%s on cluster %s: least privilege for %s.", membership.Namespace, membership.Name, cluster, g.from)}
	for _, n := range g.access.Rules.Notes {
		out = append(out, "Note: "+n)
	}
	return out
}

// endpoint is where the hub reaches the cluster: --server, or the
// context's server with its CA and TLS server name.
func (o *JoinOptions) endpoint(cfg *rest.Config) (membership.Endpoint, error) {
	cfg = rest.CopyConfig(cfg)
	if err := rest.LoadTLSFiles(cfg); err != nil {
		return membership.Endpoint{}, fmt.Errorf("context %q: %w", o.Context, err)
	}
	if o.Server != "" {
		return membership.Endpoint{Server: o.Server, CAData: cfg.CAData}, nil
	}
	return membership.Endpoint{Server: cfg.Host, CAData: cfg.CAData, TLSServerName: cfg.ServerName}, nil
}

// joinHubOutput is join --hub -o json|yaml.
type joinHubOutput struct {
	Context    string `json:"context"`
	HubContext string `json:"hubContext"`
	*membership.JoinResult
	// Plan is the new cluster's plan, when -f and --region added it.
	Plan json.RawMessage `json:"plan,omitempty"`
}

func (o *JoinOptions) writeMembershipData(jr *membership.JoinResult, p *plan.Plan) error {
	out := joinHubOutput{Context: o.Context, HubContext: o.Hub, JoinResult: jr}
	if p != nil {
		var buf bytes.Buffer
		if err := view.JSON(&buf, p); err != nil {
			return err
		}
		out.Plan = buf.Bytes()
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the result: %w", err)
	}
	if o.Output == "yaml" {
		if data, err = yaml.JSONToYAML(data); err != nil {
			return fmt.Errorf("encoding the result as YAML: %w", err)
		}
	} else {
		data = append(data, '\n')
	}
	_, err = o.Out.Write(data)
	if err == nil && p != nil && p.Failed() {
		return &ExitError{Code: 1, Err: fmt.Errorf("cluster %s was joined, but its plan is incomplete: %s", o.Name, p.Summary.Failures())}
	}
	return err
}
