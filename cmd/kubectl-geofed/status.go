package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/geofed-io/kubectl-geofed/pkg/engine"
	"github.com/geofed-io/kubectl-geofed/pkg/htmlview"
	"github.com/geofed-io/kubectl-geofed/pkg/status"
	"github.com/geofed-io/kubectl-geofed/pkg/status/view"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

const statusExample = `  # How every cluster and workload is doing, per region
  kubectl geofed status -f topology.yaml

  # Keep watching: a new block whenever something changes (Ctrl-C stops)
  kubectl geofed status -f topology.yaml --watch --interval 10s

  # Count drift exactly, with a server-side dry-run of every object
  kubectl geofed status -f topology.yaml --refresh=full

  # In CI: exit 0 only when every cluster is reachable and every workload ready
  kubectl geofed status -f topology.yaml -o json

  # One self-contained page: the regions on a world map, every cluster's health
  kubectl geofed status -f topology.yaml -o html > status.html

  # What the control plane reports of every Topology in its namespace
  kubectl geofed status --hub hub

  # In CI: exit 0 only when Topology web is reconciled, Ready, Synced and not Degraded
  kubectl geofed status --hub hub --topology web -o json`

// DefaultStatusInterval is how often status --watch reads the fleet again.
const DefaultStatusInterval = 5 * time.Second

// StatusOptions holds the flags of the status command.
type StatusOptions struct {
	Filename string
	printFlags
	Watch    bool
	Interval time.Duration
	// Hub, when set, reads what the control plane in the hub reports of
	// its Topologies instead of the fleet (status_hub.go).
	Hub          string
	HubNamespace string
	Topology     string
	fleetFlags

	ConfigFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams
}

// NewStatusCommand reports, per region and cluster, how the fleet is doing.
func NewStatusCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &StatusOptions{ConfigFlags: flags, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "status -f TOPOLOGY | --hub CONTEXT",
		Short: "Show, per region and cluster, whether everything is reachable and ready",
		Long: `Report, per region and member cluster: whether it can be reached (and why
not), its server version and endpoint, managed or joined, GKE's status for
managed clusters, nodes Ready of total, GPUs and other extended resources
allocatable and requested, how many objects geofed applied were changed
outside geofed since (drift), and for every workload placed there whether it
is ready — judged as apply's wait judges it, naming what is not ready and why,
down to the scheduler's reason for Pending pods — with its replicas desired by
placement and ready.

Status only reads: a few requests per cluster, LISTs of geofed's objects,
nodes and pods, and no dry-run. Drift is counted from geofed's inventory (an
object whose applied-hash or whose geofed field ownership moved since geofed
applied it); --refresh=full dry-runs every object instead, as plan
--refresh=full does, to count it exactly.

With --watch, status reads the fleet again every --interval and prints a new
block when something changed, until interrupted; the topology file is read
once.

Exit codes: 0 when every cluster is reachable and every workload ready, 1
otherwise (drift alone does not fail it). Interrupting --watch exits as the
last block would have.

With --hub CONTEXT instead of -f, status reads nothing from the members: it
shows what the control plane in that hub cluster last reported of each
Topology in --hub-namespace (or of --topology NAME alone): mode and pause,
the Ready, Synced and Degraded conditions, when it last planned and
applied, every member by region (reachable or since when not, excluded by
failover and until when, objects in sync, drifted and failed, applied and
pruned, ready) and the replicas placed on each. A status older than the
spec (the controller has not reconciled the last push) is said so. -o json
and -o yaml print a versioned document (apiVersion geofed.io/hubstatus/v1;
fields are only ever added). --request-timeout bounds each request to the
hub; --watch reads it again every --interval and prints when it changed.

Exit codes with --hub: 0 when every Topology shown is reconciled at its
generation, Ready, Synced and not Degraded; 2 when one is not (the error
says which and why); 1 when the status could not be read: the hub
unreachable, no such Topology, or the control plane not installed (no
Topology resource). Interrupting --watch exits as the last block would have.`,
		Example: statusExample,
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
	o.printFlags.add(cmd, "", "Output format: json, yaml, or html for a page with a world map (default: human-readable text)", "json", "yaml", "html")
	cmd.Flags().BoolVarP(&o.Watch, "watch", "w", false, "Keep reading the fleet and print a new block whenever something changes, until interrupted")
	cmd.Flags().DurationVar(&o.Interval, "interval", DefaultStatusInterval, "With --watch, how often to read the fleet again")
	o.fleetFlags.add(cmd, "Clusters read at once")
	cmd.Flags().StringVar(&o.Hub, "hub", "", "Kubeconfig context of a hub cluster: show what its control plane reports instead of reading the members")
	cmd.Flags().StringVar(&o.HubNamespace, "hub-namespace", defaultHubNamespace, "With --hub, the namespace of the control plane and its Topologies")
	cmd.Flags().StringVar(&o.Topology, "topology", "", "With --hub, show this Topology only (default: every Topology in --hub-namespace)")
	// Shared with plan and apply, where it means something; status takes
	// nothing over.
	_ = cmd.Flags().MarkHidden("adopt")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	return cmd
}

// Complete reads the environment.
func (o *StatusOptions) Complete() {
	o.fleetFlags.complete()
	o.printFlags.complete(o.IOStreams.Out)
}

