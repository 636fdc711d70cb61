package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
)

// The addresses of a real node's network namespace. Every real node has a
// namespace of its own, so they are the same on every node and can be
// written into every lab apiserver's serving certificate up front.
const (
	// KubernetesServiceIP is the ClusterIP of default/kubernetes, the first
	// address of the lab's service range: what the kubelet puts in a Pod's
	// KUBERNETES_SERVICE_HOST. In a real node's namespace it is a local
	// address whose port 443 forwards to the cluster's own apiserver.
	KubernetesServiceIP = "10.96.0.1"
	// LabHostIP is where a Pod on a real node reaches every lab apiserver:
	// https://LabHostIP:PORT forwards to https://127.0.0.1:PORT, the
	// apiserver's own port. It is also the node's InternalIP.
	LabHostIP = "10.87.0.1"
	// realNodePodCIDR holds the real node's Pod addresses (bridge CNI).
	realNodePodCIDR = "10.88.0.0/24"
	// PauseImage is the sandbox image of real nodes, built by the lab from
	// its static pause program and imported at the node's start: nothing
	// is ever pulled.
	PauseImage = "geofed.local/lab/pause:v1"
	// RealNodeLabel marks a cluster's real node: a Pod that must run real
	// containers selects it (the cluster's other nodes are KWOK's).
	RealNodeLabel = "lab.geofed.io/real-node"
	// containerdNamespace is the containerd namespace the CRI plugin uses.
	containerdNamespace = "k8s.io"
	// nodeRun is where a real node's containerd socket and kubelet root
	// live, inside the node's own mount namespace (a tmpfs over /run that
	// only its processes see): unix socket paths are limited to 108 bytes,
	// and the kubelet's sockets under a lab directory deep in a test's
	// temporary directory or a user's checkout would not fit.
	nodeRun = "/run/geofed-lab"
	// nodeSocket is containerd's socket, in the node's mount namespace.
	nodeSocket = nodeRun + "/containerd.sock"
)

// realNodeTimeout bounds a real node's start: containerd, the image import,
// the kubelet's registration and its first Ready status.
const realNodeTimeout = 3 * time.Minute

// realNodeTools are the host programs a real node runs or uses, found on
// PATH; hack/real-node.sh installs them.
var realNodeTools = []string{"containerd", "containerd-shim-runc-v2", "runc", "ctr", "nsenter", "unshare", "ip", "mount"}

// cniDirs are where distributions put the CNI plugins.
var cniDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// realNode is a node of a lab cluster run by a real kubelet and containerd,
// in a network namespace of its own.
type realNode struct {
	name   string // the Node's name
	dir    string
	cgroup string // the cgroup (v1, every hierarchy) its processes and Pods run under

	containerd, kubelet *process
	netns               *os.File

	mu         sync.Mutex
	forwarders map[string]*forwarder // by listening address
}

// RealNodeCgroup is the cgroup the cluster's real node runs in (its
// containerd, shims, containers and kubelet), or "" when it has none.
func (c *Cluster) RealNodeCgroup() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.realNode == nil {
		return ""
	}
	return c.realNode.cgroup
}

// RemoveRealNodeLeftovers kills whatever still runs in a real node's cgroup
// (see RealNodeCgroup) and removes the cgroup, for the owner of a lab that
// died without stopping it: its containers and containerd's shims outlive
// it. A cgroup that is gone already is no error.
func RemoveRealNodeLeftovers(ctx context.Context, cgroup string) error {
	if !strings.HasPrefix(cgroup, cgroupPrefix) || strings.ContainsAny(cgroup, "/.") {
		return fmt.Errorf("%q is not a lab real node's cgroup", cgroup)
	}
	if err := killCgroup(ctx, cgroup); err != nil {
		return err
	}
	return removeCgroup(cgroup)
}

// cgroupPrefix starts the name of every real node's cgroup.
const cgroupPrefix = "geofed-lab-"

// RealNodeName is the name of cluster's real node.
func RealNodeName(cluster string) string { return cluster + "-real" }

// RealNodeMountNS is the mount namespace of the cluster's real node, where
// its containerd's socket is (/proc/PID/ns/mnt, for ImportImage), or ""
// when it has none.
func (c *Cluster) RealNodeMountNS() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.realNode == nil || c.realNode.containerd == nil {
		return ""
	}
	return c.realNode.mntnsPath()
}

