package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/geofed-io/kubectl-geofed/pkg/apply"
	"github.com/geofed-io/kubectl-geofed/pkg/engine"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/plan/view"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

const destroyExample = `  # Remove every object geofed applied, on every member; clusters stay
  kubectl geofed destroy -f topology.yaml

  # The same without a terminal, as CI tears down a preview environment
  kubectl geofed destroy -f topology.yaml --yes

  # ... and delete two GKE clusters geofed created (asks for their names)
  kubectl geofed destroy -f topology.yaml --clusters training-us,serving-eu`

// DestroyOptions holds the flags of the destroy command.
type DestroyOptions struct {
	Filename string
	// Output is "" for text, or json|yaml: the destroy plan as plan -o
	// prints it on standard output, everything meant for people (the
	// prompt, progress, the summary) on standard error.
	printFlags
	// Clusters are the managed clusters to delete from GKE.
	Clusters   []string
	Yes        bool
	GKETimeout time.Duration
	LockTTL    time.Duration
	LockWait   time.Duration
	fleetFlags
	Interactive bool

	ConfigFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
}

// NewDestroyCommand removes what geofed owns.
func NewDestroyCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DestroyOptions{ConfigFlags: flags, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "destroy -f TOPOLOGY [--yes] [--clusters NAME,...]",
		Short: "Remove every object geofed owns from every member cluster",
		Long: `Show a plan deleting (-) every object geofed applied on every member cluster,
ask for confirmation, then delete them in reverse apply order (workloads,
then the rest, then Namespaces and CRDs) with the same safety as prune: an
object someone re-created is never deleted, and a Namespace or CRD that still
holds what geofed did not apply is kept, still recorded, and said so. Each
cluster's inventory and lock are removed last. Destroy is idempotent and
resumable: run it again after an interruption and it carries on; once
nothing is left it says so.

--yes destroys without asking, with no terminal needed: what CI runs to
tear down a preview environment.

Clusters themselves stay. GKE clusters are deleted only when named with
--clusters, after their objects are gone, and only once their names are
typed at the prompt, or with --yes, --clusters having named them. Joined
clusters are never deleted.

Exit codes: 0 everything removed (or nothing was left); 1 an error, or
something kept because it holds what geofed did not apply.`,
		Example: destroyExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Complete()
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.Filename, "filename", "f", "", "Topology file")
	o.printFlags.add(cmd, "", "Print the destroy plan as json or yaml (people's lines go to standard error)", "json", "yaml")
	cmd.Flags().StringSliceVar(&o.Clusters, "clusters", nil, "Managed clusters to delete from GKE once their objects are gone")
	cmd.Flags().BoolVar(&o.Yes, "yes", false, "Destroy without asking, on a terminal or not; GKE clusters go only when named with --clusters")
	cmd.Flags().DurationVar(&o.GKETimeout, "gke-timeout", apply.DefaultGKETimeout, "How long GKE may take to delete one cluster")
	cmd.Flags().DurationVar(&o.LockWait, "lock-timeout", 0, "Wait this long for another apply to release a cluster's lock")
	cmd.Flags().DurationVar(&o.LockTTL, "lock-ttl", inventory.DefaultLockTTL, "How long a cluster's lock outlives a destroy that died without releasing it")
	o.fleetFlags.add(cmd, "Clusters destroyed at once")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	_ = cmd.RegisterFlagCompletionFunc("clusters", clusterNames(true))
	return cmd
}

// Complete reads the environment.
func (o *DestroyOptions) Complete() {
	o.fleetFlags.complete()
	o.printFlags.complete(o.IOStreams.Out)
	o.Interactive = isTerminal(o.IOStreams.In)
}

// Validate checks the flags.
func (o *DestroyOptions) Validate() error {
	if o.Filename == "" {
		return errors.New("a topology file is required: destroy -f topology.yaml")
	}
	if err := o.printFlags.validate("", "json", "yaml"); err != nil {
		return err
	}
	if o.LockTTL < time.Second {
		return fmt.Errorf("--lock-ttl must be at least 1s, not %s", o.LockTTL)
	}
	return o.fleetFlags.validate()
}

