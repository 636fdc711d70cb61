package main

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewRootCommand builds the kubectl-geofed command tree. Everything a command
// needs is passed in, so tests can build it with their own streams.
func NewRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
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
	flags.AddFlags(cmd.PersistentFlags())

	cmd.AddCommand(
		NewVersionCommand(streams),
		NewRenderCommand(flags, streams),
		NewPlanCommand(flags, streams),
	)
	return cmd
}
