package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Timeouts of a cluster's start. They are generous because the lab's machine
// is small and shared: an apiserver that serves in 5 s alone can take a
// minute while other labs start beside it.
const (
	apiserverTimeout = 3 * time.Minute
	nodesTimeout     = 2 * time.Minute
)

// ClusterSpec describes a lab cluster.
type ClusterSpec struct {
	// Name is a DNS-1123 label, unique in the lab. It names the cluster's
	// kubeconfig context and its etcd prefix.
	Name string
	// Nodes are the cluster's KWOK nodes.
	Nodes []NodeSpec
	// APIServerOnly runs the apiserver alone: no controller manager, no
	// scheduler, no KWOK, no nodes. Objects are stored and served, but
	// nothing acts on them (no Pods, no Namespace finalization), which is
	// what a benchmark of planning and applying needs from a cluster, at a
	// fraction of the memory and CPU, so that many fit on one machine.
	APIServerOnly bool
	// Lean trims an apiserver-only cluster's apiserver to what planning
	// and applying workloads need, so that 64 fit on one machine: only the
	// API groups of leanAPIGroups (the apiserver's own informers need some
	// that no test uses), a soft memory limit for its Go runtime, and none
	// of the periodic work that only a production cluster's monitoring
	// reads (etcd object counts and size, the watch cache's consistency
	// check against etcd, the apiserver identity Lease renewed every 10 s).
	// Measured with 3,000 objects stored: 120 MiB of private memory per
	// apiserver instead of 234 MiB (the binary's 110 MiB of text is shared
	// by them all). CRDs, Jobs, PodDisruptionBudgets and the other groups
	// are not served.
	Lean bool
	// RealNode adds one node run by a real kubelet and containerd, in a
	// network namespace of its own, beside the KWOK nodes: Pods that
	// select it (RealNodeLabel) run real containers from images imported
	// with ImportImage, and reach the lab's apiservers (realnode.go).
	RealNode bool
}

// Validate reports what AddCluster would refuse in spec.
func (spec ClusterSpec) Validate() error {
	if errs := validation.IsDNS1123Label(spec.Name); len(errs) > 0 {
		return fmt.Errorf("cluster name %q: %s", spec.Name, strings.Join(errs, "; "))
	}
	if err := validateNodes(spec.Nodes); err != nil {
		return fmt.Errorf("cluster %s: %w", spec.Name, err)
	}
	if spec.APIServerOnly && spec.RealNode {
		return fmt.Errorf("cluster %s: an apiserver-only cluster has no controllers or scheduler for a real node", spec.Name)
	}
	if spec.Lean && !spec.APIServerOnly {
		return fmt.Errorf("cluster %s: only an apiserver-only cluster can be lean: controllers need the API groups it leaves out", spec.Name)
	}
	if spec.APIServerOnly && len(spec.Nodes) > 0 {
		return fmt.Errorf("cluster %s: an apiserver-only cluster has no KWOK to run nodes; give it none", spec.Name)
	}
	return nil
}

// Cluster is a running lab cluster: a real apiserver with its controllers,
// and fake nodes. Its methods are safe for concurrent use.
type Cluster struct {
	// Name is the spec's name.
	Name string
	// Endpoint is the apiserver's URL, https://127.0.0.1:PORT; the port
	// stays the same across StopAPIServer and StartAPIServer.
	Endpoint string
	// CAData is the PEM CA bundle that verifies the apiserver.
	CAData []byte
	// ClientCertData and ClientKeyData are a PEM client certificate and
	// key of a cluster admin (group system:masters).
	ClientCertData, ClientKeyData []byte
	// KubeconfigPath is a kubeconfig for this cluster alone, with one
	// context named after the cluster.
	KubeconfigPath string
	// Dir holds the cluster's certificates, kubeconfig and process logs.
	Dir string

	lab  *Lab
	port int
	// version is the apiserver's version, which lab nodes report as their
	// kubelet's, as nodes of a real cluster at that version do.
	version string
	ready   bool // guarded by lab.mu: the cluster has started and not stopped
	// apiserverOnly: no controllers, scheduler or KWOK (ClusterSpec).
	apiserverOnly bool
	// lean: the apiserver trimmed (ClusterSpec.Lean); set before it starts.
	lean bool

	mu        sync.Mutex // guards the processes and stopped
	apiserver *process
	// controllerManager, scheduler and kwok are started once with the
	// cluster and run until it stops.
	controllerManager, scheduler, kwok *process
	stopped                            bool
	// realNode is the real kubelet's node, or nil (ClusterSpec.RealNode).
	realNode *realNode
	// egress carries the apiserver's connections to the real node's
	// kubelet and Pods; nil without a real node.
	egress *egressProxy

	nodesMu  sync.Mutex // serialises SetNodes
	outageMu sync.Mutex // serialises the outages: Stop/Start/Pause/ResumeAPIServer
}

