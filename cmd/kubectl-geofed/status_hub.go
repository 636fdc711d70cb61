package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	hubstatus "github.com/geofed-io/kubectl-geofed/pkg/hub/status"
)

// validateHub checks the flags of status --hub.
func (o *StatusOptions) validateHub() error {
	if o.Hub == "" {
		return errors.New("--topology names a Topology in a hub: it needs --hub CONTEXT")
	}
	if o.Filename != "" {
		return errors.New("-f reads the fleet from the members, --hub what the control plane reports: use one or the other")
	}
	if o.HubNamespace == "" {
		return errors.New("--hub-namespace must not be empty")
	}
	if err := o.printFlags.validate("", "json", "yaml"); err != nil {
		return fmt.Errorf("with --hub, %w", err)
	}
	if o.Watch && o.Interval < time.Second {
		return fmt.Errorf("--interval must be at least 1s, not %s", o.Interval)
	}
	if o.Refresh == "full" {
		return errors.New("--refresh=full dry-runs against the members; --hub shows the control plane's last plan: use one or the other")
	}
	if o.Adopt {
		return errors.New("--adopt does not apply to status, which changes nothing")
	}
	return o.fleetFlags.validate()
}

// runHub reads the hub's Topologies, prints them, and maps them to an exit
// code; with --watch, again every interval until ctx ends.
func (o *StatusOptions) runHub(ctx context.Context) error {
	cfg, err := hubConfig(o.ConfigFlags, o.Hub)
	if err != nil {
		return err
	}
	cfg.Timeout = o.RequestTimeout
	c, err := newHubClient(cfg)
	if err != nil {
		return err
	}
	if o.Watch {
		return o.watchHub(ctx, c)
	}
	s, err := o.readHub(ctx, c)
	if err != nil {
		return err
	}
	if err := o.printHub(s, false); err != nil {
		return err
	}
	return hubExitFor(s)
}

// watchHub prints a block, then reads the hub every interval and prints a
// new block whenever what it shows changed, as watch does for the fleet.
func (o *StatusOptions) watchHub(ctx context.Context, c client.Reader) error {
	return watchLoop(ctx, o.Interval,
		func(ctx context.Context) (*hubstatus.Status, error) { return o.readHub(ctx, c) },
		hubChangeKey, o.printHub, hubExitFor)
}

// hubChangeKey is what --watch compares rounds by: everything the status
// says but when it was read (the ages the text prints move with it).
func hubChangeKey(s *hubstatus.Status) (string, error) {
	c := *s
	c.ObservedAt = time.Time{}
	b, err := json.Marshal(&c)
	return string(b), err
}

// readHub reads the Topology named by --topology, or every Topology in
// the namespace; a status that cannot be read says what to do about it.
func (o *StatusOptions) readHub(ctx context.Context, c client.Reader) (*hubstatus.Status, error) {
	var topos []v1alpha1.Topology
	if o.Topology != "" {
		var t v1alpha1.Topology
		err := c.Get(ctx, client.ObjectKey{Namespace: o.HubNamespace, Name: o.Topology}, &t)
		if apierrors.IsNotFound(err) && !meta.IsNoMatchError(err) {
			return nil, o.noSuchTopology(ctx, c)
		}
		if err != nil {
			return nil, o.hubError(err)
		}
		topos = []v1alpha1.Topology{t}
	} else {
		var list v1alpha1.TopologyList
		if err := c.List(ctx, &list, client.InNamespace(o.HubNamespace)); err != nil {
			return nil, o.hubError(err)
		}
		if len(list.Items) == 0 {
			return nil, fmt.Errorf("no Topology in namespace %s of hub %s: kubectl geofed push -f topology.yaml --hub %s creates one (or is the control plane in another --hub-namespace?)",
				o.HubNamespace, o.Hub, o.Hub)
		}
		topos = list.Items
	}
	return hubstatus.Build(o.Hub, o.HubNamespace, time.Now(), topos), nil
}

// noSuchTopology names the Topology not found and those that are there.
func (o *StatusOptions) noSuchTopology(ctx context.Context, c client.Reader) error {
	msg := fmt.Sprintf("no Topology %q in namespace %s of hub %s", o.Topology, o.HubNamespace, o.Hub)
	var list v1alpha1.TopologyList
	if err := c.List(ctx, &list, client.InNamespace(o.HubNamespace)); err == nil {
		var names []string
		for _, t := range list.Items {
			names = append(names, t.Name)
		}
		if len(names) > 0 {
			msg += " (there: " + strings.Join(names, ", ") + ")"
		}
	}
	return fmt.Errorf("%s: kubectl geofed push -f topology.yaml --hub %s creates it from a file whose metadata.name is %s", msg, o.Hub, o.Topology)
}

// hubError says what reading the hub failed on; a hub without the
// Topology resource has no control plane installed.
func (o *StatusOptions) hubError(err error) error {
	if meta.IsNoMatchError(err) {
		return fmt.Errorf("hub %s has no Topology resource (topologies.%s): the control plane is not installed there; install it with kubectl apply -k manifests/controller --context %s (from the kubectl-geofed repository), then push a topology",
			o.Hub, v1alpha1.GroupVersion.Group, o.Hub)
	}
	return fmt.Errorf("reading Topologies in namespace %s of hub %s: %w", o.HubNamespace, o.Hub, err)
}

// printHub writes one block; next says a block was printed before it.
func (o *StatusOptions) printHub(s *hubstatus.Status, next bool) error {
	var buf bytes.Buffer
	var err error
	switch o.Output {
	case "json":
		err = hubstatus.JSON(&buf, s)
	case "yaml":
		if next {
			buf.WriteString("---\n")
		}
		err = hubstatus.YAML(&buf, s)
	default:
		if next {
			buf.WriteString("\n")
		}
		err = hubstatus.Text(&buf, s, hubstatus.TextOptions{Color: o.Color, Stamp: o.Watch})
	}
	if err != nil {
		return err
	}
	_, err = o.Out.Write(buf.Bytes())
	return err
}

// hubExitFor is the exit code of status --hub, from each Topology's
// verdict (hubstatus): nil (0) when every one is reconciled at its
// generation, Ready, Synced and not Degraded, else exit 2 with what is not.
// A status that could not be read at all fails before, exit 1, as every
// error does.
func hubExitFor(s *hubstatus.Status) error {
	if s.OK() {
		return nil
	}
	var parts []string
	for _, t := range s.Topologies {
		if !t.OK {
			parts = append(parts, fmt.Sprintf("topology %s is not ready and synced: %s", t.Name, strings.Join(t.Problems, ", ")))
		}
	}
	return &ExitError{Code: 2, Err: errors.New(strings.Join(parts, "; "))}
}