// PodEndpoint is the URL at which a Pod on a lab real node reaches this
// cluster's apiserver; its serving certificate holds the address.
func (c *Cluster) PodEndpoint() string {
	return "https://" + LabHostIP + ":" + strconv.Itoa(c.port)
}

func (c *Cluster) startRealNode(ctx context.Context) (err error) {
	start := time.Now()
	bin := c.lab.binDir
	for _, name := range []string{"kubelet", "pause"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			return fmt.Errorf("real node: %w (rebuild the lab binaries with `make lab-bin`)", err)
		}
	}
	var missing []string
	for _, t := range realNodeTools {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	cniDir := ""
	for _, d := range cniDirs {
		if _, err := os.Stat(filepath.Join(d, "bridge")); err == nil {
			cniDir = d
			break
		}
	}
	if cniDir == "" {
		missing = append(missing, "the CNI plugins (bridge, host-local, loopback in "+strings.Join(cniDirs, " or ")+")")
	}
	if len(missing) > 0 {
		return fmt.Errorf("real node: missing %s: run hack/real-node.sh (make test does) or apt-get install containerd runc containernetworking-plugins", strings.Join(missing, ", "))
	}
	if os.Geteuid() != 0 {
		return errors.New("real node: containers, network namespaces and cgroups need root")
	}

	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	n := &realNode{
		name:       RealNodeName(c.Name),
		dir:        c.path("node"),
		cgroup:     cgroupPrefix + c.Name + "-" + hex.EncodeToString(suffix),
		forwarders: map[string]*forwarder{},
	}
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return errStopped
	}
	c.realNode = n
	c.mu.Unlock()

	for _, d := range []string{"containerd/root", "containerd/state", "cni", "cni-ipam", "pod-logs", "opt"} {
		if err := os.MkdirAll(filepath.Join(n.dir, d), 0o755); err != nil {
			return fmt.Errorf("real node: %w", err)
		}
	}
	if err := makeCgroup(n.cgroup); err != nil {
		return fmt.Errorf("real node: %w", err)
	}
	if err := n.writeConfigs(c, cniDir); err != nil {
		return fmt.Errorf("real node: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, realNodeTimeout)
	defer cancel()
	if err := n.startContainerd(ctx, c.Name); err != nil {
		return err
	}
	if err := n.setupNetwork(ctx); err != nil {
		return err
	}
	if err := n.importPause(ctx, bin); err != nil {
		return err
	}
	// The kubelet reaches its apiserver through the forwarders too.
	c.lab.syncForwarders(c)
	if err := n.startKubelet(c); err != nil {
		return err
	}
	if err := c.waitForRealNode(ctx, n); err != nil {
		return err
	}
	if err := c.checkRealNode(ctx, n); err != nil {
		return err
	}
	c.lab.logf("cluster %s: real node %s Ready (kubelet pid %d, %s)", c.Name, n.name, n.kubelet.pid(), since(start))
	return nil
}

// makeCgroup creates the cgroup in every cgroup v1 hierarchy: the kubelet's
// cgroupRoot must exist, and the pids hierarchy's copy finds every process
// of the node (containerd, its shims, the containers) at its stop.
func makeCgroup(name string) error {
	ctrls, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	for _, ctrl := range ctrls {
		dir := filepath.Join(ctrl, name)
		if err := os.MkdirAll(filepath.Join(dir, "runtime"), 0o755); err != nil {
			return fmt.Errorf("creating cgroup %s: %w", dir, err)
		}
		// A new cpuset has no CPUs and no memory nodes until given its
		// parent's; no process can join it before.
		if filepath.Base(ctrl) == "cpuset" {
			for _, dir := range []string{dir, filepath.Join(dir, "runtime")} {
				for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
					v, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
					if err != nil {
						return fmt.Errorf("reading cgroup %s: %w", f, err)
					}
					if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
						return fmt.Errorf("setting cgroup %s/%s: %w", dir, f, err)
					}
				}
			}
		}
	}
	return nil
}

// unifiedHierarchy is where a hybrid host mounts cgroup v2.
const unifiedHierarchy = "/sys/fs/cgroup/unified"

// cgroupHierarchies are the mounted cgroup v1 hierarchies.
func cgroupHierarchies() ([]string, error) {
	entries, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return nil, fmt.Errorf("reading cgroups: %w", err)
	}
	var out []string
	for _, e := range entries {
		dir := filepath.Join("/sys/fs/cgroup", e.Name())
		// A v1 hierarchy has "tasks"; the v2 one ("unified") does not.
		if _, err := os.Stat(filepath.Join(dir, "tasks")); err == nil && dir != unifiedHierarchy {
			out = append(out, dir)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no cgroup v1 hierarchy under /sys/fs/cgroup: the lab's real nodes are made for cgroup v1 hosts")
	}
	return out, nil
}