// RESTConfig returns a new client configuration for the cluster's admin.
func (c *Cluster) RESTConfig() *rest.Config {
	return &rest.Config{
		Host: c.Endpoint,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   c.CAData,
			CertData: c.ClientCertData,
			KeyData:  c.ClientKeyData,
		},
	}
}

// client is the lab's own client of the cluster; the lab creates nodes in
// bursts, so it is not held to client-go's default rate limit.
func (c *Cluster) client() (kubernetes.Interface, error) {
	cfg := c.RESTConfig()
	cfg.QPS, cfg.Burst = 100, 200
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating client for cluster %s: %w", c.Name, err)
	}
	return cs, nil
}

func (c *Cluster) start(ctx context.Context, spec ClusterSpec) error {
	l := c.lab
	c.Dir = filepath.Join(l.workDir, "clusters", c.Name)
	// A cluster deleted and created again starts afresh, as in GKE.
	if err := os.RemoveAll(c.Dir); err != nil {
		return fmt.Errorf("clearing work directory: %w", err)
	}
	if err := l.etcd.deletePrefix(ctx, c.etcdPrefix()+"/"); err != nil {
		return err
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fmt.Errorf("creating work directory: %w", err)
	}
	pki, err := newClusterPKI(c.Name)
	if err != nil {
		return fmt.Errorf("creating certificates: %w", err)
	}
	c.CAData = pki.CA.CertPEM
	c.ClientCertData, c.ClientKeyData = pki.Admin.CertPEM, pki.Admin.KeyPEM
	c.KubeconfigPath = c.path("kubeconfig")
	files := map[string][]byte{
		"ca.crt":        pki.CA.CertPEM,
		"apiserver.crt": pki.Serving.CertPEM,
		"apiserver.key": pki.Serving.KeyPEM,
		"sa.key":        pki.SAKeyPEM,
		"sa.pub":        pki.SAPubPEM,
	}
	for name, data := range files {
		if err := os.WriteFile(c.path(name), data, 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}

	if spec.RealNode {
		p, err := startEgressProxy(c, c.path("egress.sock"))
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.egress = p
		c.mu.Unlock()
		if err := os.WriteFile(c.path("egress.yaml"), []byte(egressConfig(c.path("egress.sock"))), 0o600); err != nil {
			return fmt.Errorf("writing egress.yaml: %w", err)
		}
	}

	c.lean = spec.Lean
	start := time.Now()
	if err := c.startAPIServerOnFreePort(ctx); err != nil {
		return err
	}
	l.logf("cluster %s: kube-apiserver serving at %s (pid %d, %s)", c.Name, c.Endpoint, c.apiserver.pid(), since(start))
	cs, err := c.client()
	if err != nil {
		return err
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("reading the apiserver's version: %w", err)
	}
	c.version = v.GitVersion
	c.apiserverOnly = spec.APIServerOnly
	if spec.APIServerOnly {
		return nil
	}

	if err := c.startControllers(); err != nil {
		return err
	}
	if err := c.SetNodes(ctx, spec.Nodes); err != nil {
		return err
	}
	if err := c.waitForDefaultServiceAccount(ctx); err != nil {
		return err
	}
	if spec.RealNode {
		if err := c.startRealNode(ctx); err != nil {
			return err
		}
	}
	// A controller that died during the start would leave a cluster that
	// looks healthy and never runs a Pod.
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.others() {
		if done, err := p.exited(); done {
			return p.failure("exited during the cluster's start", err)
		}
	}
	return nil
}

func (c *Cluster) path(name string) string { return filepath.Join(c.Dir, name) }

func (c *Cluster) etcdPrefix() string { return "/" + c.Name }

// startAPIServerOnFreePort picks the cluster's port, retrying when another
// process takes it first, and writes the kubeconfig for it.
func (c *Cluster) startAPIServerOnFreePort(ctx context.Context) error {
	var err error
	for range portAttempts {
		if c.port, err = freePort(); err != nil {
			return err
		}
		c.Endpoint = "https://127.0.0.1:" + strconv.Itoa(c.port)
		if err := clientcmd.WriteToFile(*kubeconfig([]*Cluster{c}), c.KubeconfigPath); err != nil {
			return fmt.Errorf("writing kubeconfig: %w", err)
		}
		err = c.startAPIServer(ctx)
		if !errors.Is(err, errAddrInUse) {
			return err
		}
	}
	return err
}

// errStopped is returned by a start that raced with Stop.
var errStopped = errors.New("the cluster is stopped")

// startAPIServer starts the apiserver and waits for it to be ready. The lock
// is not held while it waits, so that Stop can end a start that hangs.
func (c *Cluster) startAPIServer(ctx context.Context) error {
	proc, err := c.launchAPIServer()
	if err != nil {
		return err
	}
	if err := waitFor(ctx, proc, apiserverTimeout, c.Health); err != nil {
		proc.stop(context.WithoutCancel(ctx))
		if logSaysAddrInUse(proc.logPath) {
			return errAddrInUse
		}
		return proc.failure("did not become ready", err)
	}
	return nil
}

func (c *Cluster) launchAPIServer() (*process, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil, errStopped
	}
	var extra []string
	if c.egress != nil {
		// The real node's kubelet and Pods are reachable only from
		// inside its network namespace: the egress proxy dials there.
		extra = []string{
			"--egress-selector-config-file=" + c.path("egress.yaml"),
			"--kubelet-preferred-address-types=InternalIP",
		}
	}
	var env []string
	if c.lean {
		extra = append(extra, leanAPIServerArgs()...)
		env = leanAPIServerEnv
	}
	proc, err := startProcess(processSpec{
		name: c.Name + "/kube-apiserver",
		env:  env,
		path: filepath.Join(c.lab.binDir, "kube-apiserver"),
		args: append([]string{
			"--etcd-servers=" + c.lab.etcd.url,
			"--etcd-prefix=" + c.etcdPrefix(),
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(c.port),
			"--cert-dir=" + c.Dir,
			"--tls-cert-file=" + c.path("apiserver.crt"),
			"--tls-private-key-file=" + c.path("apiserver.key"),
			"--client-ca-file=" + c.path("ca.crt"),
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + c.path("sa.pub"),
			"--service-account-signing-key-file=" + c.path("sa.key"),
			"--authorization-mode=RBAC",
			// The default reconciler refuses a loopback advertise
			// address, and there is no second apiserver to reconcile.
			"--endpoint-reconciler-type=none",
			"--service-cluster-ip-range=10.96.0.0/16",
			"--allow-privileged=true",
			// As GKE's apiservers do: pods that request an extended
			// resource (nvidia.com/gpu) tolerate the taint of the
			// same name that GKE's GPU nodes, and the emulator's, carry.
			"--enable-admission-plugins=ExtendedResourceToleration",
			// Flow control and profiling cost CPU that the small,
			// shared lab machine does not have to spare.
			"--enable-priority-and-fairness=false",
			"--profiling=false",
		}, extra...),
		dir:     c.Dir,
		logPath: c.path("kube-apiserver.log"),
		// After SIGTERM the apiserver stops listening at once but then
		// lingers for seconds; it holds no state of its own (etcd does),
		// so it need not be waited for.
		grace: time.Second,
	})
	if err != nil {
		return nil, err
	}
	c.apiserver = proc
	return proc, nil
}

