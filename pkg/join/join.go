// Package join adds an existing cluster to a fleet by its kubeconfig
// context: to a topology file (its lines added under its region, checked by
// planning the new topology), to the control plane in a hub (a
// ServiceAccount with its token and least-privilege RBAC on the cluster,
// its kubeconfig on the hub), or to both — then the file is written last,
// once the hub holds the credentials, so every step before it can be
// repeated. The command line (kubectl geofed join) only reads flags into
// Options and prints the Result (view.go).
package join

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/geofed-io/kubectl-geofed/pkg/engine"
	"github.com/geofed-io/kubectl-geofed/pkg/hub/membership"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// Options say which cluster joins what, and how.
type Options struct {
	// Context is the kubeconfig context of the cluster to join.
	Context  string
	Filename string
	Region   string
	// Name is the cluster's name in the topology; NameFromContext says it
	// was derived from Context, for the hint when it clashes.
	Name            string
	NameFromContext bool
	Labels          map[string]string
	// DryRun changes nothing: the new file is returned, not written, and
	// the hub's objects are checked, not applied.
	DryRun bool
	// Offline neither connects to the cluster nor plans.
	Offline bool

	// Hub is the kubeconfig context of the control plane's cluster: join
	// also registers the cluster there (membership.Join).
	Hub          string
	HubNamespace string
	// Server is the cluster's address as the hub reaches it; "" is the
	// context's.
	Server       string
	Grants       []schema.GroupResource
	ClusterAdmin bool
	// RBAC computes what the cluster would be granted, and changes
	// nothing.
	RBAC bool
	// TokenTimeout bounds the wait for the token controller; zero is
	// membership.DefaultTokenTimeout.
	TokenTimeout time.Duration

	// Session plans the new topology, read as Plan says (its Topology is
	// set here). Member says how to reach the cluster when it is not
	// planned, and the hub (rate limits, timeouts, --kubeconfig).
	Session *engine.Session
	Plan    engine.PlanOptions
	Member  member.Options
	// Warnings hears what is granted all the same; Progress, the steps of
	// registering with the hub. nil discards.
	Warnings, Progress io.Writer
}

// Result is what a join did or, with DryRun, would do.
type Result struct {
	// Edit is the new topology file; nil when the file is not changed.
	Edit *topology.Edit
	// Plan is the new cluster's plan; nil when it was not planned
	// (Offline, RBAC, or a hub join without Region).
	Plan *plan.Plan
	// Grant is what the cluster's ServiceAccount is granted (Hub or RBAC).
	Grant Grant
	// Hub is what registering with the control plane changed; nil without
	// Hub.
	Hub *membership.JoinResult
}

// Validate checks the options; format is the -o the result is printed in
// ("" for text).
func (o Options) Validate(format string) error {
	if o.Context == "" {
		return errors.New("a kubeconfig context is required: join CONTEXT --region REGION -f topology.yaml")
	}
	if o.Hub != "" || o.RBAC {
		return o.validateMembership(format)
	}
	switch {
	case o.Server != "" || len(o.Grants) > 0 || o.ClusterAdmin:
		return errors.New("--server, --grant and --cluster-admin say how to register the cluster with a control plane: give --hub HUB too")
	case o.Filename == "":
		return errors.New("a topology file is required: -f topology.yaml")
	case o.Region == "":
		return errors.New("a region is required: --region REGION (a GCP region, such as us-east1)")
	case format != "" && format != "json" && format != "yaml":
		return fmt.Errorf("--output must be json or yaml, not %q", format)
	case format != "" && o.DryRun:
		return errors.New("--dry-run prints the new topology file; --output applies to the plan, which it does not print")
	case format != "" && o.Offline:
		return errors.New("--offline plans nothing, so there is nothing for --output to print")
	}
	return nil
}