func (n *realNode) pidsProcs() string {
	return filepath.Join("/sys/fs/cgroup/pids", n.cgroup, "runtime", "cgroup.procs")
}

func (n *realNode) path(name string) string { return filepath.Join(n.dir, name) }

func (n *realNode) writeConfigs(c *Cluster, cniDir string) error {
	containerd := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = %[3]q

[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  # Else every sandbox fails ("can't get final child's PID from pipe: EOF"):
  # setting oom_score_adj -998 is refused here.
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[6]q
    conf_dir = %[7]q
`, n.path("containerd/root"), n.path("containerd/state"), nodeSocket, n.path("opt"), PauseImage, cniDir, n.path("cni"))

	cni := fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "geofed-lab",
  "plugins": [{
    "type": "bridge",
    "bridge": "geofed-br0",
    "isGateway": true,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "ranges": [[{"subnet": %q}]],
      "routes": [{"dst": "0.0.0.0/0"}],
      "dataDir": %q
    }
  }]
}
`, realNodePodCIDR, n.path("cni-ipam"))

	kubelet := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This host has cgroup v1; the kubelet refuses it unless told not to.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /%[1]s
containerRuntimeEndpoint: unix://%[2]s
# The kubelet's ports are inside the node's own network namespace.
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
failSwapOn: false
resolvConf: %[3]q
podLogsDirectory: %[4]q
serializeImagePulls: false
# Images are imported, never pulled: none may be collected, and a busy
# shared disk must not evict the lab's Pods.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "1%%"
  imagefs.available: "1%%"
nodeStatusUpdateFrequency: 4s
maxPods: 110
`, n.cgroup, nodeSocket, n.path("resolv.conf"), n.path("pod-logs"))

	// The kubelet runs in the node's namespace, where the apiserver is at
	// LabHostIP, through a forwarder.
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["lab"] = &clientcmdapi.Cluster{Server: c.PodEndpoint(), CertificateAuthorityData: c.CAData}
	cfg.AuthInfos["kubelet"] = &clientcmdapi.AuthInfo{ClientCertificateData: c.ClientCertData, ClientKeyData: c.ClientKeyData}
	cfg.Contexts["lab"] = &clientcmdapi.Context{Cluster: "lab", AuthInfo: "kubelet"}
	cfg.CurrentContext = "lab"
	if err := clientcmd.WriteToFile(*cfg, n.path("kubelet.kubeconfig")); err != nil {
		return fmt.Errorf("writing kubelet kubeconfig: %w", err)
	}
	for name, data := range map[string]string{
		"containerd.toml":            containerd,
		"cni/10-geofed-lab.conflist": cni,
		"kubelet.yaml":               kubelet,
		// Pods get no DNS server: the lab has none, and they reach the
		// apiservers by address.
		"resolv.conf": "",
	} {
		if err := os.WriteFile(n.path(name), []byte(data), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}

// containerdScript runs as containerd's first process, already in the node's
// new network and mount namespaces: it joins the node's cgroup (so that the
// stop finds containerd's shims and containers), hides the host's /run
// (containerd's shim sockets, runc's state, the Pods' network namespace
// files, containerd's socket and the kubelet's root go there) and CNI's
// cache behind tmpfs mounts that live and die with the namespace, and
// becomes containerd.
const containerdScript = `set -e
echo $$ > "$1"; shift
mount -t tmpfs -o mode=0755 geofed-lab /run
mkdir -p /run/netns /run/containerd ` + nodeRun + `/kubelet
mkdir -p /var/lib/cni
mount -t tmpfs -o mode=0755 geofed-lab /var/lib/cni
exec "$@"
`

func (n *realNode) startContainerd(ctx context.Context, cluster string) error {
	containerd, _ := exec.LookPath("containerd")
	proc, err := startProcess(processSpec{
		name: cluster + "/containerd",
		path: mustLookPath("unshare"),
		args: []string{"--net", "--mount", "--propagation", "slave", "--",
			"sh", "-c", containerdScript, "sh", n.pidsProcs(),
			containerd, "--config", n.path("containerd.toml")},
		dir:     n.dir,
		logPath: n.path("containerd.log"),
	})
	if err != nil {
		return fmt.Errorf("real node: %w", err)
	}
	n.containerd = proc
	if err := waitFor(ctx, proc, realNodeTimeout, func(ctx context.Context) error {
		_, err := n.ctr(ctx, "version")
		return err
	}); err != nil {
		return proc.failure("did not serve", err)
	}
	// containerd serves without its CRI plugin when that fails to load,
	// and the kubelet then only says "unknown service
	// runtime.v1.RuntimeService": say why it failed instead.
	if why := criFailure(n.path("containerd.log")); why != "" {
		return fmt.Errorf("real node: containerd runs without its CRI plugin: %s", why)
	}
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", proc.pid()))
	if err != nil {
		return fmt.Errorf("real node: opening its network namespace: %w", err)
	}
	n.netns = ns
	return nil
}

// criFailure is the error containerd logged loading its CRI plugin, if it
// did; a full inotify table ("too many open files" creating a watcher) is
// the usual one, and is named with its fix.
func criFailure(logPath string) string {
	data, err := os.ReadFile(logPath)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, `failed to load plugin io.containerd.grpc.v1.cri`) {
			continue
		}
		why := line
		if _, after, ok := strings.Cut(line, "error="); ok {
			why = strings.Trim(after, `"`)
		}
		if strings.Contains(why, "fsnotify") && strings.Contains(why, "too many open files") {
			why += " (the inotify instances of this user are used up: raise fs.inotify.max_user_instances, as hack/real-node.sh does)"
		}
		return why
	}
	return ""
}

func mustLookPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}

// ctr runs containerd's own client against the node's containerd.
func (n *realNode) ctr(ctx context.Context, args ...string) ([]byte, error) {
	return ctrIn(ctx, n.mntnsPath(), args...)
}

// ctrIn runs ctr in the mount namespace mntns, where the node's containerd
// socket is.
func ctrIn(ctx context.Context, mntns string, args ...string) ([]byte, error) {
	argv := append([]string{"--mount=" + mntns, "--", "ctr", "--address", nodeSocket, "--namespace", containerdNamespace}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", argv...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// nsenter runs a command in the node's network namespace. nsenter --net,
// unlike `ip netns exec`, leaves /sys alone, which the kubelet's cgroup
// detection reads.
func (n *realNode) nsenter(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + n.netnsPath()}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("in the node's network namespace: %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func (n *realNode) netnsPath() string { return fmt.Sprintf("/proc/%d/ns/net", n.containerd.pid()) }
func (n *realNode) mntnsPath() string { return fmt.Sprintf("/proc/%d/ns/mnt", n.containerd.pid()) }

// setupNetwork gives the node's namespace its loopback and the addresses
// the forwarders listen on: the kubernetes Service's ClusterIP and LabHostIP,
// on the loopback interface (no dummy interface: not every kernel has the
// module), where Pods' packets routed through the CNI bridge are delivered.
func (n *realNode) setupNetwork(ctx context.Context) error {
	for _, args := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "addr", "add", LabHostIP + "/32", "dev", "lo"},
		{"ip", "addr", "add", KubernetesServiceIP + "/32", "dev", "lo"},
	} {
		if err := n.nsenter(ctx, args...); err != nil {
			return fmt.Errorf("real node %s: %w", n.name, err)
		}
	}
	return nil
}

// importPause builds the sandbox image from the lab's pause program and
// imports it.
func (n *realNode) importPause(ctx context.Context, bin string) error {
	archive := n.path("pause.tar")
	f, err := os.Create(archive)
	if err != nil {
		return fmt.Errorf("real node %s: %w", n.name, err)
	}
	err = writeImageArchive(f, PauseImage, filepath.Join(bin, "pause"), "/pause")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("real node %s: building the pause image: %w", n.name, err)
	}
	if err := ImportImage(ctx, n.mntnsPath(), archive); err != nil {
		return fmt.Errorf("real node %s: %w", n.name, err)
	}
	return nil
}

// ImportImage imports an OCI image archive (or a docker save tarball) into
// the containerd of a real node, whose mount namespace is mntns
// (Cluster.RealNodeMountNS), where the kubelet finds it: a Pod with
// imagePullPolicy Never (or IfNotPresent) runs it.
func ImportImage(ctx context.Context, mntns, archive string) error {
	abs, err := filepath.Abs(archive)
	if err != nil {
		return err
	}
	// The node's namespace has a /run of its own.
	if strings.HasPrefix(abs, "/run/") {
		return fmt.Errorf("importing image %s: the real node does not see /run of the host; copy the archive elsewhere", archive)
	}
	if _, err := ctrIn(ctx, mntns, "images", "import", abs); err != nil {
		return fmt.Errorf("importing image %s: %w", archive, err)
	}
	return nil
}