// leanAPIGroups are the API group versions a lean apiserver serves: what
// geofed plans and applies in the benchmarks (core, apps), what
// authorization and the ApplySet tooling read (rbac, authentication,
// authorization), and the groups whose absence the apiserver refuses to
// start without (apiregistration) or retries listing forever from its own
// admission plugins and controllers (apiextensions, admissionregistration,
// networking for Service IPs, storage, scheduling, node, discovery,
// coordination).
var leanAPIGroups = []string{
	"api/v1", "apps/v1",
	"rbac.authorization.k8s.io/v1", "authentication.k8s.io/v1", "authorization.k8s.io/v1",
	"apiregistration.k8s.io/v1", "apiextensions.k8s.io/v1", "admissionregistration.k8s.io/v1",
	"networking.k8s.io/v1", "storage.k8s.io/v1", "scheduling.k8s.io/v1", "node.k8s.io/v1",
	"discovery.k8s.io/v1", "coordination.k8s.io/v1",
}

// leanAPIServerEnv holds a lean apiserver's Go heap near 128 MiB: with
// 3,000 objects stored its live heap is about 90 MB, so the collector runs
// more often than GOGC alone would have it but never without end.
var leanAPIServerEnv = []string{"GOMEMLIMIT=128MiB"}

func leanAPIServerArgs() []string {
	groups := []string{"api/all=false"}
	for _, g := range leanAPIGroups {
		groups = append(groups, g+"=true")
	}
	return []string{
		"--runtime-config=" + strings.Join(groups, ","),
		"--etcd-count-metric-poll-period=0",
		"--etcd-db-metric-poll-interval=0",
		// The identity Lease's PUT every 10 s would also be counted
		// among a benchmark's requests; the proxy to apiservers of
		// other versions depends on it and has none to reach.
		"--feature-gates=APIServerIdentity=false,UnknownVersionInteroperabilityProxy=false,DetectCacheInconsistency=false",
	}
}

