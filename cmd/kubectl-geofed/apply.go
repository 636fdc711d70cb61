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
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/plan/view"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

const applyExample = `  # Plan, review, confirm with "yes", apply, and wait until every workload is ready
  kubectl geofed apply -f topology.yaml

  # In CI: no prompt
  kubectl geofed apply -f topology.yaml --yes

  # Apply exactly a plan saved earlier; refused if anything changed since
  kubectl geofed plan -f topology.yaml --out plan.json
  kubectl geofed apply plan.json

  # One region after another, stopping at the first that is not healthy
  kubectl geofed apply -f topology.yaml --waves

  # The prune guard held serving-us and serving-eu: after review, let their deletions through
  kubectl geofed apply -f topology.yaml --allow-prune=serving-us,serving-eu`

// confirmPrompt is what apply asks on a terminal.
const confirmPrompt = "Apply these changes? Only 'yes' is accepted: "

// ApplyOptions holds the flags of the apply command.
type ApplyOptions struct {
	Filename string
	// PlanFile is the saved plan given as the argument, "" for none.
	PlanFile       string
	Yes            bool
	ForceConflicts bool
	Prune          bool
	Wait           bool
	Timeout        time.Duration
	GKETimeout     time.Duration
	Waves          bool
	// LockTimeout waits for another apply's lock instead of refusing;
	// LockTTL is how long a lock outlives a killed apply.
	LockTimeout time.Duration
	LockTTL     time.Duration
	fleetFlags
	pruneGuardFlags
	priceFlags
	// Color is decided in Complete (Out a TTY, no NO_COLOR); apply has no
	// -o. Interactive: In is a TTY.
	printFlags
	Interactive bool

	ConfigFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
}

// NewApplyCommand plans and executes.
func NewApplyCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ApplyOptions{ConfigFlags: flags, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "apply (-f TOPOLOGY | PLAN_FILE)",
		Short: "Provision GKE clusters and apply the workloads, per region",
		Long: `Plan, show the plan, ask for confirmation, then execute it: create missing GKE
clusters (or wait for a create already in flight), change node pools and the
release channel in place, server-side apply every cluster's objects
(Namespaces and CRDs first), prune what geofed applied and no longer renders,
and wait until the workloads are ready.

Only 'yes' confirms. Without a terminal to ask on, apply refuses unless --yes
is given, so it never waits for input in CI.

Given a plan saved with plan --out, apply plans the topology it names again
and applies it only if nothing changed since: the topology file and the
manifests, every live object, every cluster's inventory and GKE cluster. A
saved plan was reviewed when it was made, so it is applied without asking.

Regions run at once (--parallel bounds the clusters); with --waves one region
runs after the other, in topology order, stopping at the first region that
does not become healthy. A cluster that fails never stops the others; the
summary lists every failure and the exit code is 1.

Node pools change in place where GKE can (machine type, accelerators: the
nodes are recreated); what it cannot change in place (spot) replaces the
pool: a new one is created, its nodes awaited, the old one drained
(PodDisruptionBudgets respected) and deleted. A pool removed from the file is
drained and deleted. apply never deletes a GKE cluster; destroy --clusters
does, when asked by name.` + "\n" + pruneGuardHelp + `
With a saved plan, the guard is the plan's: --max-prune, --max-prune-fleet
and --allow-prune are refused (plan again with them).`,
		Example: applyExample,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Complete(args)
			o.pruneGuardFlags.complete(cmd)
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.Filename, "filename", "f", "", "Topology file (with a saved plan: the topology to re-plan, instead of the one the plan names)")
	cmd.Flags().BoolVar(&o.Yes, "yes", false, "Apply without asking for confirmation")
	cmd.Flags().BoolVar(&o.ForceConflicts, "force-conflicts", false, "Take fields other field managers own")
	cmd.Flags().BoolVar(&o.Prune, "prune", true, "Delete objects geofed applied that are no longer rendered")
	cmd.Flags().BoolVar(&o.Wait, "wait", true, "Wait until every applied workload is ready")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", apply.DefaultTimeout, "How long to wait for one cluster's workloads to be ready")
	cmd.Flags().DurationVar(&o.GKETimeout, "gke-timeout", apply.DefaultGKETimeout, "How long GKE may take to create or change one cluster")
	cmd.Flags().BoolVar(&o.Waves, "waves", false, "Apply one region at a time, in topology order, stopping at the first that is not healthy")
	cmd.Flags().DurationVar(&o.LockTimeout, "lock-timeout", 0, "Wait this long for another apply of the same topology to release a cluster's lock, instead of refusing at once")
	cmd.Flags().DurationVar(&o.LockTTL, "lock-ttl", inventory.DefaultLockTTL, "How long a cluster's lock outlives an apply that died without releasing it")
	o.fleetFlags.add(cmd, "Clusters planned and applied at once")
	o.pruneGuardFlags.add(cmd)
	o.priceFlags.add(cmd)
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	cmd.ValidArgsFunction = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"json"}, cobra.ShellCompDirectiveFilterFileExt
	}
	return cmd
}

// Complete reads the argument and the environment.
func (o *ApplyOptions) Complete(args []string) {
	if len(args) > 0 {
		o.PlanFile = args[0]
	}
	o.fleetFlags.complete()
	o.printFlags.complete(o.IOStreams.Out)
	o.Interactive = isTerminal(o.IOStreams.In)
}