// kubeletScript joins the node's cgroup and becomes the kubelet.
const kubeletScript = `echo $$ > "$1" && shift && exec "$@"`

func (n *realNode) startKubelet(c *Cluster) error {
	proc, err := startProcess(processSpec{
		name: c.Name + "/kubelet",
		path: mustLookPath("nsenter"),
		args: []string{"--net=" + n.netnsPath(), "--mount=" + n.mntnsPath(), "--",
			"sh", "-c", kubeletScript, "sh", n.pidsProcs(),
			filepath.Join(c.lab.binDir, "kubelet"),
			"--config=" + n.path("kubelet.yaml"),
			"--kubeconfig=" + n.path("kubelet.kubeconfig"),
			"--root-dir=" + nodeRun + "/kubelet",
			"--hostname-override=" + n.name,
			"--node-ip=" + LabHostIP,
			"--node-labels=" + RealNodeLabel + "=true",
		},
		dir:     n.dir,
		logPath: n.path("kubelet.log"),
	})
	if err != nil {
		return fmt.Errorf("real node: %w", err)
	}
	c.mu.Lock()
	n.kubelet = proc
	c.mu.Unlock()
	return nil
}

func (c *Cluster) waitForRealNode(ctx context.Context, n *realNode) error {
	cs, err := c.client()
	if err != nil {
		return err
	}
	err = waitFor(ctx, n.kubelet, realNodeTimeout, func(ctx context.Context) error {
		node, err := cs.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return errors.New("not registered yet")
		}
		if err != nil {
			return err
		}
		if !nodeReady(node) || slices.ContainsFunc(node.Spec.Taints, systemTaint) {
			return errors.New("not Ready yet: " + readyMessage(node))
		}
		return nil
	})
	if err != nil {
		return n.kubelet.failure("real node "+n.name+" did not become Ready", err)
	}
	return nil
}

// checkName names the Pod that checks a new real node runs containers.
const checkName = "geofed-lab-real-node-check"

// checkRealNode runs a Pod of the pause image on the node and waits for it
// to run: a Ready node on a machine where containers cannot run (no cgroup
// controller, a runtime that refuses the host) would otherwise leave every
// Pod ContainerCreating with the reason in the kubelet's log only.
func (c *Cluster) checkRealNode(ctx context.Context, n *realNode) error {
	cs, err := c.client()
	if err != nil {
		return err
	}
	pods := cs.CoreV1().Pods(metav1.NamespaceDefault)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: checkName},
		Spec: corev1.PodSpec{
			NodeName:                      n.name,
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			Containers:                    []corev1.Container{{Name: "pause", Image: PauseImage, ImagePullPolicy: corev1.PullNever}},
		},
	}
	if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("real node %s: creating the Pod that checks it runs containers: %w", n.name, err)
	}
	var last *corev1.Pod
	err = waitFor(ctx, n.kubelet, time.Minute, func(ctx context.Context) error {
		p, err := pods.Get(ctx, checkName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		last = p
		if p.Status.Phase != corev1.PodRunning {
			return errors.New("not Running yet")
		}
		return nil
	})
	if err != nil {
		return n.kubelet.failure(fmt.Sprintf("real node %s cannot run containers: Pod %s: %s", n.name, checkName, podTrouble(ctx, c, last)), err)
	}
	if err := pods.Delete(ctx, checkName, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("real node %s: deleting Pod %s: %w", n.name, checkName, err)
	}
	return nil
}

// podTrouble says why a Pod is not running: its containers' waiting reasons
// and the warnings recorded about it.
func podTrouble(ctx context.Context, c *Cluster, p *corev1.Pod) string {
	if p == nil {
		return "never read"
	}
	var out []string
	out = append(out, "phase "+string(p.Status.Phase))
	for _, s := range p.Status.ContainerStatuses {
		if w := s.State.Waiting; w != nil {
			out = append(out, s.Name+" waiting: "+w.Reason+": "+w.Message)
		}
	}
	// ctx may be the one that just ran out.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if cs, err := c.client(); err == nil {
		evs, err := cs.CoreV1().Events(p.Namespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + p.Name})
		if err == nil {
			for _, e := range evs.Items {
				if e.Type == corev1.EventTypeWarning {
					out = append(out, e.Reason+": "+e.Message)
				}
			}
		}
	}
	return strings.Join(out, "; ")
}

