package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

const kubeconfigExample = `  # A context for every GKE cluster of the topology, in the kubeconfig in use
  kubectl geofed kubeconfig -f topology.yaml
  kubectl --context training-us get nodes

  # One cluster (it also becomes the current context, as with gcloud)
  kubectl geofed kubeconfig -f topology.yaml --cluster training-us

  # A separate file holding only the topology's contexts
  kubectl geofed kubeconfig -f topology.yaml --merge=false --kubeconfig-out fleet.kubeconfig`

// DefaultKubeconfigTimeout bounds reading the clusters from GKE.
const DefaultKubeconfigTimeout = time.Minute

// KubeconfigOptions holds the flags of the kubeconfig command.
type KubeconfigOptions struct {
	Filename string
	// Cluster limits the command to one cluster; "" is every managed one.
	Cluster string
	// Merge adds the contexts to an existing kubeconfig; false writes a
	// fresh file at OutPath.
	Merge bool
	// OutPath is --kubeconfig-out: the file to write or merge into,
	// instead of the kubeconfig in use.
	OutPath string
	Timeout time.Duration
	// EmulatorHost is $GKE_EMULATOR_HOST.
	EmulatorHost string

	ConfigFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
}

// NewKubeconfigCommand writes kubeconfig contexts for the managed clusters.
func NewKubeconfigCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &KubeconfigOptions{ConfigFlags: flags, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "kubeconfig -f TOPOLOGY [--cluster C]",
		Short: "Write kubeconfig contexts for the topology's GKE clusters",
		Long: `Write a kubeconfig context for every GKE cluster the topology manages, named
after the cluster, as gcloud container clusters get-credentials writes it:
the cluster's endpoint and CA, and a user that runs gke-gcloud-auth-plugin
for its tokens (so the file holds no token). Under the lab's GKE emulator
(GKE_EMULATOR_HOST) the user is the client certificate the emulator issues.

The contexts are merged into the kubeconfig kubectl uses (--kubeconfig, else
the first file of $KUBECONFIG, else ~/.kube/config), replacing contexts of
the same names and leaving every other one alone; with --kubeconfig-out
they go to that file instead, and with --merge=false that file is replaced
by one holding only these contexts. Writing one context also makes it the
current context, as gcloud does.

Joined clusters are skipped: they already have contexts. A cluster that
does not exist yet, or is not RUNNING, is named with the reason, and the
command exits 1; the others are written.`,
		Example: kubeconfigExample,
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
	cmd.Flags().StringVar(&o.Cluster, "cluster", "", "Write only this cluster's context")
	cmd.Flags().BoolVar(&o.Merge, "merge", true, "Merge into an existing kubeconfig; --merge=false writes a fresh file at --kubeconfig-out")
	cmd.Flags().StringVar(&o.OutPath, "kubeconfig-out", "", "Kubeconfig file to write (default: the kubeconfig in use)")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", DefaultKubeconfigTimeout, "How long reading the clusters from GKE may take")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	_ = cmd.MarkFlagFilename("kubeconfig-out")
	_ = cmd.RegisterFlagCompletionFunc("cluster", func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		file, _ := cmd.Flags().GetString("filename")
		t, err := topology.Load(file)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, ref := range t.Clusters() {
			if ref.Cluster.Managed() {
				names = append(names, ref.Cluster.Name)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// Complete reads the environment.
func (o *KubeconfigOptions) Complete() { o.EmulatorHost = os.Getenv(gke.EmulatorHostEnv) }

// Validate checks the flags.
func (o *KubeconfigOptions) Validate() error {
	switch {
	case o.Filename == "":
		return errors.New("a topology file is required: -f topology.yaml")
	case !o.Merge && o.OutPath == "":
		return errors.New("--merge=false writes a fresh file: name it with --kubeconfig-out PATH")
	case o.Timeout <= 0:
		return fmt.Errorf("--timeout must be positive, not %s", o.Timeout)
	}
	return nil
}

// Run reads the clusters from GKE and writes their contexts.
func (o *KubeconfigOptions) Run(ctx context.Context) error {
	t, err := topology.Load(o.Filename)
	if err != nil {
		return err
	}
	refs := t.Clusters()
	if o.Cluster != "" {
		ref, ok := t.Cluster(o.Cluster)
		if !ok {
			return fmt.Errorf("cluster %q is not in %s", o.Cluster, o.Filename)
		}
		refs = []topology.ClusterRef{ref}
	}
	managed := 0
	for _, ref := range refs {
		if k := ref.Cluster.Kubeconfig; k != nil {
			fmt.Fprintf(o.ErrOut, "Cluster %s skipped: it is joined, through its own context %s.\n", ref.Cluster.Name, k.Context)
			continue
		}
		managed++
	}
	if managed == 0 {
		if o.Cluster == "" {
			fmt.Fprintf(o.ErrOut, "%s has no GKE clusters: no contexts to write.\n", o.Filename)
		}
		return nil
	}

	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	gopts := gke.ClientOptions{EmulatorHost: o.EmulatorHost}
	client, err := gke.NewClient(ctx, gopts)
	if err != nil {
		return err
	}
	defer client.Close()
	creds := gke.Credentials(ctx, client, t, refs, gopts)

	var ok, failed []gke.Credential
	for _, cr := range creds {
		if cr.Err != nil {
			failed = append(failed, cr)
			continue
		}
		ok = append(ok, cr)
	}
	files, err := o.write(ok)
	if err != nil {
		return err
	}
	for i, cr := range ok {
		fmt.Fprintf(o.Out, "Context %s written to %s\n", cr.Cluster, homeRelative(files[i]))
	}
	if len(ok) == 1 {
		fmt.Fprintf(o.Out, "Switched to context %q.\n", ok[0].Cluster)
	}
	for _, cr := range failed {
		fmt.Fprintf(o.ErrOut, "Context %s not written: %v\n", cr.Cluster, cr.Err)
	}
	if len(failed) > 0 {
		names := make([]string, len(failed))
		for i, cr := range failed {
			names[i] = cr.Cluster
		}
		return &ExitError{Code: 1, Err: fmt.Errorf("%d of %d GKE clusters have no context: %s", len(failed), len(creds), strings.Join(names, ", "))}
	}
	return nil
}

// write puts the credentials into the kubeconfig and returns the file each
// context went to. One context written becomes the current one.
func (o *KubeconfigOptions) write(creds []gke.Credential) ([]string, error) {
	if len(creds) == 0 {
		return nil, nil
	}
	explicit := o.OutPath
	if explicit == "" {
		explicit = kubeconfigFlag(o.ConfigFlags)
	}
	fresh := !o.Merge
	if explicit != "" && o.Merge {
		if _, err := os.Stat(explicit); errors.Is(err, os.ErrNotExist) {
			fresh = true
		}
	}
	if fresh {
		cfg := clientcmdapi.NewConfig()
		files := make([]string, len(creds))
		for i, cr := range creds {
			cr.AddTo(cfg)
			files[i] = explicit
		}
		if len(creds) == 1 {
			cfg.CurrentContext = creds[0].Cluster
		}
		if err := clientcmd.WriteToFile(*cfg, explicit); err != nil {
			return nil, fmt.Errorf("writing kubeconfig %s: %w", explicit, err)
		}
		return files, nil
	}

	// clientcmd's loading rules and ModifyConfig, as kubectl config
	// set-context uses them: entries that exist are rewritten in the file
	// they came from, new ones go to the first file kubectl reads, and the
	// file is locked while it is written.
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = explicit
	start, err := rules.GetStartingConfig()
	if err != nil {
		return nil, fmt.Errorf("reading kubeconfig: %w", err)
	}
	cfg := start.DeepCopy()
	files := make([]string, len(creds))
	for i, cr := range creds {
		if files[i] = cr.AddTo(cfg); files[i] == "" {
			files[i] = rules.GetDefaultFilename()
		}
	}
	if len(creds) == 1 {
		cfg.CurrentContext = creds[0].Cluster
	}
	if err := clientcmd.ModifyConfig(rules, *cfg, false); err != nil {
		return nil, fmt.Errorf("writing kubeconfig %s: %w", strings.Join(rules.GetLoadingPrecedence(), ", "), err)
	}
	return files, nil
}

// homeRelative prints a path under the home directory as ~/..., as people
// write it.
func homeRelative(path string) string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return path
	}
	if rel, err := filepath.Rel(home, path); err == nil && !strings.HasPrefix(rel, "..") && !filepath.IsAbs(rel) {
		return filepath.Join("~", rel)
	}
	return path
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
