package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/geofed-io/kubectl-geofed/pkg/datasource"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/push"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

const pushExample = `  # Hand the topology and its kustomize sources to the control plane
  kubectl geofed push -f topology.yaml --hub hub

  # Let the control plane report drift without changing anything
  kubectl geofed push -f topology.yaml --hub hub --mode Plan

  # Move an unreachable member's replicas after 5 minutes instead of 2
  kubectl geofed push -f topology.yaml --hub hub --failover-after 5m

  # Remove what the topology applied from the members when its Topology is deleted
  kubectl geofed push -f topology.yaml --hub hub --deletion-policy Delete`

// PushOptions holds the flags of the push command.
type PushOptions struct {
	Filename      string
	Hub           string
	HubNamespace  string
	Mode          string
	Paused        bool
	FailoverAfter time.Duration
	RestoreAfter  time.Duration
	// DeletionPolicy is Orphan, Delete, or "" to keep the hub's.
	DeletionPolicy string
	// StorageEmulatorHost is $STORAGE_EMULATOR_HOST: where the location of
	// the buckets workloads name is read, as plan reads it.
	StorageEmulatorHost string

	ConfigFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
}

// NewPushCommand uploads a topology to a control plane.
func NewPushCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &PushOptions{ConfigFlags: flags, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "push -f TOPOLOGY --hub CONTEXT",
		Short: "Upload a topology and its kustomize sources to a control plane",
		Long: `Upload a topology to the geofed control plane running in a hub cluster: its
spec becomes a Topology object (geofed.io/v1alpha1), and its workloads'
kustomize sources a bundle of ConfigMaps beside it — Secrets for the files
that hold secrets (Secret manifests, what secret generators read) — so the
controller renders offline exactly what render renders here.

Before anything is uploaded, every workload is placed and rendered both
from the disk and from the bundle: a kustomization that reads files outside
its source directory is refused here, not found broken in the hub. A
workload that names a bucket (gs://bucket/prefix) has its location read
from Cloud Storage as plan reads it (STORAGE_EMULATOR_HOST points at an
emulator): a bucket that is gone or unreadable refuses the push, naming the
workload, file:line and URL.

Members are reached from the hub with the kubeconfig in Secret
geofed-member-<cluster> (key kubeconfig, labelled geofed.io/membership, as
join --hub writes it) of the controller's namespace.

--deletion-policy says what deleting the Topology from the hub (kubectl
delete topology NAME) does to what the control plane applied on the members:
  Orphan  (the default) leaves every object there, still labelled and recorded
          in each member's inventory: kubectl geofed destroy -f removes it
          later, or another topology of the same name takes it over.
  Delete  removes it first, as kubectl geofed destroy does and with the same
          safety: an object someone re-created is spared, and a Namespace or
          CRD that still holds what geofed did not apply is kept. The
          Topology carries the finalizer geofed.io/destroy until every member
          is clean; while one is unreachable or keeps something, the
          Topology stays, its Destroyed condition and an Event say why, and
          the controller tries again. Setting the policy back to Orphan
          releases it. It acts in --mode Plan too, and needs the
          controller running. GKE clusters are never deleted.
A push without --deletion-policy keeps what the hub has.`,
		Example: pushExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.StorageEmulatorHost = os.Getenv(datasource.EmulatorHostEnv)
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.Filename, "filename", "f", "", "Topology file")
	cmd.Flags().StringVar(&o.Hub, "hub", "", "Kubeconfig context of the hub cluster")
	cmd.Flags().StringVar(&o.HubNamespace, "hub-namespace", defaultHubNamespace, "Namespace of the control plane in the hub")
	cmd.Flags().StringVar(&o.Mode, "mode", "", "Apply (keep the members as the topology says) or Plan (report drift, change nothing); default: as the hub has it, Apply for a new topology")
	cmd.Flags().BoolVar(&o.Paused, "paused", false, "Upload, but let the control plane do nothing until pushed again without --paused")
	cmd.Flags().DurationVar(&o.FailoverAfter, "failover-after", 0, "How long a member stays unreachable before its share moves to the others (default 2m)")
	cmd.Flags().DurationVar(&o.RestoreAfter, "restore-after", 0, "How long a member that failed over must stay reachable before its share returns (default 2m)")
	cmd.Flags().StringVar(&o.DeletionPolicy, "deletion-policy", "", "What deleting the Topology does to what it applied on the members: Orphan (leave it) or Delete (remove it first); default: as the hub has it, Orphan for a new topology")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	_ = cmd.RegisterFlagCompletionFunc("deletion-policy", cobra.FixedCompletions([]string{"Orphan", "Delete"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("mode", cobra.FixedCompletions([]string{"Apply", "Plan"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Validate checks the flags.
func (o *PushOptions) Validate() error {
	if o.Filename == "" {
		return errors.New("a topology file is required: -f topology.yaml")
	}
	if o.Hub == "" {
		return errors.New("the hub cluster is required: --hub CONTEXT")
	}
	switch v1alpha1.Mode(o.Mode) {
	case "", v1alpha1.ModeApply, v1alpha1.ModePlan:
	default:
		return fmt.Errorf("--mode must be Apply or Plan, not %q", o.Mode)
	}
	switch v1alpha1.DeletionPolicy(o.DeletionPolicy) {
	case "", v1alpha1.DeletionOrphan, v1alpha1.DeletionDelete:
	default:
		return fmt.Errorf("--deletion-policy must be Orphan or Delete, not %q", o.DeletionPolicy)
	}
	if o.FailoverAfter < 0 || o.RestoreAfter < 0 {
		return errors.New("--failover-after and --restore-after must not be negative")
	}
	return nil
}

// Run loads the topology and pushes it.
func (o *PushOptions) Run(ctx context.Context) error {
	t, err := topology.Load(o.Filename)
	if err != nil {
		return err
	}
	hub, err := hubClient(o.ConfigFlags, o.Hub)
	if err != nil {
		return err
	}
	opts := push.Options{Topology: t, Hub: hub, Namespace: o.HubNamespace, Mode: v1alpha1.Mode(o.Mode), Paused: o.Paused, DeletionPolicy: v1alpha1.DeletionPolicy(o.DeletionPolicy),
		Data: datasource.Options{EmulatorHost: o.StorageEmulatorHost}}
	if o.FailoverAfter > 0 || o.RestoreAfter > 0 {
		opts.Failover = &v1alpha1.Failover{}
		if o.FailoverAfter > 0 {
			opts.Failover.After = &metav1.Duration{Duration: o.FailoverAfter}
		}
		if o.RestoreAfter > 0 {
			opts.Failover.RestoreAfter = &metav1.Duration{Duration: o.RestoreAfter}
		}
	}
	res, err := push.Run(ctx, opts)
	if err != nil {
		return err
	}
	verb := "updated"
	if res.Created {
		verb = "created"
	}
	fmt.Fprintf(o.Out, "Topology %s/%s %s on hub %s: %d files (%d sensitive) in %d ConfigMaps and %d Secrets, digest %s.\n",
		o.HubNamespace, t.Metadata.Name, verb, o.Hub, res.Files, res.SensitiveFiles, res.ConfigMaps, res.Secrets, res.Digest)
	if res.Deleted > 0 {
		fmt.Fprintf(o.ErrOut, "Removed %d chunks of earlier pushes.\n", res.Deleted)
	}
	return nil
}
