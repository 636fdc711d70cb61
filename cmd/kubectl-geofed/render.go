package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/geofed-io/kubectl-geofed/pkg/datasource"
	"github.com/geofed-io/kubectl-geofed/pkg/engine"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

const renderExample = `  # Every cluster's manifests, as multi-document YAML
  kubectl geofed render -f topology.yaml

  # One cluster, as JSON
  kubectl geofed render -f topology.yaml --cluster serving-eu -o json

  # What if 8 replicas fit on training-us and 2 on training-eu?
  kubectl geofed render -f topology.yaml --capacity training-us=8,training-eu=2`

// RenderOptions holds the flags of the render command.
type RenderOptions struct {
	Filename string
	Cluster  string
	printFlags
	priceFlags
	// Capacity gives what-if capacity per cluster, in replicas that fit,
	// for workloads that divide by capacity.
	Capacity map[string]int64
	// EmulatorHost is $GKE_EMULATOR_HOST, for reading capacity.
	EmulatorHost string
	// StorageEmulatorHost is $STORAGE_EMULATOR_HOST, for reading the
	// location of the buckets workloads name.
	StorageEmulatorHost string
	Timeout             time.Duration

	ConfigFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
}

// NewRenderCommand prints the manifests each cluster would receive.
func NewRenderCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RenderOptions{ConfigFlags: flags, IOStreams: streams}
	var whatIf string
	cmd := &cobra.Command{
		Use:   "render -f TOPOLOGY [--cluster C]",
		Short: "Print the exact manifests each member cluster would receive",
		Long: `Render every workload of the topology for every cluster it is placed on: the
kustomize output of the chosen overlay plus placement (replica shares) and
geofed's ownership labels, exactly as apply would send it.

Like kustomize build, render works offline, with two exceptions: a workload
whose division needs the replicas that fit (divideBy: capacity, divideBy:
cost, or divideBy: locality with spill: fit) makes render read the nodes and
pods of its clusters, as plan does, unless --capacity gives them; and a
workload that names data (gs://bucket/prefix in replicas.near or
placement.data) makes it read the bucket's location from Cloud Storage
($STORAGE_EMULATOR_HOST points it at an emulator). Prices (divideBy: cost,
egress) come from the built-in price list and --price-catalog, never from
the network. Secret values are printed as (sensitive).`,
		Example: renderExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(whatIf); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.Filename, "filename", "f", "", "Topology file")
	cmd.Flags().StringVar(&o.Cluster, "cluster", "", "Render only this cluster")
	o.printFlags.add(cmd, "yaml", "Output format: yaml or json", "yaml", "json")
	cmd.Flags().StringVar(&whatIf, "capacity", "", "What-if capacity for divideBy: capacity, in replicas that fit, as CLUSTER=N,... (default: counted on the clusters)")
	o.priceFlags.add(cmd)
	cmd.Flags().DurationVar(&o.Timeout, "cluster-timeout", member.DefaultTimeout, "How long to try reaching each cluster when reading capacity")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	_ = cmd.RegisterFlagCompletionFunc("cluster", clusterNames(false))
	return cmd
}

// Complete parses --capacity and reads the environment.
func (o *RenderOptions) Complete(whatIf string) error {
	o.EmulatorHost = os.Getenv(gke.EmulatorHostEnv)
	o.StorageEmulatorHost = os.Getenv(datasource.EmulatorHostEnv)
	var err error
	o.Capacity, err = parseCapacity(whatIf)
	return err
}

// Validate checks the flags.
func (o *RenderOptions) Validate() error {
	if o.Filename == "" {
		return errors.New("a topology file is required: -f topology.yaml")
	}
	return o.printFlags.validate("yaml", "json")
}

// Run renders and prints.
func (o *RenderOptions) Run(ctx context.Context) error {
	if err := o.priceFlags.load(); err != nil {
		return err
	}
	t, err := topology.Load(o.Filename)
	if err != nil {
		return err
	}
	if o.Cluster != "" {
		if _, ok := t.Cluster(o.Cluster); !ok {
			return fmt.Errorf("cluster %q is not in %s", o.Cluster, o.Filename)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(o.Capacity)) {
		if _, ok := t.Cluster(name); !ok {
			return fmt.Errorf("--capacity names cluster %q, which is not in %s", name, o.Filename)
		}
	}
	// Offline unless a workload divides by capacity that --capacity does
	// not give for every cluster, or names data.
	sess := engine.New(engine.Options{
		GKE:    gke.ClientOptions{EmulatorHost: o.EmulatorHost},
		Data:   datasource.Options{EmulatorHost: o.StorageEmulatorHost},
		Member: member.Options{KubeconfigPath: kubeconfigFlag(o.ConfigFlags), Timeout: o.Timeout, UserAgent: userAgent()},
	})
	defer sess.Close()
	state, err := sess.Render(ctx, engine.RenderOptions{Fleet: engine.Fleet{Topology: t}, WhatIf: o.Capacity, Prices: o.Prices})
	if err != nil {
		return err
	}
	return state.Write(o.Out, o.Output, o.Cluster)
}

// parseCapacity parses CLUSTER=N,CLUSTER=N.
func parseCapacity(s string) (map[string]int64, error) {
	out := map[string]int64{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--capacity %q: want CLUSTER=N", part)
		}
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("--capacity %s: %q is not a non-negative whole number", name, val)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("--capacity names cluster %q twice", name)
		}
		out[name] = n
	}
	return out, nil
}
