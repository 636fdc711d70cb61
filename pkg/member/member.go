// Package member connects to the member clusters of a topology: it builds
// each cluster's rest.Config (from a kubeconfig context, or from the config
// pkg/gke made for a GKE cluster), checks that the cluster answers, runs
// discovery once per cluster per run, and reads what plan, apply and status
// need from it (server version, REST mapper, nodes and pods for capacity). Every request a
// connection makes is counted, so tests can hold geofed to a request budget.
package member

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/util/flowcontrol"

	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// Defaults for the zero Options. client-go's own 5 QPS / burst 10 would make
// a plan of a few hundred objects wait on the client, not the server. The
// burst lets a first apply of a few hundred objects go at the server's
// pace (kubectl's apply is not throttled at all); the rate then holds a
// big apply to 100 requests a second per cluster, which a GKE apiserver
// serves without its priority and fairness queueing anyone else's.
const (
	DefaultQPS     = 100
	DefaultBurst   = 500
	DefaultTimeout = 10 * time.Second
	// DefaultRequestTimeout bounds every single request after connecting:
	// a member whose apiserver hangs (connections accepted, never
	// answered) fails alone instead of holding plan or apply forever.
	DefaultRequestTimeout = 30 * time.Second
	// DefaultParallel is how many clusters are worked on at once: a
	// fleet of 16 in one go. Each costs a connection and its LISTs in
	// flight, a few MiB.
	DefaultParallel = 16
)

// ErrNotCreated is the Conn.Err of a managed cluster that does not exist yet
// (a Target with neither Kubeconfig nor Config): plan treats every object on
// it as new.
var ErrNotCreated = errors.New("cluster does not exist yet")

// Options tune how clusters are reached. The zero value is usable.
type Options struct {
	// KubeconfigPath is the user's --kubeconfig; "" means the usual kubectl
	// resolution ($KUBECONFIG, else ~/.kube/config). A target's own
	// kubeconfig path overrides it.
	KubeconfigPath string
	// TopologyDir is the directory relative kubeconfig paths of targets are
	// resolved against (the topology file's directory); "" is the working
	// directory.
	TopologyDir string
	// QPS and Burst bound the requests to each cluster, shared by every
	// client built from its Conn.Config. Zero means DefaultQPS and
	// DefaultBurst; a negative QPS turns client-side throttling off.
	QPS   float32
	Burst int
	// Timeout bounds connecting to one cluster: version and discovery.
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// RequestTimeout bounds every request to the cluster (rest.Config's
	// Timeout). Zero means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Parallel bounds how many clusters are connected at once. Zero means
	// DefaultParallel.
	Parallel int
	// UserAgent is sent with every request; "" keeps client-go's default.
	UserAgent string
}

// Target is one member cluster to connect to: exactly one of Kubeconfig (a
// joined cluster) or Config (a GKE cluster, built by pkg/gke); neither means
// the managed cluster does not exist yet.
type Target struct {
	Name   string
	Region string
	// Kubeconfig names the context; a relative Path is relative to
	// Options.TopologyDir.
	Kubeconfig *topology.KubeconfigRef
	// Config is copied, never modified.
	Config *rest.Config
	// Unreachable, when set, is why the cluster is known not to answer
	// without trying (the control plane's health probe found it dark, or
	// it has no credentials): Connect does not dial it, and it becomes
	// the Conn's Err as it is.
	Unreachable error
}

// Conn is a connection to one member cluster. When Err is set, Dynamic,
// Mapper and Version are unset, and Config is set only if the cluster's
// address was known.
type Conn struct {
	Name   string
	Region string
	// Context is the kubeconfig context, "" for a cluster reached by Config.
	Context string

	// Config is the cluster's rest.Config with geofed's throttling, user
	// agent and request counting applied: clients built from it (or from a
	// rest.CopyConfig of it) share the cluster's rate limit and are counted
	// in Requests.
	Config  *rest.Config
	Dynamic dynamic.Interface
	// Mapper resolves kinds from the discovery Connect made; it does not go
	// back to the server on a miss. Call Reset after creating CRDs, so the
	// next lookup runs discovery again.
	Mapper meta.ResettableRESTMapper
	// Discovery is the cached discovery the mapper reads from; Invalidate
	// it (or Reset the mapper) to see CRDs created since.
	Discovery discovery.CachedDiscoveryInterfaceWithContext
	// Version is the server's git version, e.g. "v1.37.2".
	Version string
	// Err says why the cluster cannot be used: unreachable, credentials
	// rejected, unknown kubeconfig context, or ErrNotCreated.
	Err error

	core     corev1client.CoreV1Interface
	requests atomic.Int64
}

// Requests is the number of HTTP requests sent to the cluster so far by every
// client built from Conn.Config, Connect's own included: the version check
// (1) and discovery (2 with aggregated discovery: /api and /apis). Nothing is
// excluded: retries, watches and failed requests each count once per attempt.
func (c *Conn) Requests() int64 { return c.requests.Load() }

