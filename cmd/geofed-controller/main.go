// Command geofed-controller is the geofed control plane: it runs in a hub
// cluster and reconciles Topology objects (geofed.io/v1alpha1) with the
// engine `kubectl geofed plan` and `apply` use, continuously. See
// manifests/controller/ to install it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/geofed-io/kubectl-geofed/pkg/apply"
	"github.com/geofed-io/kubectl-geofed/pkg/controller"
	"github.com/geofed-io/kubectl-geofed/pkg/datasource"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
)

// version and commit are set at link time (-X main.version=...) by make and
// hack/image.
var version, commit = "dev", "unknown"

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "geofed-controller:", err)
		os.Exit(1)
	}
}

// options are the command line, parsed.
type options struct {
	kubeconfig, kubeContext string
	logFormat               string
	cfg                     controller.Config
}

func parse(args []string, errOut io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("geofed-controller", flag.ContinueOnError)
	fs.SetOutput(errOut)
	ns := os.Getenv("POD_NAMESPACE")
	if ns == "" {
		ns = v1alpha1.DefaultNamespace
	}
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "Kubeconfig of the hub cluster (default: in-cluster, else $KUBECONFIG)")
	fs.StringVar(&o.kubeContext, "context", "", "Kubeconfig context of the hub cluster")
	fs.StringVar(&o.cfg.Namespace, "namespace", ns, "Hub namespace of the Topologies, their sources, the member Secrets and the leader Lease ($POD_NAMESPACE when set)")
	fs.BoolVar(&o.cfg.LeaderElection, "leader-elect", true, "Elect a leader on a Lease, so that of several replicas only one reconciles")
	fs.DurationVar(&o.cfg.LeaseDuration, "leader-elect-lease-duration", controller.DefaultLeaseDuration, "How long a leader's Lease lasts without renewal: a leader that dies is replaced within this and one retry period")
	fs.DurationVar(&o.cfg.RenewDeadline, "leader-elect-renew-deadline", controller.DefaultRenewDeadline, "How long the leader retries renewing before it gives up leading")
	fs.DurationVar(&o.cfg.RetryPeriod, "leader-elect-retry-period", controller.DefaultRetryPeriod, "How often replicas try to become leader, and the leader renews")
	fs.StringVar(&o.cfg.MetricsAddr, "metrics-bind-address", ":8080", "Where Prometheus metrics are served; 0 turns them off")
	fs.StringVar(&o.cfg.ProbeAddr, "health-probe-bind-address", ":8081", "Where /healthz and /readyz are served; 0 turns them off")
	fs.DurationVar(&o.cfg.Resync, "resync", controller.DefaultResync, "How often every Topology is planned again when nothing changed")
	fs.DurationVar(&o.cfg.ApplyTimeout, "apply-timeout", controller.DefaultApplyTimeout, "How long to wait for one member's workloads to be ready")
	fs.DurationVar(&o.cfg.LockTTL, "lock-ttl", inventory.DefaultLockTTL, "TTL of the per-member apply Lease, shared with the CLI")
	fs.DurationVar(&o.cfg.DriftDelay, "drift-delay", controller.DefaultDriftDelay, "How long after a member event on an object geofed applied (an edit, a deletion) its Topology is reconciled; events meanwhile are coalesced")
	fs.DurationVar(&o.cfg.CapacityDelay, "capacity-delay", controller.DefaultCapacityDelay, "How long after a node or pod change a Topology that divides by capacity is planned again; changes meanwhile are coalesced")
	fs.DurationVar(&o.cfg.Member.Timeout, "member-timeout", member.DefaultTimeout, "How long connecting to a member may take (version and discovery) before it counts as unreachable")
	fs.DurationVar(&o.cfg.ProbeInterval, "member-probe-interval", controller.DefaultProbeInterval, "How often the leader probes each member's health (GET /readyz), excluded members too; a member that fails two probes in a row is dark: left out of reconciles, its failover clock running")
	fs.DurationVar(&o.cfg.ProbeTimeout, "member-probe-timeout", controller.DefaultProbeTimeout, "How long one health probe of a member may take")
	fs.DurationVar(&o.cfg.Member.RequestTimeout, "member-request-timeout", member.DefaultRequestTimeout, "How long any one request to a member may take")
	fs.StringVar(&o.cfg.GKE.EmulatorHost, "gke-emulator-host", os.Getenv(gke.EmulatorHostEnv), "host:port of a GKE emulator (default $GKE_EMULATOR_HOST); unset, GKE clusters are reached with the pod's Application Default Credentials")
	fs.StringVar(&o.cfg.Data.EmulatorHost, "storage-emulator-host", os.Getenv(datasource.EmulatorHostEnv), "host:port of a Cloud Storage emulator (default $STORAGE_EMULATOR_HOST); unset, the location of the buckets workloads name is read from Cloud Storage with the pod's Application Default Credentials")
	fs.DurationVar(&o.cfg.GKETimeout, "gke-timeout", apply.DefaultGKETimeout, "How long GKE may take to create or change one cluster")
	fs.IntVar(&o.cfg.Parallel, "parallel", member.DefaultParallel, "Members planned and applied at once")
	fs.BoolVar(&o.cfg.KeepConflicts, "keep-conflicts", false, "Leave fields that another field manager took from geofed (a kubectl edit) to it, failing those objects, instead of putting them back")
	fs.StringVar(&o.logFormat, "log-format", "json", "Log format: json or text")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.logFormat != "json" && o.logFormat != "text" {
		return nil, fmt.Errorf("--log-format must be json or text, not %q", o.logFormat)
	}
	if o.cfg.Resync <= 0 {
		return nil, errors.New("--resync must be positive")
	}
	o.cfg.Member.UserAgent = "geofed-controller"
	return o, nil
}

func run(args []string, errOut io.Writer) error {
	o, err := parse(args, errOut)
	if err != nil {
		return err
	}
	var h slog.Handler = slog.NewJSONHandler(errOut, nil)
	if o.logFormat == "text" {
		h = slog.NewTextHandler(errOut, nil)
	}
	logger := logr.FromSlogHandler(h)
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)

	// The kubeconfig given, else in-cluster, else the usual resolution.
	hub, err := member.ContextConfig(o.kubeconfig, o.kubeContext)
	if err != nil {
		return fmt.Errorf("hub cluster: %w", err)
	}
	o.cfg.Hub = hub
	mgr, err := controller.NewManager(o.cfg)
	if err != nil {
		return err
	}
	logger.Info("starting", "version", version, "commit", commit, "namespace", o.cfg.Namespace, "leaderElection", o.cfg.LeaderElection, "resync", o.cfg.Resync.String())
	return mgr.Start(ctrl.SetupSignalHandler())
}