// validateMembership checks the options of a join to a hub, or of RBAC.
func (o Options) validateMembership(format string) error {
	switch {
	case o.Region != "" && o.Filename == "":
		return errors.New("--region adds the cluster to a topology file: give -f topology.yaml too")
	case len(o.Labels) > 0 && o.Region == "":
		return errors.New("--label goes with --region and -f, which add the cluster to the file")
	case o.Offline && (o.Hub != "" || o.Filename != ""):
		return errors.New("--offline cannot go with --hub, nor with --rbac -f: both connect to the cluster")
	case o.ClusterAdmin && len(o.Grants) > 0:
		return errors.New("--cluster-admin grants everything: --grant has nothing to add")
	case o.RBAC && o.DryRun:
		return errors.New("--rbac changes nothing already: --dry-run has nothing to add")
	case (o.RBAC || o.DryRun) && format != "":
		return errors.New("--rbac and --dry-run print YAML manifests: --output does not apply")
	case o.Hub != "" && o.HubNamespace == "":
		return errors.New("--hub-namespace must not be empty")
	case format != "" && format != "json" && format != "yaml":
		return fmt.Errorf("--output must be json or yaml, not %q", format)
	}
	if errs := validation.IsDNS1123Label(o.Name); len(errs) > 0 {
		return fmt.Errorf("cluster name %q: %s; give another with --name", o.Name, strings.Join(errs, "; "))
	}
	if o.Server != "" {
		if u, err := url.Parse(o.Server); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("--server %q: want the apiserver's URL, https://HOST[:PORT]", o.Server)
		}
	}
	return nil
}

// ParseLabels parses repeated --label KEY=VALUE flags.
func ParseLabels(flags []string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--label %q: want KEY=VALUE", f)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("--label %s is given twice", k)
		}
		out[k] = v
	}
	return out, nil
}

// Run joins: to the hub (or, RBAC, computes the grant) when Hub or RBAC is
// set, else to the file alone.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Hub != "" || o.RBAC {
		return o.toHub(ctx)
	}
	return o.toFile(ctx)
}

// toFile edits the file, checks the cluster can be reached (by planning
// the new topology) and writes the file.
func (o Options) toFile(ctx context.Context) (*Result, error) {
	ed, err := o.edit()
	if err != nil {
		return nil, err
	}
	res := &Result{Edit: ed}
	// Planning the new topology is the reachability check: the connection
	// plan makes to the new cluster says whether it answers, and plan also
	// refuses a context that reaches a cluster the file already has.
	if !o.Offline {
		planned, err := o.plan(ctx, ed.Topology)
		if err != nil {
			return nil, err
		}
		res.Plan = planned.Plan.Only(o.Name)
	}
	if o.DryRun {
		return res, nil
	}
	if err := topology.WriteFile(o.Filename, ed.Data); err != nil {
		return nil, err
	}
	return res, nil
}

// toHub registers the cluster with the hub (or, RBAC, computes what it
// would be granted). With Region the file is written last, once the hub
// holds the credentials: every step before it can be repeated.
func (o Options) toHub(ctx context.Context) (*Result, error) {
	var (
		t       *topology.Topology
		res     = &Result{}
		planned *plan.Result
		conn    *member.Conn
		err     error
	)
	switch {
	case o.Region != "":
		if res.Edit, err = o.edit(); err != nil {
			return nil, err
		}
		t = res.Edit.Topology
		if !o.RBAC {
			// The plan's connection is the reachability check, and
			// the one used from here on.
			if planned, err = o.plan(ctx, t); err != nil {
				return nil, err
			}
			conn = planned.Observation.Conn(o.Name)
			res.Plan = planned.Plan.Only(o.Name)
		}
	case o.Filename != "":
		if t, err = o.joinedTopology(); err != nil {
			return nil, err
		}
	}
	if conn == nil && (t != nil || !o.RBAC) {
		if conn, err = o.connect(ctx, t); err != nil {
			return nil, err
		}
	}
	if res.Grant, err = o.grant(ctx, t, planned, conn); err != nil {
		return nil, err
	}
	if o.RBAC {
		return res, nil
	}

	mc, err := kubernetes.NewForConfig(conn.Config)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", o.Name, err)
	}
	hcfg, err := member.ContextConfig(o.Member.KubeconfigPath, o.Hub)
	if err != nil {
		return nil, fmt.Errorf("hub %s: %w", o.Hub, err)
	}
	hcfg.Timeout = o.Member.RequestTimeout
	hcfg.QPS, hcfg.Burst = o.Member.QPS, o.Member.Burst
	hc, err := kubernetes.NewForConfig(hcfg)
	if err != nil {
		return nil, fmt.Errorf("hub %s: %w", o.Hub, err)
	}
	endpoint, err := o.endpoint(conn.Config)
	if err != nil {
		return nil, err
	}
	res.Hub, err = membership.Join(ctx, membership.JoinOptions{
		Cluster: o.Name, Member: mc, Hub: hc, HubName: o.Hub, HubNamespace: o.HubNamespace,
		Access: res.Grant.Access, Endpoint: endpoint, TokenTimeout: o.TokenTimeout, DryRun: o.DryRun, Progress: o.Progress,
	})
	if err != nil {
		if res.Edit != nil {
			return nil, fmt.Errorf("%w; %s was not written", err, o.Filename)
		}
		return nil, err
	}
	if o.DryRun || res.Edit == nil {
		return res, nil
	}
	if err := topology.WriteFile(o.Filename, res.Edit.Data); err != nil {
		return nil, fmt.Errorf("%w; cluster %s is registered with hub %s, but not in the file: run the same join again to add it", err, o.Name, o.Hub)
	}
	return res, nil
}

