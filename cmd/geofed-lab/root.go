package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labd"
)

// defaultDir is the state directory when --dir is not given: in the current
// directory, like terraform's .terraform, so a demo's lab sits beside it.
const defaultDir = ".geofed-lab"

// NewRootCommand builds the geofed-lab command tree.
func NewRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "geofed-lab",
		Short: "Run real Kubernetes clusters on this machine for geofed",
		Long: `geofed-lab runs Kubernetes control planes (kube-apiserver, controller-manager,
scheduler, one shared etcd) on loopback, with KWOK playing the nodes: Pods are
scheduled and turn Running, Deployments become Available, with no containers
and no cloud account. The binaries come from ` + "`make lab-bin`" + `, found through
$` + lab.BinDirEnv + `.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	dir := defaultDir
	cmd.PersistentFlags().StringVar(&dir, "dir", dir, "state directory of the lab")
	cmd.AddCommand(
		newUpCommand(&dir, streams),
		newRunCommand(&dir, streams),
		newStatusCommand(&dir, streams),
		newDownCommand(&dir, streams),
		newImageCommand(&dir, streams),
		newFaultCommand(&dir, streams),
		newBucketCommand(&dir, streams),
	)
	return cmd
}

// clusterFlags are the flags that say which clusters a lab runs.
type clusterFlags struct {
	clusters      []string
	apiserverOnly bool
	realNodes     []string
}

func (f *clusterFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.clusters, "cluster", []string{labd.DefaultCluster},
		"a cluster to run, NAME[@REGION][:GPUS] (repeatable): two CPU nodes and GPUS nodes with one nvidia.com/gpu each, labelled for REGION (default us-east1)")
	cmd.Flags().BoolVar(&f.apiserverOnly, "apiserver-only", false,
		"run each cluster's kube-apiserver alone: no controllers, scheduler, KWOK or nodes, so that many clusters fit on one machine (objects are stored and served; nothing runs them)")
	cmd.Flags().StringArrayVar(&f.realNodes, "real-node", nil,
		"give cluster NAME one node run by a real kubelet and containerd (repeatable; needs root, containerd, runc and the CNI plugins: hack/real-node.sh installs them): Pods that select the node label "+lab.RealNodeLabel+"=true run real containers, from images loaded with `geofed-lab image load`")
}

func (f *clusterFlags) specs() ([]lab.ClusterSpec, error) {
	var out []lab.ClusterSpec
	seen := map[string]bool{}
	for _, c := range f.clusters {
		spec, err := labd.ParseCluster(c)
		if err != nil {
			return nil, err
		}
		if f.apiserverOnly {
			if strings.Contains(c, ":") {
				return nil, fmt.Errorf("cluster %q: --apiserver-only clusters have no nodes, so no GPUS", c)
			}
			spec.Nodes, spec.APIServerOnly = nil, true
		}
		if err := spec.Validate(); err != nil {
			return nil, err
		}
		if seen[spec.Name] {
			return nil, fmt.Errorf("cluster %s named twice", spec.Name)
		}
		seen[spec.Name] = true
		out = append(out, spec)
	}
	for _, name := range f.realNodes {
		i := slices.IndexFunc(out, func(s lab.ClusterSpec) bool { return s.Name == name })
		switch {
		case i < 0:
			return nil, fmt.Errorf("--real-node %s: no --cluster of that name", name)
		case out[i].APIServerOnly:
			return nil, fmt.Errorf("--real-node %s: an --apiserver-only cluster runs no nodes", name)
		case out[i].RealNode:
			return nil, fmt.Errorf("--real-node %s named twice", name)
		}
		out[i].RealNode = true
	}
	return out, nil
}

func newUpCommand(dir *string, streams genericiooptions.IOStreams) *cobra.Command {
	var flags clusterFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a lab in the background",
		Long: `Start a lab in the background and wait until its clusters are ready. The lab's
kubeconfig has a context per cluster, named after it; the env file in the
state directory exports KUBECONFIG and the addresses of lab services: the GKE
emulator (GKE_EMULATOR_HOST) and Cloud Storage (STORAGE_EMULATOR_HOST, whose
buckets geofed-lab bucket create makes).`,
		Example: `  # The joined cluster of manifests/topology.yaml
  geofed-lab up
  source .geofed-lab/env

  # Two clusters, one with 4 GPU nodes
  geofed-lab up --cluster serving-us@us-east1 --cluster serving-asia@asia-east1:4

  # A hub whose Pods run for real, and an image for it
  geofed-lab up --cluster hub@us-central1 --real-node hub
  geofed-lab image load hub dist/geofed-controller.tar`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := flags.specs(); err != nil {
				return err
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding this program to start the lab daemon: %w", err)
			}
			command := []string{exe, "run", "--dir", *dir}
			for _, c := range flags.clusters {
				command = append(command, "--cluster", c)
			}
			if flags.apiserverOnly {
				command = append(command, "--apiserver-only")
			}
			for _, n := range flags.realNodes {
				command = append(command, "--real-node", n)
			}
			return labd.Up(cmd.Context(), labd.UpOptions{Dir: *dir, Command: command, Out: streams.Out})
		},
	}
	flags.add(cmd)
	return cmd
}

func newRunCommand(dir *string, streams genericiooptions.IOStreams) *cobra.Command {
	var flags clusterFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a lab in the foreground until interrupted",
		Long:  `Run a lab in the foreground until interrupted; up runs this in the background.`,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			specs, err := flags.specs()
			if err != nil {
				return err
			}
			return labd.Run(cmd.Context(), labd.RunOptions{Dir: *dir, Clusters: specs, Out: streams.Out, Addons: []labd.Addon{gkeEmulator(streams.Out), storageEmulator()}})
		},
	}
	flags.add(cmd)
	return cmd
}

func newStatusCommand(dir *string, streams genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the lab's clusters and their health",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return labd.Status(cmd.Context(), labd.StatusOptions{Dir: *dir, Out: streams.Out})
		},
	}
}

func newDownCommand(dir *string, streams genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop the lab and remove its state directory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return labd.Down(cmd.Context(), labd.DownOptions{Dir: *dir, Out: streams.Out})
		},
	}
}

func newImageCommand(dir *string, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage the images of the lab's real nodes",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "load CLUSTER ARCHIVE",
		Short: "Import an image archive into a cluster's real node",
		Long: `Import an OCI image archive (or a docker save tarball) into the containerd of
the real node of CLUSTER (see up --real-node), under the name the archive
gives it: a Pod with imagePullPolicy Never (or IfNotPresent) runs it. Nothing
is pulled from a registry.`,
		Example: `  geofed-lab image load hub dist/geofed-controller.tar`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return labd.ImageLoad(cmd.Context(), labd.ImageLoadOptions{Dir: *dir, Cluster: args[0], Archive: args[1], Out: streams.Out})
		},
	})
	return cmd
}
