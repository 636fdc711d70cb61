package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/geofed-io/kubectl-geofed/pkg/engine"
	"github.com/geofed-io/kubectl-geofed/pkg/htmlview"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/plan/view"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

const planExample = `  # What would change, per region
  kubectl geofed plan -f topology.yaml

  # Field-level diffs, as kubectl diff shows them
  kubectl geofed plan -f topology.yaml --diff

  # Save the plan for apply, and let CI tell "changes" (2) from "none" (0)
  kubectl geofed plan -f topology.yaml --out plan.json --detailed-exitcode

  # Machine-readable
  kubectl geofed plan -f topology.yaml -o json

  # A pull-request comment, and the plan to apply once it merges: a large
  # change is shortened to --max-bytes, saying what plan.json holds beyond it
  kubectl geofed plan -f topology.yaml --out plan.json -o markdown > plan.md

  # One self-contained page: the regions on a world map, every cluster's changes
  kubectl geofed plan -f topology.yaml -o html > plan.html`

// PlanOptions holds the flags of the plan command.
type PlanOptions struct {
	Filename string
	printFlags
	SaveTo           string
	Diff             bool
	DetailedExitCode bool
	Verbose          bool
	// MaxBytes bounds -o markdown (0: no bound).
	MaxBytes int
	fleetFlags
	pruneGuardFlags
	priceFlags

	ConfigFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
}

// NewPlanCommand shows what apply would change.
func NewPlanCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &PlanOptions{ConfigFlags: flags, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "plan -f TOPOLOGY",
		Short: "Show, per region, what apply would change",
		Long: `Compute what apply would change — GKE clusters to create or update, and for
every member cluster the Kubernetes objects to create (+), change (~) or prune
(-) — and explain how every workload's replicas are placed.

Object changes come from server-side dry-run apply, as kubectl diff
--server-side shows them; objects geofed applied and nobody changed since are
known unchanged from its inventory without a dry-run. Nothing is modified.

Exit codes: 0 success, 1 error (including an unreachable cluster); with
--detailed-exitcode, 0 no changes, 1 error, 2 changes (a plan the prune
guard holds is still a plan with changes: 2).` + "\n" + pruneGuardHelp,
		Example: planExample,
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
	o.printFlags.add(cmd, "", "Output format: json, yaml, markdown for a pull-request comment, or html for a page with a world map (default: human-readable text)", "json", "yaml", "markdown", "html")
	cmd.Flags().StringVar(&o.SaveTo, "out", "", "Save the plan as JSON to this file, for apply")
	cmd.Flags().BoolVar(&o.Diff, "diff", false, "Show full unified diffs of changed objects")
	cmd.Flags().BoolVar(&o.DetailedExitCode, "detailed-exitcode", false, "Exit 0 when nothing changes, 1 on error, 2 when there are changes")
	cmd.Flags().BoolVar(&o.Verbose, "show-unchanged", false, "List unchanged objects too")
	cmd.Flags().IntVar(&o.MaxBytes, "max-bytes", view.DefaultMarkdownBytes, fmt.Sprintf("With -o markdown, the most bytes to write: a larger plan keeps its summary, warnings and the clusters that need a person, folds or cuts the rest and says what it left out (a GitHub comment holds 65,536 characters; 0: no bound, else at least %d)", view.MinMarkdownBytes))
	o.fleetFlags.add(cmd, "Clusters planned at once")
	o.pruneGuardFlags.add(cmd)
	o.priceFlags.add(cmd)
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	return cmd
}

// Complete reads the environment.
func (o *PlanOptions) Complete() {
	o.fleetFlags.complete()
	o.printFlags.complete(o.IOStreams.Out)
}

// Validate checks the flags.
func (o *PlanOptions) Validate() error {
	if o.Filename == "" {
		return errors.New("a topology file is required: -f topology.yaml")
	}
	if err := o.printFlags.validate("", "json", "yaml", "markdown", "html"); err != nil {
		return err
	}
	if o.MaxBytes < 0 || (o.MaxBytes > 0 && o.MaxBytes < view.MinMarkdownBytes) {
		return fmt.Errorf("--max-bytes must be 0 (no bound) or at least %d, not %d", view.MinMarkdownBytes, o.MaxBytes)
	}
	if err := o.pruneGuardFlags.validate(); err != nil {
		return err
	}
	return o.fleetFlags.validate()
}

// Run plans, prints, saves, and maps the result to an exit code.
func (o *PlanOptions) Run(ctx context.Context) error {
	if err := o.priceFlags.load(); err != nil {
		return err
	}
	t, err := topology.Load(o.Filename)
	if err != nil {
		return err
	}
	sess := o.fleetFlags.session(kubeconfigFlag(o.ConfigFlags))
	defer sess.Close()
	opts := o.fleetFlags.planOptions(t)
	opts.Prices = o.Prices
	opts.Diff, opts.Guard = o.Diff, o.pruneGuardFlags.guard
	res, err := computePlan(ctx, sess, opts)
	if err != nil {
		return err
	}
	p := res.Plan

	switch o.Output {
	case "markdown":
		err = view.Markdown(o.IOStreams.Out, p, view.MarkdownOptions{Diff: o.Diff, Verbose: o.Verbose, MaxBytes: o.MaxBytes, FullPlan: o.SaveTo})
	case "html":
		err = htmlview.Plan(o.IOStreams.Out, p)
	default:
		err = view.Write(o.IOStreams.Out, p, o.Output, view.TextOptions{Color: o.Color, Diff: o.Diff, Verbose: o.Verbose})
	}
	if err != nil {
		return err
	}
	if o.SaveTo != "" {
		if err := plan.Save(o.SaveTo, p); err != nil {
			return err
		}
		if p.Failed() {
			fmt.Fprintf(o.ErrOut, "Saved the incomplete plan to %s, for inspection: apply refuses a plan that could not reach every cluster.\n", o.SaveTo)
		} else {
			fmt.Fprintf(o.ErrOut, "Saved the plan to %s. Apply exactly this plan with: kubectl geofed apply %s\n", o.SaveTo, o.SaveTo)
		}
	}
	if note := heldNote(p); note != "" && o.Output == "" {
		fmt.Fprintln(o.ErrOut, note)
	}
	if p.Failed() {
		return &ExitError{Code: 1, Err: fmt.Errorf("the plan is incomplete: %s", p.Summary.Failures())}
	}
	if o.DetailedExitCode && p.Summary.HasChanges() {
		return &ExitError{Code: 2}
	}
	return nil
}

// kubeconfigFlag is the --kubeconfig the user gave, or "".
func kubeconfigFlag(f *genericclioptions.ConfigFlags) string {
	if f != nil && f.KubeConfig != nil {
		return *f.KubeConfig
	}
	return ""
}

// computePlan plans, saying what to do when capacity could not be read.
func computePlan(ctx context.Context, sess *engine.Session, opts engine.PlanOptions) (*plan.Result, error) {
	res, err := sess.Plan(ctx, opts)
	return res, capacityHint(err)
}

// capacityHint says, of a plan that failed for want of the clusters'
// capacity, how to preview it all the same.
func capacityHint(err error) error {
	var capErr *placement.CapacityUnknownError
	if errors.As(err, &capErr) {
		return fmt.Errorf("%w: the clusters could not be read; preview with kubectl geofed render --capacity", err)
	}
	return err
}