// edit adds the cluster to the file's text; nothing is written.
func (o Options) edit() (*topology.Edit, error) {
	data, err := os.ReadFile(o.Filename)
	if err != nil {
		return nil, fmt.Errorf("reading topology: %w", err)
	}
	ed, err := topology.Options{}.AddJoinedCluster(o.Filename, data, topology.JoinedCluster{
		Region: o.Region, Name: o.Name, Labels: o.Labels, Context: o.Context,
	})
	if err != nil {
		var dup *topology.DuplicateNameError
		if errors.As(err, &dup) && o.NameFromContext {
			return nil, fmt.Errorf("%w; the name comes from the context: give another with --name", err)
		}
		return nil, err
	}
	return ed, nil
}

// plan computes the plan of the new topology and refuses a cluster it
// could not connect to. Nothing has been written yet.
func (o Options) plan(ctx context.Context, t *topology.Topology) (*plan.Result, error) {
	opts := o.Plan
	opts.Topology = t
	res, err := o.Session.Plan(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("planning %s with cluster %s joined: %w; nothing was written", o.Filename, o.Name, err)
	}
	if conn := res.Observation.Conn(o.Name); conn == nil || conn.Err != nil {
		why := "it was not connected to"
		if conn != nil {
			why = conn.Err.Error()
		}
		return nil, fmt.Errorf("context %q cannot be reached: %s; nothing was written (--offline joins it anyway)", o.Context, why)
	}
	return res, nil
}

// joinedTopology loads the file for the kinds it renders for a cluster it
// already has, reached by the same context.
func (o Options) joinedTopology() (*topology.Topology, error) {
	t, err := topology.Load(o.Filename)
	if err != nil {
		return nil, err
	}
	ref, ok := t.Cluster(o.Name)
	switch {
	case !ok:
		return nil, fmt.Errorf("cluster %s is not in %s: add it with --region REGION, or leave out -f to grant the default kinds", o.Name, o.Filename)
	case ref.Cluster.Kubeconfig == nil:
		return nil, fmt.Errorf("cluster %s in %s is a GKE cluster geofed manages: the control plane reaches it through GKE, not with a joined cluster's credentials", o.Name, o.Filename)
	case ref.Cluster.Kubeconfig.Context != o.Context:
		return nil, fmt.Errorf("cluster %s in %s is reached by context %q, not %q", o.Name, o.Filename, ref.Cluster.Kubeconfig.Context, o.Context)
	}
	return t, nil
}

// connect reaches the cluster by its context, through the topology's
// kubeconfig path for it when the file gives one.
func (o Options) connect(ctx context.Context, t *topology.Topology) (*member.Conn, error) {
	target := member.Target{Name: o.Name, Kubeconfig: &topology.KubeconfigRef{Context: o.Context}}
	opts := o.Member
	if t != nil {
		if ref, ok := t.Cluster(o.Name); ok && ref.Cluster.Kubeconfig != nil {
			target.Kubeconfig, target.Region, opts.TopologyDir = ref.Cluster.Kubeconfig, ref.Region, t.Dir()
		}
	}
	conn := member.Connect(ctx, []member.Target{target}, opts)[0]
	if conn.Err != nil {
		return nil, fmt.Errorf("context %q cannot be reached: %w; nothing was changed", o.Context, conn.Err)
	}
	return conn, nil
}

// endpoint is where the hub reaches the cluster: Server, or the context's
// server with its CA and TLS server name.
func (o Options) endpoint(cfg *rest.Config) (membership.Endpoint, error) {
	cfg = rest.CopyConfig(cfg)
	if err := rest.LoadTLSFiles(cfg); err != nil {
		return membership.Endpoint{}, fmt.Errorf("context %q: %w", o.Context, err)
	}
	if o.Server != "" {
		return membership.Endpoint{Server: o.Server, CAData: cfg.CAData}, nil
	}
	return membership.Endpoint{Server: cfg.Host, CAData: cfg.CAData, TLSServerName: cfg.ServerName}, nil
}
