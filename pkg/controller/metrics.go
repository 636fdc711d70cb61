package controller

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the controller's Prometheus series, served on the manager's
// metrics endpoint beside controller-runtime's own.
type Metrics struct {
	Reconciles    *prometheus.CounterVec
	PlanDuration  *prometheus.HistogramVec
	ApplyDuration *prometheus.HistogramVec
	OutOfSync     *prometheus.GaugeVec
	Unreachable   *prometheus.GaugeVec
	Excluded      *prometheus.GaugeVec
	Triggers      *prometheus.CounterVec
}

// NewMetrics makes the series and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	buckets := []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}
	m := &Metrics{
		Reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "geofed_reconciles_total", Help: "Reconciles of a Topology, by result (synced, drifted, degraded, waiting, invalid, error, paused).",
		}, []string{"namespace", "topology", "result"}),
		PlanDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "geofed_plan_duration_seconds", Help: "How long computing a Topology's plan took.", Buckets: buckets,
		}, []string{"namespace", "topology"}),
		ApplyDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "geofed_apply_duration_seconds", Help: "How long applying a Topology's plan took, readiness included.", Buckets: buckets,
		}, []string{"namespace", "topology"}),
		OutOfSync: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "geofed_objects_out_of_sync", Help: "Objects the last plan found to create, change or delete, per member cluster.",
		}, []string{"namespace", "topology", "cluster"}),
		Unreachable: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "geofed_members_unreachable", Help: "Member clusters the last reconcile could not reach.",
		}, []string{"namespace", "topology"}),
		Excluded: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "geofed_members_excluded", Help: "Member clusters failover keeps out of placement.",
		}, []string{"namespace", "topology"}),
		Triggers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "geofed_reconcile_triggers_total", Help: "Reconciles member watches and health probes asked for, by reason: drift (an object geofed applied changed or went), capacity (a node or pod changed what fits) or health (a member went dark or came back).",
		}, []string{"namespace", "topology", "reason"}),
	}
	var err error
	m.Reconciles, err = register(reg, m.Reconciles)
	if err == nil {
		m.PlanDuration, err = register(reg, m.PlanDuration)
	}
	if err == nil {
		m.ApplyDuration, err = register(reg, m.ApplyDuration)
	}
	if err == nil {
		m.OutOfSync, err = register(reg, m.OutOfSync)
	}
	if err == nil {
		m.Unreachable, err = register(reg, m.Unreachable)
	}
	if err == nil {
		m.Excluded, err = register(reg, m.Excluded)
	}
	if err == nil {
		m.Triggers, err = register(reg, m.Triggers)
	}
	return m, err
}

// register registers c, or returns the collector registered before under
// the same name: two managers in one process (two replicas in a test)
// count into the same series, as two processes' would be summed.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var dup prometheus.AlreadyRegisteredError
	if errors.As(err, &dup) {
		if existing, ok := dup.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}