// Validate checks the flags.
func (o *ApplyOptions) Validate() error {
	if o.Filename == "" && o.PlanFile == "" {
		return errors.New("a topology file or a saved plan is required: apply -f topology.yaml, or apply plan.json")
	}
	if err := o.fleetFlags.validate(); err != nil {
		return err
	}
	if err := o.pruneGuardFlags.validate(); err != nil {
		return err
	}
	if o.PlanFile != "" && o.pruneGuardFlags.changed {
		return errors.New("a saved plan records its prune guard and what was allowed: --max-prune, --max-prune-fleet and --allow-prune apply when planning (plan --out ... --allow-prune=...)")
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive, not %s", o.Timeout)
	}
	if o.LockTTL < time.Second {
		return fmt.Errorf("--lock-ttl must be at least 1s, not %s", o.LockTTL)
	}
	if o.LockTimeout < 0 {
		return fmt.Errorf("--lock-timeout must not be negative, not %s", o.LockTimeout)
	}
	return nil
}

// Run plans (or checks a saved plan), shows the plan, confirms, executes and
// summarises.
func (o *ApplyOptions) Run(ctx context.Context) error {
	if err := o.priceFlags.load(); err != nil {
		return err
	}
	sess := o.fleetFlags.session(kubeconfigFlag(o.ConfigFlags))
	defer sess.Close()
	computed, err := o.plan(ctx, sess)
	if err != nil {
		return err
	}
	p := computed.Plan

	if err := view.Text(o.Out, p, view.TextOptions{Color: o.Color}); err != nil {
		return err
	}
	if p.Failed() {
		fmt.Fprintf(o.ErrOut, "Warning: the plan is incomplete (%s): apply leaves those clusters alone and exits 1.\n", p.Summary.Failures())
	}
	if note := heldNote(p); note != "" {
		fmt.Fprintln(o.ErrOut, "Warning: "+note+" Apply makes every other change and exits 1.")
	}
	changes := p.Summary.HasChanges()
	if !changes {
		// Nothing to change is not the same as done: a workload whose
		// last wait timed out is still not ready, and a CI retry must not
		// report success. Readiness is checked every time.
		if o.Wait {
			fmt.Fprintln(o.Out, "No changes. Checking that every workload is ready.")
		} else {
			fmt.Fprintln(o.Out, "No changes. Reporting readiness (--wait=false).")
		}
	}
	if changes && o.PlanFile == "" && !o.Yes {
		if err := o.confirm(); err != nil {
			return err
		}
	}

	res, err := sess.Apply(ctx, computed, engine.ApplyOptions{
		Lock:           inventory.LockOptions{TTL: o.LockTTL, Wait: o.LockTimeout},
		ForceConflicts: o.ForceConflicts,
		Prune:          o.Prune,
		Wait:           o.Wait,
		Timeout:        o.Timeout,
		GKETimeout:     o.GKETimeout,
		Waves:          o.Waves,
		Progress:       o.ErrOut,
	})
	if err != nil {
		return err
	}
	fmt.Fprint(o.Out, "\n"+res.Summary())
	if res.Failed() {
		return &ExitError{Code: 1, Err: applyFailure(res, p)}
	}
	return nil
}

// plan computes the plan to apply: of the topology, or — given a saved
// plan — the same plan again, refused unless nothing changed since.
func (o *ApplyOptions) plan(ctx context.Context, sess *engine.Session) (*plan.Result, error) {
	opts := o.fleetFlags.planOptions(nil)
	opts.Prices = o.Prices
	if o.PlanFile != "" {
		res, err := sess.Replan(ctx, engine.SavedOptions{Path: o.PlanFile, TopologyFile: o.Filename, PlanOptions: opts})
		return res, capacityHint(err)
	}
	t, err := topology.Load(o.Filename)
	if err != nil {
		return nil, err
	}
	opts.Topology, opts.Guard = t, o.pruneGuardFlags.guard
	return computePlan(ctx, sess, opts)
}

// applyFailure says why apply exits 1: the clusters that failed, and those
// whose deletions the prune guard held, with how to allow them.
func applyFailure(res *apply.Result, p *plan.Plan) error {
	var failed []string
	for _, c := range res.Clusters {
		if c.Err != nil || c.Skipped != "" {
			failed = append(failed, c.Name)
		}
	}
	var errs []error
	if len(failed) > 0 {
		err := fmt.Errorf("apply failed on %d of %d clusters: %s", len(failed), len(res.Clusters), strings.Join(failed, ", "))
		if p.Failed() {
			err = fmt.Errorf("%w (the plan is incomplete: %s)", err, p.Summary.Failures())
		}
		errs = append(errs, err)
	}
	if held := res.PruneHeldClusters(); len(held) > 0 {
		slices.Sort(held)
		errs = append(errs, fmt.Errorf("prune guard: nothing deleted on %s, every other change made; review the deletions above and re-run with --allow-prune=%s",
			strings.Join(held, ", "), strings.Join(held, ",")))
	}
	return errors.Join(errs...)
}

// confirm asks on the terminal; anything but "yes" cancels. Without a
// terminal it refuses rather than wait for input that never comes.
func (o *ApplyOptions) confirm() error {
	if !o.Interactive {
		return &ExitError{Code: 1, Err: errors.New("refusing to apply without confirmation: standard input is not a terminal. " +
			"Review the plan above and re-run with --yes, or save it with plan --out and apply the saved plan")}
	}
	fmt.Fprint(o.Out, "\n"+confirmPrompt)
	answer, err := bufio.NewReader(o.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the confirmation: %w", err)
	}
	if strings.TrimSpace(answer) != "yes" {
		return &ExitError{Code: 1, Err: errors.New("apply cancelled: nothing was changed")}
	}
	return nil
}
