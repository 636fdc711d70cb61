package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"
)

// NewRootCommand builds the kubectl-geofed command tree. Everything a command
// needs is passed in, so tests can build it with their own streams.
func NewRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	// Only --kubeconfig of kubectl's connection flags: every member cluster
	// names its own context in the topology, so --context, --server, -n and
	// the credential flags would have nothing to apply to.
	flags := &genericclioptions.ConfigFlags{KubeConfig: ptr("")}
	cmd := &cobra.Command{
		Use:   "kubectl-geofed",
		Short: "Federate Kubernetes clusters across regions from one topology file",
		Long: `kubectl geofed plans and applies one declarative topology — regions, member
clusters (GKE clusters to provision, or existing clusters joined by kubeconfig
context) and kustomize workloads with a placement policy — across every member
cluster, and explains every decision before it happens.`,
		Annotations: map[string]string{
			cobra.CommandDisplayNameAnnotation: "kubectl geofed",
		},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	flags.AddFlags(cmd.PersistentFlags())
	addVerbosityFlag(cmd)
	prof := addProfilingFlags(cmd)
	cmd.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		if err := prof.start(); err != nil {
			return err
		}
		// Written when the command returns, whatever it returns: cobra
		// skips a PersistentPostRun after an error, and the profile of a
		// plan that found changes (exit 2) or failed is often the one
		// wanted.
		if run := c.RunE; run != nil {
			c.RunE = func(c *cobra.Command, args []string) error {
				err := run(c, args)
				if perr := prof.stop(); perr != nil {
					return errors.Join(err, fmt.Errorf("writing the profile: %w", perr))
				}
				return err
			}
		}
		return nil
	}

	cmd.AddCommand(
		NewVersionCommand(streams),
		NewRenderCommand(flags, streams),
		NewPlanCommand(flags, streams),
		NewApplyCommand(flags, streams),
		NewStatusCommand(flags, streams),
		NewDestroyCommand(flags, streams),
		NewJoinCommand(flags, streams),
		NewUnjoinCommand(flags, streams),
		NewKubeconfigCommand(flags, streams),
		NewPushCommand(flags, streams),
		NewApproveCommand(flags, streams),
	)
	return cmd
}

// addVerbosityFlag adds kubectl's -v: client-go's request logging goes
// through klog, whose verbosity this sets.
func addVerbosityFlag(cmd *cobra.Command) {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	if v := fs.Lookup("v"); v != nil {
		cmd.PersistentFlags().AddGoFlag(v)
	}
}

func ptr[T any](v T) *T { return &v }
