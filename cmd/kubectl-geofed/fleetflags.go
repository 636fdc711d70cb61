package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/geofed-io/kubectl-geofed/pkg/datasource"
	"github.com/geofed-io/kubectl-geofed/pkg/engine"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// fleetFlags are the flags the commands that read the fleet share: how to
// reach the members and how fast, and what plan may take over (--adopt).
type fleetFlags struct {
	Refresh        string
	Adopt          bool
	Parallel       int
	QPS            float32
	Burst          int
	ClusterTimeout time.Duration
	RequestTimeout time.Duration
	// EmulatorHost is $GKE_EMULATOR_HOST.
	EmulatorHost string
	// StorageEmulatorHost is $STORAGE_EMULATOR_HOST, where the location
	// of the buckets workloads name is read.
	StorageEmulatorHost string
}

// add registers the flags; parallelHelp says what runs in parallel.
func (f *fleetFlags) add(cmd *cobra.Command, parallelHelp string) {
	cmd.Flags().StringVar(&f.Refresh, "refresh", "inventory", "inventory: trust geofed's inventory for unchanged objects; full: dry-run every object")
	cmd.Flags().BoolVar(&f.Adopt, "adopt", false, "Take over objects that belong to another topology or ApplySet, instead of refusing them")
	cmd.Flags().IntVar(&f.Parallel, "parallel", member.DefaultParallel, parallelHelp)
	cmd.Flags().Float32Var(&f.QPS, "qps", member.DefaultQPS, "Requests per second to each cluster")
	cmd.Flags().IntVar(&f.Burst, "burst", member.DefaultBurst, "Request burst to each cluster")
	cmd.Flags().DurationVar(&f.ClusterTimeout, "cluster-timeout", member.DefaultTimeout, "How long to try reaching each cluster")
	cmd.Flags().DurationVar(&f.RequestTimeout, "request-timeout", member.DefaultRequestTimeout, "How long any single request to a member cluster may take")
	_ = cmd.RegisterFlagCompletionFunc("refresh", cobra.FixedCompletions([]string{"inventory", "full"}, cobra.ShellCompDirectiveNoFileComp))
}

// complete reads the environment.
func (f *fleetFlags) complete() {
	f.EmulatorHost = os.Getenv(gke.EmulatorHostEnv)
	f.StorageEmulatorHost = os.Getenv(datasource.EmulatorHostEnv)
}

func (f *fleetFlags) validate() error {
	switch f.Refresh {
	case "inventory", "full":
	default:
		return fmt.Errorf("--refresh must be inventory or full, not %q", f.Refresh)
	}
	if f.RequestTimeout <= 0 {
		return fmt.Errorf("--request-timeout must be positive, not %s", f.RequestTimeout)
	}
	if f.Parallel < 1 {
		return errors.New("--parallel must be at least 1")
	}
	return nil
}

// session is the engine session these flags describe, reaching members
// with the user's --kubeconfig. The caller closes it.
func (f *fleetFlags) session(kubeconfig string) *engine.Session {
	return engine.New(engine.Options{
		GKE:      gke.ClientOptions{EmulatorHost: f.EmulatorHost},
		Data:     datasource.Options{EmulatorHost: f.StorageEmulatorHost},
		Member:   f.memberOptions(kubeconfig),
		Parallel: f.Parallel,
	})
}

// memberOptions say how to reach members: with the user's --kubeconfig,
// at these flags' rates and timeouts.
func (f *fleetFlags) memberOptions(kubeconfig string) member.Options {
	return member.Options{
		KubeconfigPath: kubeconfig,
		QPS:            f.QPS,
		Burst:          f.Burst,
		Timeout:        f.ClusterTimeout,
		RequestTimeout: f.RequestTimeout,
		Parallel:       f.Parallel,
		UserAgent:      userAgent(),
	}
}

// planOptions is the plan of t these flags ask for.
func (f *fleetFlags) planOptions(t *topology.Topology) engine.PlanOptions {
	return engine.PlanOptions{Fleet: engine.Fleet{Topology: t}, FullRefresh: f.Refresh == "full", Adopt: f.Adopt}
}
