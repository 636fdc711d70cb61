package labd

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"golang.org/x/sync/errgroup"
)

// StatusOptions configure Status.
type StatusOptions struct {
	Dir string
	Out io.Writer
}

// ClusterHealth is what Status found out about a cluster.
type ClusterHealth struct {
	ClusterState
	// Err is why the cluster is not ready, nil when it is.
	Err error
	// Nodes and ReadyNodes count the cluster's nodes.
	Nodes, ReadyNodes int
}

// statusTimeout bounds the checks of one cluster: an apiserver that is down
// refuses at once, but one that hangs must not hang status.
const statusTimeout = 10 * time.Second

// Status prints the lab's clusters and their health, and fails when there is
// no lab or a cluster is not ready.
func Status(ctx context.Context, opts StatusOptions) error {
	s, err := ReadState(opts.Dir)
	if err != nil {
		return err
	}
	health := make([]ClusterHealth, len(s.Clusters))
	var g errgroup.Group
	for i, c := range s.Clusters {
		g.Go(func() error {
			health[i] = checkCluster(ctx, c)
			return nil
		})
	}
	_ = g.Wait()
	WriteStatus(opts.Out, opts.Dir, s, health)
	bad := 0
	for _, h := range health {
		if h.Err != nil {
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d lab clusters not ready", bad, len(health))
	}
	return nil
}

func checkCluster(ctx context.Context, c ClusterState) ClusterHealth {
	h := ClusterHealth{ClusterState: c}
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		h.Err = err
		return h
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		h.Err = err
		return h
	}
	if _, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
		h.Err = err
		return h
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		h.Err = err
		return h
	}
	h.Nodes = len(nodes.Items)
	for _, n := range nodes.Items {
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				h.ReadyNodes++
			}
		}
	}
	if h.ReadyNodes < h.Nodes {
		h.Err = fmt.Errorf("%d of %d nodes not Ready", h.Nodes-h.ReadyNodes, h.Nodes)
	}
	return h
}

// WriteStatus prints a lab's state and its clusters' health as a table.
func WriteStatus(out io.Writer, dir string, s *State, health []ClusterHealth) {
	fmt.Fprintf(out, "Lab in %s: daemon pid %d, ready since %s\n", dir, s.PID, s.Started.UTC().Format(time.RFC3339))
	if len(health) == 0 {
		fmt.Fprintln(out, "No clusters.")
		return
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tENDPOINT\tFROM PODS\tREAL NODE\tNODES READY\tSTATUS")
	for _, h := range health {
		status, nodes := "Ready", fmt.Sprintf("%d/%d", h.ReadyNodes, h.Nodes)
		if h.Err != nil {
			// One line per cluster: the first line of the error.
			status, _, _ = strings.Cut(h.Err.Error(), "\n")
			status = "NotReady: " + status
			if h.Nodes == 0 {
				nodes = "-" // not known: the apiserver did not answer
			}
		}
		real := h.RealNode
		if real == "" {
			real = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, h.Endpoint, h.PodServer, real, nodes, status)
	}
	tw.Flush()
}