// Validate checks the flags.
func (o *StatusOptions) Validate() error {
	if o.Hub != "" || o.Topology != "" {
		return o.validateHub()
	}
	if o.Filename == "" {
		return errors.New("a topology file is required: -f topology.yaml (or --hub CONTEXT for what a control plane reports)")
	}
	if err := o.printFlags.validate("", "json", "yaml", "html"); err != nil {
		return err
	}
	if o.Watch && o.Output == "html" {
		return errors.New("--watch prints a block whenever something changes; -o html writes one page: use one or the other")
	}
	if o.Watch && o.Interval < time.Second {
		return fmt.Errorf("--interval must be at least 1s, not %s: every round reads every cluster", o.Interval)
	}
	if o.Adopt {
		return errors.New("--adopt does not apply to status, which changes nothing")
	}
	return o.fleetFlags.validate()
}

// Run reads the fleet, prints it, and maps it to an exit code; with
// --watch, again every interval until ctx ends.
func (o *StatusOptions) Run(ctx context.Context) error {
	if o.Hub != "" {
		return o.runHub(ctx)
	}
	t, err := topology.Load(o.Filename)
	if err != nil {
		return err
	}
	sess := o.fleetFlags.session(kubeconfigFlag(o.ConfigFlags))
	defer sess.Close()
	opts := engine.StatusOptions{Fleet: engine.Fleet{Topology: t}, FullRefresh: o.Refresh == "full"}
	if o.Watch {
		return o.watch(ctx, sess, opts)
	}
	s, err := sess.Status(ctx, opts)
	if err != nil {
		return err
	}
	if err := o.print(s, false); err != nil {
		return err
	}
	return exitFor(s)
}

// watch prints a block, then reads the fleet every interval and prints a
// new block whenever what it shows changed, like kubectl get --watch. It
// sleeps between rounds; the round itself is a handful of requests per
// cluster. When ctx ends it exits as the last block says.
func (o *StatusOptions) watch(ctx context.Context, sess *engine.Session, opts engine.StatusOptions) error {
	return watchLoop(ctx, o.Interval,
		func(ctx context.Context) (*status.Status, error) { return sess.Status(ctx, opts) },
		changeKey, o.print, exitFor)
}

// watchLoop is --watch for the fleet and for a hub: read, print when the
// change key moved (next is false for the first block), sleep interval,
// until ctx ends; then exit as the last block read says.
func watchLoop[S any](ctx context.Context, interval time.Duration, read func(context.Context) (S, error),
	key func(S) (string, error), print func(s S, next bool) error, exit func(S) error) error {
	var (
		last  S
		read1 bool
		shown string
	)
	for {
		s, err := read(ctx)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			return err
		}
		k, err := key(s)
		if err != nil {
			return err
		}
		if k != shown {
			if err := print(s, read1); err != nil {
				return err
			}
			shown = k
		}
		last, read1 = s, true
		if !sleep(ctx, interval) {
			break
		}
	}
	if !read1 {
		return ctx.Err()
	}
	return exit(last)
}

// sleep waits d, or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// changeKey is what --watch compares rounds by: everything the status
// says, except when it was read and what reading it cost.
func changeKey(s *status.Status) (string, error) {
	c := *s
	c.ObservedAt = time.Time{}
	c.Regions = make([]status.Region, len(s.Regions))
	for i, r := range s.Regions {
		c.Regions[i] = r
		c.Regions[i].Clusters = make([]status.Cluster, len(r.Clusters))
		for j, cl := range r.Clusters {
			cl.Requests = 0
			c.Regions[i].Clusters[j] = cl
		}
	}
	b, err := json.Marshal(&c)
	return string(b), err
}

// print writes one block; next says a block was printed before it.
func (o *StatusOptions) print(s *status.Status, next bool) error {
	var buf bytes.Buffer
	var err error
	switch o.Output {
	case "json":
		err = view.JSON(&buf, s)
	case "yaml":
		if next {
			buf.WriteString("---\n")
		}
		err = view.YAML(&buf, s)
	case "html":
		err = htmlview.Status(&buf, s)
	default:
		if next {
			buf.WriteString("\n")
		}
		err = view.Text(&buf, s, view.TextOptions{Color: o.Color, Stamp: o.Watch})
	}
	if err != nil {
		return err
	}
	_, err = o.Out.Write(buf.Bytes())
	return err
}

// exitFor is nil when everything is reachable and ready, else exit 1 with
// what is not.
func exitFor(s *status.Status) error {
	if s.OK() {
		return nil
	}
	m := s.Summary
	var parts []string
	if m.Unreachable > 0 {
		parts = append(parts, fmt.Sprintf("%d cluster(s) unreachable", m.Unreachable))
	}
	if m.Excluded > 0 {
		parts = append(parts, fmt.Sprintf("%d cluster(s) excluded from placement", m.Excluded))
	}
	if m.WorkloadsNotReady > 0 {
		parts = append(parts, fmt.Sprintf("%d workload(s) not ready", m.WorkloadsNotReady))
	}
	if m.Errors > 0 {
		parts = append(parts, fmt.Sprintf("%d error(s)", m.Errors))
	}
	return &ExitError{Code: 1, Err: fmt.Errorf("not everything is reachable and ready: %s", strings.Join(parts, ", "))}
}