// Health returns nil when the apiserver reports itself ready.
func (c *Cluster) Health(ctx context.Context) error {
	hc, err := rest.HTTPClientFor(c.RESTConfig())
	if err != nil {
		return fmt.Errorf("creating client for cluster %s: %w", c.Name, err)
	}
	defer hc.CloseIdleConnections()
	_, err = httpGet(ctx, hc, c.Endpoint+"/readyz")
	return err
}

func (c *Cluster) startControllers() error {
	bin := c.lab.binDir
	stages, err := filepath.Glob(filepath.Join(bin, "kwok-stages", "*.yaml"))
	if err != nil || len(stages) == 0 {
		return fmt.Errorf("no KWOK stage configs in %s: rebuild the lab binaries with `make lab-bin`", filepath.Join(bin, "kwok-stages"))
	}
	kwokArgs := []string{
		"--kubeconfig=" + c.KubeconfigPath,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + kwokAnnotation + "=fake",
		"--cidr=10.244.0.0/16",
		// The heartbeat stage renews node status only every 10-20 minutes
		// and counts on a Lease for the rest, but kwok (unlike kwokctl)
		// keeps no Lease unless given a duration. Without one the
		// controller manager marks the nodes unreachable after its grace
		// period (50 s), and their Pods not ready, which KWOK never undoes.
		"--node-lease-duration-seconds=40",
	}
	for _, s := range stages {
		kwokArgs = append(kwokArgs, "--config="+s)
	}
	specs := []struct {
		proc **process
		processSpec
	}{
		{&c.controllerManager, processSpec{
			name: c.Name + "/kube-controller-manager",
			path: filepath.Join(bin, "kube-controller-manager"),
			args: []string{
				"--kubeconfig=" + c.KubeconfigPath,
				"--secure-port=0",
				"--leader-elect=false",
				"--use-service-account-credentials=false",
				"--service-account-private-key-file=" + c.path("sa.key"),
				"--root-ca-file=" + c.path("ca.crt"),
				"--cluster-name=" + c.Name,
				"--profiling=false",
			},
			logPath: c.path("kube-controller-manager.log"),
		}},
		{&c.scheduler, processSpec{
			name: c.Name + "/kube-scheduler",
			path: filepath.Join(bin, "kube-scheduler"),
			args: []string{
				"--kubeconfig=" + c.KubeconfigPath,
				"--secure-port=0",
				"--leader-elect=false",
				"--profiling=false",
			},
			logPath: c.path("kube-scheduler.log"),
		}},
		{&c.kwok, processSpec{
			name: c.Name + "/kwok",
			path: filepath.Join(bin, "kwok"),
			args: kwokArgs,
			// kwok also reads ~/.kwok/kwok.yaml when it exists: a home
			// of its own keeps a user's KWOK setup out of the lab.
			env:     []string{"HOME=" + c.Dir},
			logPath: c.path("kwok.log"),
		}},
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return errStopped
	}
	for _, s := range specs {
		s.dir = c.Dir
		p, err := startProcess(s.processSpec)
		if err != nil {
			return err
		}
		*s.proc = p
	}
	return nil
}

