package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/render"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

const renderExample = `  # Every cluster's manifests, as multi-document YAML
  kubectl geofed render -f topology.yaml

  # One cluster, as JSON
  kubectl geofed render -f topology.yaml --cluster serving-eu -o json

  # What if training-us had 8 spare GPUs and training-eu 2?
  kubectl geofed render -f topology.yaml --capacity training-us=8,training-eu=2`

// RenderOptions holds the flags of the render command.
type RenderOptions struct {
	Filename string
	Cluster  string
	Output   string
	// Capacity gives what-if spare capacity per cluster, for workloads that
	// divide by capacity.
	Capacity map[string]int64
	// EmulatorHost is $GKE_EMULATOR_HOST, for reading spare capacity.
	EmulatorHost string
	Timeout      time.Duration

	ConfigFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
}

// NewRenderCommand prints the manifests each cluster would receive.
func NewRenderCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RenderOptions{ConfigFlags: flags, IOStreams: streams}
	var capacity string
	cmd := &cobra.Command{
		Use:   "render -f TOPOLOGY [--cluster C]",
		Short: "Print the exact manifests each member cluster would receive",
		Long: `Render every workload of the topology for every cluster it is placed on: the
kustomize output of the chosen overlay plus placement (replica shares) and
geofed's ownership labels, exactly as apply would send it.

Like kustomize build, render works offline. Secret values are printed as
(sensitive).`,
		Example: renderExample,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(capacity); err != nil {
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
	cmd.Flags().StringVarP(&o.Output, "output", "o", "yaml", "Output format: yaml or json")
	cmd.Flags().StringVar(&capacity, "capacity", "", "What-if spare capacity for divideBy: capacity, as CLUSTER=N,... (default: read from the clusters)")
	cmd.Flags().DurationVar(&o.Timeout, "cluster-timeout", member.DefaultTimeout, "How long to try reaching each cluster when reading spare capacity")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	return cmd
}

// Complete parses --capacity and reads the environment.
func (o *RenderOptions) Complete(capacity string) error {
	o.EmulatorHost = os.Getenv(gke.EmulatorHostEnv)
	var err error
	o.Capacity, err = parseCapacity(capacity)
	return err
}

// Validate checks the flags.
func (o *RenderOptions) Validate() error {
	if o.Filename == "" {
		return errors.New("a topology file is required: -f topology.yaml")
	}
	switch o.Output {
	case "yaml", "json":
	default:
		return fmt.Errorf("--output must be yaml or json, not %q", o.Output)
	}
	return nil
}

// renderedCluster is the -o json form of one cluster.
type renderedCluster struct {
	Cluster string                   `json:"cluster"`
	Region  string                   `json:"region"`
	Objects []map[string]interface{} `json:"objects"`
}

// Run renders and prints.
func (o *RenderOptions) Run(ctx context.Context) error {
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
	clusters, unread, err := o.clusters(ctx, t)
	if err != nil {
		return err
	}
	for i := range clusters {
		if n, ok := o.Capacity[clusters[i].Name]; ok {
			clusters[i].Spare = spareForAll(t, n)
		}
	}
	desired, err := plan.ComputeDesired(plan.DesiredOptions{Topology: t, Clusters: clusters})
	if err != nil {
		var capErr *placement.CapacityUnknownError
		if errors.As(err, &capErr) {
			var why []string
			for _, c := range capErr.Clusters {
				if reason := unread[c]; reason != "" {
					why = append(why, c+": "+reason)
				}
			}
			msg := fmt.Sprintf("%v: give what-if figures with --capacity %s=N", err, strings.Join(capErr.Clusters, "=N,"))
			if len(why) > 0 {
				msg += "\n(could not read: " + strings.Join(why, "; ") + ")"
			}
			return errors.New(msg)
		}
		return err
	}

	var out []renderedCluster
	for _, dc := range desired.Clusters {
		if o.Cluster != "" && dc.Name != o.Cluster {
			continue
		}
		rc := renderedCluster{Cluster: dc.Name, Region: dc.Region, Objects: []map[string]interface{}{}}
		for _, obj := range dc.Objects {
			rc.Objects = append(rc.Objects, render.Redact(obj.Object).Object)
		}
		out = append(out, rc)
	}
	if o.Output == "json" {
		if out == nil {
			out = []renderedCluster{}
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(o.Out, "%s\n", b)
		return err
	}
	return writeYAML(o.Out, out)
}

func writeYAML(w interface{ Write([]byte) (int, error) }, clusters []renderedCluster) error {
	first := true
	for _, rc := range clusters {
		for i, obj := range rc.Objects {
			b, err := yaml.Marshal(obj)
			if err != nil {
				return fmt.Errorf("encoding %s for cluster %s: %w", render.Key(&unstructured.Unstructured{Object: obj}), rc.Cluster, err)
			}
			var header string
			if !first {
				header = "---\n"
			}
			if i == 0 {
				header += fmt.Sprintf("# cluster: %s (region %s)\n", rc.Cluster, rc.Region)
			}
			first = false
			if _, err := w.Write(append([]byte(header), b...)); err != nil {
				return err
			}
		}
		if len(rc.Objects) == 0 {
			header := ""
			if !first {
				header = "---\n"
			}
			first = false
			if _, err := fmt.Fprintf(w, "%s# cluster: %s (region %s): no objects\n", header, rc.Cluster, rc.Region); err != nil {
				return err
			}
		}
	}
	return nil
}

// clusters are the placement inputs: every cluster reachable, with spare
// capacity read from the clusters only when a workload divides by capacity
// and --capacity does not cover every cluster. Render never fails because a
// cluster is down; a capacity it could not read is reported by placement.
//
// unread says, per cluster, why its capacity could not be read.
func (o *RenderOptions) clusters(ctx context.Context, t *topology.Topology) (clusters []placement.Cluster, unread map[string]string, err error) {
	clusters = placement.ClustersOf(t)
	if !plan.NeedsCapacity(t) || len(o.Capacity) == len(clusters) {
		return clusters, nil, nil
	}
	opts, done, err := planOptions(ctx, t, planInputs{
		EmulatorHost: o.EmulatorHost,
		Kubeconfig:   kubeconfigFlag(o.ConfigFlags),
		Timeout:      o.Timeout,
	})
	if err != nil {
		return nil, nil, err
	}
	defer done()
	obs, err := plan.Observe(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	unread = map[string]string{}
	for i := range clusters {
		clusters[i].Spare = obs.Clusters[i].Spare
		if r := obs.Clusters[i].Unreachable; r != "" {
			unread[clusters[i].Name] = r
		}
	}
	return clusters, unread, nil
}

// spareForAll gives n as the spare capacity of every resource some workload
// divides by, so --capacity need not name the resource.
func spareForAll(t *topology.Topology, n int64) map[string]int64 {
	spare := map[string]int64{}
	for _, w := range t.Spec.Workloads {
		if r := w.Placement.Replicas; r != nil && r.DivideBy == topology.DivideByCapacity {
			res := r.Resource
			if res == "" {
				res = placement.DefaultResource
			}
			spare[res] = n
		}
	}
	return spare
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
