package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/plan/view"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

const joinExample = `  # Add the cluster of context serving-us to region us-east1, then see its plan
  kubectl geofed join serving-us --region us-east1 --label role=serving -f topology.yaml

  # Name it, and see the new file without writing it
  kubectl geofed join gke_acme_us-east1_edge --name edge-us --region us-east1 -f topology.yaml --dry-run

  # Add a cluster that cannot be reached from here (yet)
  kubectl geofed join edge-eu --region europe-west1 -f topology.yaml --offline`

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
	Output  string
	clusterFlags
	// Color is decided in Complete: a TTY and no NO_COLOR.
	Color bool

	// nameFromContext says Name was derived, for the hint when it clashes.
	nameFromContext bool

	ConfigFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
}

// NewJoinCommand adds an existing cluster to a topology file.
func NewJoinCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &JoinOptions{ConfigFlags: flags, IOStreams: streams}
	var labels []string
	cmd := &cobra.Command{
		Use:   "join CONTEXT --region REGION -f TOPOLOGY",
		Short: "Add an existing cluster to the topology file, by kubeconfig context",
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
	cmd.Flags().StringVarP(&o.Filename, "filename", "f", "", "Topology file to add the cluster to")
	cmd.Flags().StringVar(&o.Region, "region", "", "GCP region the cluster is in (added to the topology if it has none of that name)")
	cmd.Flags().StringVar(&o.Name, "name", "", "Cluster name in the topology (default: the context, made into a DNS-1123 label)")
	cmd.Flags().StringArrayVar(&labels, "label", nil, "Label of the cluster, KEY=VALUE; repeat for more")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "Print the new topology file instead of writing it")
	cmd.Flags().BoolVar(&o.Offline, "offline", false, "Do not connect to the cluster or plan: join a context that cannot be reached from here")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format of the plan: json or yaml (default: human-readable text)")
	o.clusterFlags.add(cmd, "Clusters planned at once")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	_ = cmd.RegisterFlagCompletionFunc("region", cobra.FixedCompletions(catalog.RegionNames(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Complete reads the argument, the labels and the environment, and names
// the cluster after its context unless --name is given.
func (o *JoinOptions) Complete(args []string, labels []string) error {
	if len(args) > 0 {
		o.Context = args[0]
	}
	o.clusterFlags.complete()
	o.Color = isTerminal(o.IOStreams.Out) && os.Getenv("NO_COLOR") == ""
	var err error
	if o.Labels, err = parseLabels(labels); err != nil {
		return err
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
	switch {
	case o.Context == "":
		return errors.New("a kubeconfig context is required: join CONTEXT --region REGION -f topology.yaml")
	case o.Filename == "":
		return errors.New("a topology file is required: -f topology.yaml")
	case o.Region == "":
		return errors.New("a region is required: --region REGION (a GCP region, such as us-east1)")
	}
	switch o.Output {
	case "", "json", "yaml":
	default:
		return fmt.Errorf("--output must be json or yaml, not %q", o.Output)
	}
	switch {
	case o.Output != "" && o.DryRun:
		return errors.New("--dry-run prints the new topology file; --output applies to the plan, which it does not print")
	case o.Output != "" && o.Offline:
		return errors.New("--offline plans nothing, so there is nothing for --output to print")
	}
	return o.clusterFlags.validate()
}

// Run edits the file, checks the cluster can be reached (by planning the
// new topology), writes the file and shows the new cluster's plan.
func (o *JoinOptions) Run(ctx context.Context) error {
	data, err := os.ReadFile(o.Filename)
	if err != nil {
		return fmt.Errorf("reading topology: %w", err)
	}
	ed, err := topology.Options{}.AddJoinedCluster(o.Filename, data, topology.JoinedCluster{
		Region: o.Region, Name: o.Name, Labels: o.Labels, Context: o.Context,
	})
	if err != nil {
		var dup *topology.DuplicateNameError
		if errors.As(err, &dup) && o.nameFromContext {
			return fmt.Errorf("%w; the name comes from the context: give another with --name", err)
		}
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
	joined := fmt.Sprintf("Cluster %s (context %s) joined region %s at %s.", o.Name, o.Context, o.Region, ed.Topology.ClusterPlace(o.Name))
	if ed.NewRegion {
		joined = fmt.Sprintf("Cluster %s (context %s) joined the new region %s at %s.", o.Name, o.Context, o.Region, ed.Topology.ClusterPlace(o.Name))
	}
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
	if err := writePlan(o.Out, p, o.Output, view.TextOptions{Color: o.Color}); err != nil {
		return err
	}
	if o.Output == "" && dividesReplicas(p) {
		fmt.Fprintf(o.Out, "Replica shares of other clusters may move too: kubectl geofed plan -f %s shows the whole fleet.\n", o.Filename)
	}
	if p.Failed() {
		return &ExitError{Code: 1, Err: fmt.Errorf("cluster %s was joined, but its plan is incomplete: %s", o.Name, failureSummary(p))}
	}
	return nil
}

// plan computes the plan of the new topology and refuses a cluster it
// could not connect to. Nothing has been written yet.
func (o *JoinOptions) plan(ctx context.Context, t *topology.Topology) (*plan.Result, error) {
	opts, done, err := planOptions(ctx, t, o.clusterFlags.inputs(kubeconfigFlag(o.ConfigFlags)))
	if err != nil {
		return nil, fmt.Errorf("%w; nothing was written (--offline joins without connecting)", err)
	}
	defer done()
	res, err := computePlan(ctx, opts)
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

// writePlan prints a plan as plan -o does.
func writePlan(w io.Writer, p *plan.Plan, output string, text view.TextOptions) error {
	switch output {
	case "json":
		return view.JSON(w, p)
	case "yaml":
		var buf bytes.Buffer
		if err := view.JSON(&buf, p); err != nil {
			return err
		}
		y, err := yaml.JSONToYAML(buf.Bytes())
		if err != nil {
			return fmt.Errorf("encoding plan as YAML: %w", err)
		}
		_, err = w.Write(y)
		return err
	default:
		return view.Text(w, p, text)
	}
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
