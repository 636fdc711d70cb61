package bundle

import (
	"fmt"
	"os"
	"slices"

	"github.com/geofed-io/kubectl-geofed/pkg/desired"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// Check renders every workload for every cluster twice, from the disk and
// from the bundle, and fails unless both give the same objects: a
// kustomization that reads a file the bundle lacks (one outside its source
// directory) is found at push time, not by the controller. Capacity is
// not read: every cluster is taken to fit any number of replicas, which
// is enough to compare rendering. data is where the buckets the workloads
// name are, as package datasource reads them for plan: placement near a
// bucket needs its location, and a workload naming one that data lacks
// fails the check as it would fail the controller's plan.
func Check(t *topology.Topology, b *Bundle, data map[string]placement.Data) error {
	doc, err := os.ReadFile(t.Path)
	if err != nil {
		return fmt.Errorf("reading topology: %w", err)
	}
	const root = "/bundle"
	fsys, err := b.FS(root)
	if err != nil {
		return err
	}
	inBundle, err := topology.Options{IsDir: fsys.IsDir}.Parse(b.TopologyPath(root), doc)
	if err != nil {
		return fmt.Errorf("the topology does not load from the bundle of its sources: %w", err)
	}
	whatIf := map[string]int64{}
	for _, ref := range t.Clusters() {
		whatIf[ref.Cluster.Name] = 1 << 30
	}
	fromDisk, err := desired.Compute(desired.Options{Topology: t, WhatIf: whatIf, Data: data})
	if err != nil {
		return err
	}
	fromBundle, err := desired.Compute(desired.Options{Topology: inBundle, FS: fsys, WhatIf: whatIf, Data: data})
	if err != nil {
		return fmt.Errorf("rendering from the bundle of sources (does a kustomization read files outside its workload's source directory?): %w", err)
	}
	for i, dc := range fromDisk.Clusters {
		want, got := hashes(dc), hashes(fromBundle.Clusters[i])
		if !slices.Equal(want, got) {
			return fmt.Errorf("cluster %s: the bundle of sources renders other objects than the disk does (does a kustomization read files outside its workload's source directory?)", dc.Name)
		}
	}
	return nil
}

func hashes(c desired.Cluster) []string {
	out := make([]string, len(c.Objects))
	for i, o := range c.Objects {
		out[i] = o.Workload + "/" + o.Hash
	}
	return out
}
