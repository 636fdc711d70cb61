package controller

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/geofed-io/kubectl-geofed/pkg/datasource"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
)

// LeaderElectionID names the hub Lease the controller's replicas elect a
// leader on; only the leader reconciles.
const LeaderElectionID = "geofed-controller"

// The leader election's defaults. A leader that dies without releasing
// its Lease (killed, its node gone) is replaced once the Lease has expired
// and a candidate's next try comes: at most DefaultLeaseDuration after its
// last renewal plus one jittered retry (up to 2.2 × DefaultRetryPeriod),
// about 12 s. controller-runtime's own (15 s, 10 s, 2 s) came to 15.7-18.4
// s, past the 15 s the lease promised.
const (
	DefaultLeaseDuration = 10 * time.Second
	DefaultRenewDeadline = 7 * time.Second
	DefaultRetryPeriod   = time.Second
)

// DefaultHubQPS and DefaultHubBurst bound the controller's requests to the
// hub when its configuration sets none.
const (
	DefaultHubQPS   = 50
	DefaultHubBurst = 100
)

// Config is how the controller runs: cmd/geofed-controller fills it from
// flags, tests from the lab.
type Config struct {
	// Hub is the hub cluster's client configuration.
	Hub *rest.Config
	// Namespace is the only hub namespace the controller reads and writes:
	// Topologies, their sources, member Secrets, its leader Lease, Events.
	Namespace string
	// LeaderElection turns leader election on (off only for tests and a
	// single replica run by hand).
	LeaderElection bool
	// LeaseDuration, RenewDeadline and RetryPeriod tune the election;
	// DefaultLeaseDuration, DefaultRenewDeadline, DefaultRetryPeriod when
	// zero.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// MetricsAddr and ProbeAddr are where /metrics and /healthz, /readyz
	// listen; "0" turns either off.
	MetricsAddr, ProbeAddr string
	Resync                 time.Duration
	ApplyTimeout           time.Duration
	LockTTL                time.Duration
	Parallel               int
	// SkipNameValidation lets several managers run in one process, as
	// tests do; a process runs one otherwise.
	SkipNameValidation bool
	// KeepConflicts: see Reconciler.KeepConflicts.
	KeepConflicts bool
	Member        member.Options
	// GKE and GKETimeout: see Reconciler.
	GKE        gke.ClientOptions
	GKETimeout time.Duration
	// Data: see Reconciler.
	Data datasource.Options
	// DriftDelay and CapacityDelay coalesce member events into reconciles
	// (DefaultDriftDelay, DefaultCapacityDelay when zero).
	DriftDelay, CapacityDelay time.Duration
	// ProbeInterval and ProbeTimeout run the members' health probe
	// (DefaultProbeInterval, DefaultProbeTimeout when zero).
	ProbeInterval, ProbeTimeout time.Duration
	// Holder names this replica in member Leases; inventory.DefaultHolder
	// with a "geofed-controller " prefix when empty.
	Holder string
}

// NewManager builds the manager with the Topology controller on it.
func NewManager(cfg Config) (ctrl.Manager, error) {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))

	opts := ctrl.Options{
		Scheme: scheme,
		// Only the controller's namespace is watched: a Role there is all
		// the RBAC the controller needs in the hub.
		// Of Secrets, only the member Secrets join writes: the pushed
		// sources are read by name, uncached.
		Cache: cache.Options{
			DefaultNamespaces: map[string]cache.Config{cfg.Namespace: {}},
			ByObject:          map[client.Object]cache.ByObject{&corev1.Secret{}: {Label: MemberSecretSelector()}},
		},
		Metrics:                       metricsserver.Options{BindAddress: cfg.MetricsAddr},
		HealthProbeBindAddress:        cfg.ProbeAddr,
		LeaderElection:                cfg.LeaderElection,
		LeaderElectionID:              LeaderElectionID,
		LeaderElectionNamespace:       cfg.Namespace,
		LeaderElectionReleaseOnCancel: true,
	}
	lease, renew, retry := DefaultLeaseDuration, DefaultRenewDeadline, DefaultRetryPeriod
	if cfg.LeaseDuration > 0 {
		lease = cfg.LeaseDuration
	}
	if cfg.RenewDeadline > 0 {
		renew = cfg.RenewDeadline
	}
	if cfg.RetryPeriod > 0 {
		retry = cfg.RetryPeriod
	}
	opts.LeaseDuration, opts.RenewDeadline, opts.RetryPeriod = &lease, &renew, &retry
	// client-go's default of 5 requests a second would make reconciles
	// that read several pushed sources wait on the client's limiter.
	hubCfg := rest.CopyConfig(cfg.Hub)
	if hubCfg.QPS == 0 {
		hubCfg.QPS, hubCfg.Burst = DefaultHubQPS, DefaultHubBurst
	}
	mgr, err := ctrl.NewManager(hubCfg, opts)
	if err != nil {
		return nil, fmt.Errorf("creating the controller manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	// Ready once the Topology informer has synced: a replica that cannot
	// read the hub is not ready.
	if err := mgr.AddReadyzCheck("readyz", func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return errors.New("the hub cache has not synced")
		}
		return nil
	}); err != nil {
		return nil, err
	}
	metrics, err := NewMetrics(crmetrics.Registry)
	if err != nil {
		return nil, err
	}
	holder := cfg.Holder
	if holder == "" {
		holder = "geofed-controller " + inventory.DefaultHolder()
	}
	watches := NewWatches()
	watches.DriftDelay, watches.CapacityDelay = cfg.DriftDelay, cfg.CapacityDelay
	watches.Triggered = func(topo types.NamespacedName, reason string) {
		metrics.Triggers.WithLabelValues(topo.Namespace, topo.Name, reason).Inc()
	}
	health := NewHealth()
	if cfg.ProbeInterval > 0 {
		health.Interval = cfg.ProbeInterval
	}
	if cfg.ProbeTimeout > 0 {
		health.Timeout = cfg.ProbeTimeout
	}
	health.Changed = func(topo types.NamespacedName) {
		watches.trigger(topo, "", TriggerHealth, 0)
	}
	hub, err := kubernetes.NewForConfig(hubCfg)
	if err != nil {
		return nil, err
	}
	r := &Reconciler{
		Hub:           hub,
		Watches:       watches,
		Health:        health,
		Secrets:       mgr.GetClient(),
		GKE:           cfg.GKE,
		GKETimeout:    cfg.GKETimeout,
		Data:          cfg.Data,
		Client:        mgr.GetClient(),
		Reader:        mgr.GetAPIReader(),
		Namespace:     cfg.Namespace,
		Recorder:      mgr.GetEventRecorder(FieldManager),
		Metrics:       metrics,
		Resync:        cfg.Resync,
		Member:        cfg.Member,
		LockTTL:       cfg.LockTTL,
		Holder:        holder,
		ApplyTimeout:  cfg.ApplyTimeout,
		Parallel:      cfg.Parallel,
		KeepConflicts: cfg.KeepConflicts,
	}
	if err := r.SetupWithManager(mgr, cfg.SkipNameValidation); err != nil {
		return nil, err
	}
	return mgr, nil
}
