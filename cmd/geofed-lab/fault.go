package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/geofed-io/kubectl-geofed/internal/lab/faultproxy"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labd"
)

func newFaultCommand(dir *string, streams genericiooptions.IOStreams) *cobra.Command {
	var (
		resource, status string
		clear            bool
	)
	cmd := &cobra.Command{
		Use:   "fault CLUSTER (--resource RESOURCE.GROUP --status 500|429|timeout|forbidden | --clear)",
		Short: "Make reads of one resource on a lab cluster fail, or stop it",
		Long: `The lab's kubeconfig reaches each cluster the lab started through a proxy on
loopback. fault switches, while the lab runs, what that proxy answers to reads
(get, list, watch) of one resource: 500 Internal Server Error, 429 Too Many
Requests, 403 Forbidden, or nothing at all until the client gives up
(timeout). Writes and other resources are forwarded as ever. It shows what a
tool does when a read fails; geofed never takes a failed read for "nothing
there". --clear forwards everything again (only --resource's fault, when
given).`,
		Example: `  # Every LIST, GET and WATCH of Deployments on serving-us answers 500
  geofed-lab fault serving-us --resource deployments.apps --status 500

  # ConfigMap reads hang until the client's timeout
  geofed-lab fault serving-us --resource configmaps --status timeout

  # Back to normal
  geofed-lab fault serving-us --clear`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := labd.FaultOptions{Dir: *dir, Cluster: args[0], Out: streams.Out}
			switch {
			case clear && status != "":
				return errors.New("--clear and --status: give one")
			case clear:
				opts.Clear, opts.Resource = true, resource
			case resource == "" || status == "":
				return errors.New("give --resource and --status, or --clear")
			default:
				st, err := faultproxy.ParseStatus(status)
				if err != nil {
					return err
				}
				opts.Set = &faultproxy.Fault{Resource: resource, Status: st}
				if err := opts.Set.Validate(); err != nil {
					return err
				}
			}
			return labd.Fault(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&resource, "resource", "", "the resource whose reads fail, RESOURCE[.GROUP] as kubectl writes it: deployments.apps, configmaps")
	cmd.Flags().StringVar(&status, "status", "", fmt.Sprintf("what its reads answer: %v", faultproxy.Statuses))
	cmd.Flags().BoolVar(&clear, "clear", false, "forward every read again (only --resource's, when given)")
	return cmd
}
