package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// clusterNames completes a flag naming clusters with the names in the
// topology file given with -f (as kubectl completes resource names from
// the cluster it talks to); managedOnly offers only GKE clusters. A
// comma-separated list completes its last element.
func clusterNames(managedOnly bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		file, _ := cmd.Flags().GetString("filename")
		if file == "" {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		t, err := topology.Load(file)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
		}
		prefix := ""
		if i := strings.LastIndex(toComplete, ","); i >= 0 {
			prefix = toComplete[:i+1]
		}
		var out []string
		for _, ref := range t.Clusters() {
			if managedOnly && !ref.Cluster.Managed() {
				continue
			}
			out = append(out, prefix+ref.Cluster.Name+"\t"+ref.Region)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