// Run plans the destruction, shows it, confirms, executes and summarises.
func (o *DestroyOptions) Run(ctx context.Context) error {
	t, err := topology.Load(o.Filename)
	if err != nil {
		return err
	}
	if err := checkDeletable(t, o.Filename, o.Clusters); err != nil {
		return err
	}
	sess := o.fleetFlags.session(kubeconfigFlag(o.ConfigFlags))
	defer sess.Close()
	opts := o.fleetFlags.planOptions(t)
	opts.Mode, opts.DeleteClusters = plan.ModeDestroy, o.Clusters
	computed, err := computePlan(ctx, sess, opts)
	if err != nil {
		return err
	}
	p := computed.Plan
	// People's lines go where the plan is not: stdout for text, stderr
	// when stdout is for machines.
	human := o.Out
	if o.Output != "" {
		human = o.ErrOut
	}
	if err := view.Write(o.Out, p, o.Output, view.TextOptions{Color: o.Color}); err != nil {
		return err
	}
	var deleting []string
	for _, r := range p.Regions {
		for _, c := range r.Clusters {
			if c.GKE != nil && c.GKE.Action == object.ActionDelete {
				deleting = append(deleting, c.Name)
				fmt.Fprintf(human, "- GKE cluster %s (%s/%s) is deleted once its objects are gone.\n", c.Name, c.GKE.Project, c.GKE.Location)
			}
		}
	}
	for _, name := range o.Clusters {
		if !slices.Contains(deleting, name) {
			fmt.Fprintf(human, "GKE cluster %s does not exist: nothing to delete.\n", name)
		}
	}
	if p.Failed() {
		fmt.Fprintf(o.ErrOut, "Warning: the plan is incomplete (%s): destroy leaves those clusters alone and exits 1.\n", p.Summary.Failures())
	}
	if !p.Summary.HasChanges() && !hasInventory(p) {
		fmt.Fprintln(human, "Nothing to destroy: no member holds anything geofed applied.")
		if p.Failed() {
			return &ExitError{Code: 1, Err: fmt.Errorf("the plan is incomplete: %s", p.Summary.Failures())}
		}
		return nil
	}
	if !o.Yes {
		if err := o.confirm(human, deleting); err != nil {
			return err
		}
	}

	res, err := sess.Destroy(ctx, computed, engine.ApplyOptions{
		Lock:       inventory.LockOptions{TTL: o.LockTTL, Wait: o.LockWait},
		GKETimeout: o.GKETimeout,
		Progress:   o.ErrOut,
	})
	if err != nil {
		return err
	}
	fmt.Fprint(human, "\n"+res.DestroySummary())
	switch {
	case res.Failed():
		failed := res.FailedClusters()
		return &ExitError{Code: 1, Err: fmt.Errorf("destroy failed on %d of %d clusters: %s", len(failed), len(res.Clusters), strings.Join(failed, ", "))}
	case res.Incomplete():
		return &ExitError{Code: 1, Err: errors.New("destroy kept objects: prune disabled on them, or holding what geofed did not apply")}
	case p.Failed():
		return &ExitError{Code: 1, Err: fmt.Errorf("the plan is incomplete: %s", p.Summary.Failures())}
	}
	return nil
}

// checkDeletable refuses --clusters naming a cluster that is not a managed
// cluster of the topology: a joined cluster is never deleted, and a typo
// must not be confirmed away.
func checkDeletable(t *topology.Topology, file string, names []string) error {
	var errs []error
	seen := map[string]bool{}
	for _, name := range names {
		ref, ok := t.Cluster(name)
		switch {
		case seen[name]:
			errs = append(errs, fmt.Errorf("--clusters names %s twice", name))
		case !ok:
			errs = append(errs, fmt.Errorf("--clusters names %q, which is not a cluster of %s", name, file))
		case !ref.Cluster.Managed():
			errs = append(errs, fmt.Errorf("--clusters names %s, a joined cluster (%s): geofed never deletes a cluster it did not create", name, t.ClusterPlace(name)))
		}
		seen[name] = true
	}
	return errors.Join(errs...)
}

// hasInventory reports whether some cluster still has an inventory to
// remove (one left empty by an earlier prune, say).
func hasInventory(p *plan.Plan) bool {
	for _, r := range p.Regions {
		for _, c := range r.Clusters {
			if c.InventoryVersion != "" {
				return true
			}
		}
	}
	return false
}

// confirm asks on the terminal: "yes" for objects only; the names of the
// clusters, as typed, when GKE clusters are deleted too. Without a
// terminal there is no one to ask, and --yes is the answer.
func (o *DestroyOptions) confirm(human io.Writer, clusters []string) error {
	if !o.Interactive {
		what := "refusing to destroy without confirmation: standard input is not a terminal. Review the plan above and confirm at a terminal, or re-run with --yes"
		if len(clusters) > 0 {
			what += " (--clusters names the GKE clusters it deletes)"
		}
		return &ExitError{Code: 1, Err: errors.New(what)}
	}
	want := "yes"
	prompt := "Destroy everything geofed owns as shown above? Only 'yes' is accepted: "
	if len(clusters) > 0 {
		want = strings.Join(clusters, ",")
		prompt = fmt.Sprintf("This also deletes GKE clusters %s and everything in them. Type their names (%s) to confirm: ", strings.Join(clusters, ", "), want)
	}
	fmt.Fprint(human, "\n"+prompt)
	answer, err := bufio.NewReader(o.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the confirmation: %w", err)
	}
	if strings.ReplaceAll(strings.TrimSpace(answer), " ", "") != want {
		return &ExitError{Code: 1, Err: errors.New("destroy cancelled: nothing was changed")}
	}
	return nil
}