func readyMessage(n *corev1.Node) string {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Reason + ": " + c.Message
		}
	}
	return "no Ready condition"
}

// syncForwarders makes every real node's forwarders match the running
// clusters (and starting, a cluster still starting, or nil):
// KubernetesServiceIP:443 to the node's own apiserver, and LabHostIP:PORT to
// each lab apiserver at 127.0.0.1:PORT.
func (l *Lab) syncForwarders(starting *Cluster) {
	l.mu.Lock()
	var clusters []*Cluster
	for _, c := range l.clusters {
		// A cluster's port is set before it is marked ready, under l.mu.
		if c.ready || c == starting {
			clusters = append(clusters, c)
		}
	}
	l.mu.Unlock()
	for _, c := range clusters {
		c.mu.Lock()
		n, stopped := c.realNode, c.stopped
		c.mu.Unlock()
		if n == nil || stopped || n.netns == nil {
			continue
		}
		want := map[string]string{
			KubernetesServiceIP + ":443": "127.0.0.1:" + strconv.Itoa(c.port),
		}
		for _, o := range clusters {
			o.mu.Lock()
			gone := o.stopped
			o.mu.Unlock()
			if !gone {
				want[LabHostIP+":"+strconv.Itoa(o.port)] = "127.0.0.1:" + strconv.Itoa(o.port)
			}
		}
		if err := n.setForwarders(want); err != nil {
			l.logf("cluster %s: real node %s: %v", c.Name, n.name, err)
		}
	}
}

func (n *realNode) setForwarders(want map[string]string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	for addr, f := range n.forwarders {
		if want[addr] != f.target {
			f.close()
			delete(n.forwarders, addr)
		}
	}
	for addr, target := range want {
		if _, ok := n.forwarders[addr]; ok {
			continue
		}
		l, err := listenInNetns(n.netns, addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n.forwarders[addr] = startForwarder(l, target)
	}
	return errors.Join(errs...)
}

// stop ends the node: the forwarders, the kubelet, then every process left
// in the node's cgroup (containerd, its shims, the containers), which ends
// its namespaces and the mounts in them, then removes the cgroups.
func (n *realNode) stop(ctx context.Context) error {
	n.mu.Lock()
	for addr, f := range n.forwarders {
		f.close()
		delete(n.forwarders, addr)
	}
	n.mu.Unlock()
	if n.kubelet != nil {
		n.kubelet.stop(ctx)
	}
	var errs []error
	if err := killCgroup(ctx, n.cgroup); err != nil {
		errs = append(errs, err)
	}
	if n.containerd != nil {
		n.containerd.stop(ctx)
	}
	if n.netns != nil {
		n.netns.Close()
	}
	if err := removeCgroup(n.cgroup); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stopping real node %s: %w", n.name, err)
	}
	return nil
}

// killCgroup kills every process of the cgroup's pids hierarchy, again until
// none is left (a shim may start a process while the first ones die).
func killCgroup(ctx context.Context, name string) error {
	root := filepath.Join("/sys/fs/cgroup/pids", name)
	deadline := time.Now().Add(20 * time.Second)
	for {
		pids := cgroupPids(root)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("processes %v of cgroup %s did not die", pids, root)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func cgroupPids(root string) []int {
	var pids []int
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		data, _ := os.ReadFile(p)
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	return pids
}

// removeCgroup removes the cgroup and everything under it (the kubelet's
// QoS and Pod cgroups) from every hierarchy, deepest first; a cgroup goes
// only once it holds no process.
func removeCgroup(name string) error {
	ctrls, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	// On a hybrid host the kubelet and runc make the same cgroups in the
	// v2 hierarchy too.
	if _, err := os.Stat(unifiedHierarchy); err == nil {
		ctrls = append(ctrls, unifiedHierarchy)
	}
	var errs []error
	for _, ctrl := range ctrls {
		root := filepath.Join(ctrl, name)
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			var err error
			// A cgroup whose last process just died can be busy a moment.
			for range 50 {
				if err = syscall.Rmdir(dirs[i]); err == nil || errors.Is(err, syscall.ENOENT) {
					err = nil
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", dirs[i], err))
			}
		}
	}
	return errors.Join(errs...)
}