// others returns the cluster's processes other than the apiserver that have
// been started. c.mu must be held.
func (c *Cluster) others() []*process {
	var out []*process
	for _, p := range []*process{c.controllerManager, c.scheduler, c.kwok} {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// waitForDefaultServiceAccount waits for the controller-manager to create
// the default ServiceAccount: until then the apiserver rejects Pods in the
// default namespace, and a ReplicaSet that hits that backs off for long.
func (c *Cluster) waitForDefaultServiceAccount(ctx context.Context) error {
	cs, err := c.client()
	if err != nil {
		return err
	}
	c.mu.Lock()
	cm := c.controllerManager
	c.mu.Unlock()
	return waitFor(ctx, cm, nodesTimeout, func(ctx context.Context) error {
		_, err := cs.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return errors.New("no default ServiceAccount yet")
		}
		return err
	})
}

// StopAPIServer stops the cluster's apiserver alone, as in a regional outage:
// clients get connection refused while the controllers and KWOK keep running
// and reconnect after StartAPIServer.
func (c *Cluster) StopAPIServer(ctx context.Context) error {
	c.outageMu.Lock()
	defer c.outageMu.Unlock()
	c.mu.Lock()
	proc, stopped := c.apiserver, c.stopped
	c.mu.Unlock()
	if stopped {
		return fmt.Errorf("stopping the apiserver of cluster %s: %w", c.Name, errStopped)
	}
	proc.stop(ctx)
	return nil
}

// StartAPIServer starts the apiserver again on the same port, with the same
// data, after StopAPIServer. It returns once the apiserver is ready; starting
// a running apiserver is a no-op.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	c.outageMu.Lock()
	defer c.outageMu.Unlock()
	c.mu.Lock()
	proc := c.apiserver
	c.mu.Unlock()
	if done, _ := proc.exited(); !done {
		return nil
	}
	start := time.Now()
	// The port is the cluster's identity for its clients, so it is kept; a
	// port taken meanwhile by another process is an error, not a new port.
	if err := c.startAPIServer(ctx); err != nil {
		return fmt.Errorf("restarting the apiserver of cluster %s on port %d: %w", c.Name, c.port, err)
	}
	c.lab.logf("cluster %s: kube-apiserver serving again (%s)", c.Name, since(start))
	return nil
}

// PauseAPIServer stops the apiserver process (SIGSTOP) without ending it, as
// a hung machine does: the kernel still accepts connections on its port, so
// clients are not refused but wait, for an answer that never comes, until
// their own deadline. The controllers and KWOK keep running and catch up
// after ResumeAPIServer. Stop and StopAPIServer end a paused apiserver too.
//
// Keep a pause shorter than the controller manager's node grace period
// (50 s): resumed after longer, it marks the nodes unreachable and their
// Pods not ready before KWOK's Lease renewal gets through, and KWOK, unlike
// a kubelet, never makes a running Pod ready again.
func (c *Cluster) PauseAPIServer() error {
	return c.signalAPIServer("pausing", syscall.SIGSTOP)
}

// ResumeAPIServer continues an apiserver paused by PauseAPIServer; resuming
// one that is not paused is a no-op.
func (c *Cluster) ResumeAPIServer() error {
	return c.signalAPIServer("resuming", syscall.SIGCONT)
}

func (c *Cluster) signalAPIServer(what string, sig syscall.Signal) error {
	c.outageMu.Lock()
	defer c.outageMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return fmt.Errorf("%s the apiserver of cluster %s: %w", what, c.Name, errStopped)
	}
	if err := c.apiserver.signal(sig); err != nil {
		return fmt.Errorf("%s the apiserver of cluster %s: %w", what, c.Name, err)
	}
	return nil
}

// Stop stops the cluster's processes and removes it from the lab, as GKE's
// DeleteCluster does; its name can then be used again, for an empty cluster.
func (c *Cluster) Stop(ctx context.Context) error {
	stopErr := c.stopProcesses(ctx)
	c.lab.forget(c)
	if stopErr != nil {
		return stopErr
	}
	// The data would otherwise sit in the shared etcd until the lab stops.
	if err := c.lab.etcd.deletePrefix(ctx, c.etcdPrefix()+"/"); err != nil {
		return fmt.Errorf("stopping cluster %s: %w", c.Name, err)
	}
	return nil
}

// stopProcesses stops KWOK and the controllers before the apiserver, so that
// none of them spins on an apiserver that is gone.
func (c *Cluster) stopProcesses(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	// The real node first: its kubelet needs the apiserver to go quietly.
	var err error
	if c.realNode != nil {
		err = c.realNode.stop(ctx)
	}
	var wg sync.WaitGroup
	for _, p := range c.others() {
		wg.Go(func() { p.stop(ctx) })
	}
	wg.Wait()
	if c.apiserver != nil {
		c.apiserver.stop(ctx)
	}
	if c.egress != nil {
		c.egress.close()
	}
	return err
}

// pids returns the process ids of the cluster's processes.
func (c *Cluster) pids() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	if c.apiserver != nil {
		out = append(out, c.apiserver.pid())
	}
	for _, p := range c.others() {
		out = append(out, p.pid())
	}
	if n := c.realNode; n != nil {
		for _, p := range []*process{n.containerd, n.kubelet} {
			if p != nil {
				out = append(out, p.pid())
			}
		}
	}
	return out
}