// Connect connects to every target concurrently, at most opts.Parallel at a
// time, each within opts.Timeout. It never fails as a whole: a cluster that
// cannot be used has Conn.Err set, and the others are unaffected. The result
// is in targets order.
func Connect(ctx context.Context, targets []Target, opts Options) []*Conn {
	opts = opts.withDefaults()
	conns := make([]*Conn, len(targets))
	configs := make([]*rest.Config, len(targets))
	// Kubeconfigs are read and rest.Configs built up front, sequentially:
	// each file is read once however many targets use it, and the parsed
	// kubeconfig is never shared between goroutines.
	kubeconfigs := newKubeconfigLoader(opts.KubeconfigPath, opts.TopologyDir)
	for i, t := range targets {
		c := &Conn{Name: t.Name, Region: t.Region}
		conns[i] = c
		switch {
		case t.Unreachable != nil:
			c.Err = t.Unreachable
		case t.Kubeconfig != nil:
			c.Context = t.Kubeconfig.Context
			cfg, err := kubeconfigs.restConfig(t.Kubeconfig)
			if err != nil {
				c.Err = c.connectError("", err)
				continue
			}
			configs[i] = cfg
		case t.Config != nil:
			configs[i] = rest.CopyConfig(t.Config)
		default:
			c.Err = c.connectError("", ErrNotCreated)
		}
	}

	var g errgroup.Group
	g.SetLimit(opts.Parallel)
	for i, c := range conns {
		if c.Err != nil {
			continue
		}
		g.Go(func() error {
			c.connect(ctx, configs[i], opts)
			return nil
		})
	}
	_ = g.Wait() // the goroutines report through Conn.Err, never here
	return conns
}

func (o Options) withDefaults() Options {
	if o.QPS == 0 {
		o.QPS = DefaultQPS
	}
	if o.Burst == 0 {
		o.Burst = DefaultBurst
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	return o
}

// connect finishes c from cfg (a copy it may modify): clients, version and
// discovery; on failure it sets c.Err and leaves the clients unset.
func (c *Conn) connect(ctx context.Context, cfg *rest.Config, opts Options) {
	cfg.QPS, cfg.Burst = opts.QPS, opts.Burst
	cfg.RateLimiter = nil
	if opts.QPS > 0 {
		// One bucket for every client of this cluster, so QPS bounds the
		// cluster, not each client separately.
		cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(opts.QPS, opts.Burst)
	}
	if opts.UserAgent != "" {
		cfg.UserAgent = opts.UserAgent
	}
	cfg.WarningHandler = quietEndpoints{next: rest.WarningLogger{}}
	cfg.Timeout = opts.RequestTimeout
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return &countingTransport{next: rt, n: &c.requests}
	})
	c.Config = cfg

	cl, err := newClients(cfg)
	if err != nil {
		c.Err = c.connectError(cfg.Host, err)
		return
	}
	ctx, cancel := context.WithTimeoutCause(ctx, opts.Timeout, errTimeout{opts.Timeout})
	defer cancel()
	version, err := cl.discover(ctx)
	if err != nil {
		// Some paths (the client-side rate limiter) report the bare
		// deadline; the cause is what says how long we waited.
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w: %w", cause, err)
		}
		c.Err = c.connectError(cfg.Host, err)
		return
	}
	c.Dynamic, c.Mapper, c.Discovery, c.Version, c.core = cl.dynamic, cl.mapper, cl.disco, version, cl.core
}

// clients of one cluster, sharing one http.Client.
type clients struct {
	disco   discovery.CachedDiscoveryInterfaceWithContext
	mapper  meta.ResettableRESTMapper
	dynamic dynamic.Interface
	core    corev1client.CoreV1Interface
}

func newClients(cfg *rest.Config) (*clients, error) {
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	cl := &clients{disco: memory.NewMemCacheClientWithContext(dc)}
	cl.mapper = restmapper.NewDeferredDiscoveryRESTMapperWithContext(cl.disco)
	if cl.dynamic, err = dynamic.NewForConfigAndClient(cfg, httpClient); err != nil {
		return nil, err
	}
	// Node and pod lists can be large: protobuf is several times cheaper
	// for both ends than JSON.
	pb := rest.CopyConfig(cfg)
	pb.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	pb.ContentType = "application/vnd.kubernetes.protobuf"
	if cl.core, err = corev1client.NewForConfigAndClient(pb, httpClient); err != nil {
		return nil, err
	}
	return cl, nil
}

// discover returns the server's version and fills the discovery cache the
// mapper reads from.
func (cl *clients) discover(ctx context.Context) (string, error) {
	info, err := cl.disco.ServerVersionWithContext(ctx)
	if err != nil {
		return "", err
	}
	// A group whose aggregated API server is down (metrics-server, say)
	// leaves only that group unknown to the mapper; the cluster is usable.
	if _, _, err := cl.disco.ServerGroupsAndResourcesWithContext(ctx); err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return "", fmt.Errorf("discovering API resources: %w", err)
	}
	return info.GitVersion, nil
}

// quietEndpoints drops the server's deprecation warning for core v1
// Endpoints, which geofed lists only to tell what pruning a Namespace would
// take with it (the endpoints controller still writes them); every other
// warning — a deprecated API in the user's manifests, say — goes on.
type quietEndpoints struct{ next rest.WarningHandler }

func (q quietEndpoints) HandleWarningHeader(code int, agent, text string) {
	if strings.HasPrefix(text, "v1 Endpoints is deprecated") {
		return
	}
	q.next.HandleWarningHeader(code, agent, text)
}
