package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/apply"
	"github.com/geofed-io/kubectl-geofed/pkg/engine"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// memberTopology is one hub Topology that includes the cluster unjoin
// takes out, narrowed to that cluster for a destroy there.
type memberTopology struct {
	// Key is the Topology's namespace/name in the hub.
	Key string
	// Topology has that cluster alone, reached through the member's own
	// context, and no workloads; FS holds its document.
	Topology *topology.Topology
	FS       filesys.FileSystem
}

// memberTopologies are the Topologies in the hub's namespace that include
// the cluster, each narrowed to it: a destroy of one of them removes what
// it applied on that cluster and reaches no other member. They are read
// before anything is unjoined, so a hub that cannot be read changes
// nothing.
func memberTopologies(ctx context.Context, hub client.Client, namespace, cluster, context, kubeconfig string) ([]memberTopology, error) {
	var list v1alpha1.TopologyList
	if err := hub.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("listing the Topologies in namespace %s of the hub, to find what to delete on cluster %s: %w", namespace, cluster, err)
	}
	if kubeconfig != "" {
		abs, err := filepath.Abs(kubeconfig)
		if err != nil {
			return nil, err
		}
		kubeconfig = abs
	}
	var out []memberTopology
	for i := range list.Items {
		mt, ok, err := narrow(&list.Items[i], cluster, context, kubeconfig)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, mt)
		}
	}
	return out, nil
}

// narrow is the Topology with the cluster alone, reached through context
// in kubeconfig, and no workloads; ok is false when the Topology does not
// include the cluster.
func narrow(topo *v1alpha1.Topology, cluster, context, kubeconfig string) (mt memberTopology, ok bool, err error) {
	spec := topo.Spec.Spec
	var narrowed []topology.Region
	for _, r := range spec.Regions {
		for _, c := range r.Clusters {
			if c.Name == cluster {
				narrowed = []topology.Region{{Name: r.Name, Clusters: []topology.Cluster{{
					Name: c.Name, Labels: c.Labels, Kubeconfig: &topology.KubeconfigRef{Context: context, Path: kubeconfig},
				}}}}
			}
		}
	}
	if narrowed == nil {
		return memberTopology{}, false, nil
	}
	spec.Regions, spec.Workloads = narrowed, nil
	doc, err := yaml.Marshal(topology.Topology{
		APIVersion: topology.APIVersion, Kind: topology.Kind,
		Metadata: topology.ObjectMeta{Name: topo.Name}, Spec: spec,
	})
	if err != nil {
		return memberTopology{}, false, err
	}
	key := topo.Namespace + "/" + topo.Name
	path := "/topologies/" + topo.Namespace + "/" + topo.Name + ".yaml"
	fsys := filesys.MakeFsInMemory()
	if err := fsys.WriteFile(path, doc); err != nil {
		return memberTopology{}, false, err
	}
	// No workloads: no source directory is looked for.
	t, err := topology.Options{IsDir: func(string) bool { return true }}.Parse(path, doc)
	if err != nil {
		return memberTopology{}, false, fmt.Errorf("Topology %s in the hub: %w", key, err)
	}
	return memberTopology{Key: key, Topology: t, FS: fsys}, true, nil
}

// destroyOnMember removes what each topology applied on the cluster, as
// kubectl geofed destroy does and with its safety, prints what it did, and
// returns what is left and why, one line per topology.
func (o *UnjoinOptions) destroyOnMember(ctx context.Context, w io.Writer, topos []memberTopology) []string {
	if len(topos) == 0 {
		fmt.Fprintf(w, "\nNo Topology in namespace %s of hub %s includes cluster %s: no objects to delete.\n", o.HubNamespace, o.Hub, o.Name)
		return nil
	}
	var left []string
	for _, mt := range topos {
		fmt.Fprintf(w, "\nWhat Topology %s applied on cluster %s:\n", mt.Key, o.Name)
		lines, err := o.destroyOne(ctx, w, mt)
		if err != nil {
			lines = append(lines, err.Error())
		}
		for _, l := range lines {
			left = append(left, fmt.Sprintf("Topology %s: %s", mt.Key, l))
		}
	}
	return left
}

func (o *UnjoinOptions) destroyOne(ctx context.Context, w io.Writer, mt memberTopology) ([]string, error) {
	sess := engine.New(engine.Options{Member: member.Options{KubeconfigPath: kubeconfigFlag(o.ConfigFlags), UserAgent: userAgent()}})
	defer sess.Close()
	computed, err := sess.Plan(ctx, engine.PlanOptions{Fleet: engine.Fleet{Topology: mt.Topology, FS: mt.FS}, Mode: plan.ModeDestroy})
	if err != nil {
		return nil, fmt.Errorf("planning the destroy: %w", err)
	}
	p := computed.Plan
	for _, r := range p.Regions {
		for _, c := range r.Clusters {
			for _, obj := range c.Objects {
				line := fmt.Sprintf("  %s %s %s", obj.Action.Symbol(), obj.Kind, objectRef(obj.Namespace, obj.Name))
				if obj.Action != object.ActionDelete && obj.Reason != "" {
					line += " (" + obj.Reason + ")"
				}
				fmt.Fprintln(w, line)
			}
		}
	}
	res, err := sess.Destroy(ctx, computed, engine.ApplyOptions{
		Lock:     inventory.LockOptions{Wait: o.LockWait},
		Progress: o.ErrOut,
	})
	if err != nil {
		return nil, fmt.Errorf("destroying: %w", err)
	}
	fmt.Fprint(w, res.DestroySummary())
	return apply.Left(p, res), nil
}

func objectRef(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// leftMessage is unjoin's error when --delete-objects left something.
func leftMessage(cluster string, left []string) string {
	return fmt.Sprintf("objects geofed applied are still on cluster %s: %s; run unjoin --delete-objects again once that is resolved",
		cluster, strings.Join(left, "; "))
}
