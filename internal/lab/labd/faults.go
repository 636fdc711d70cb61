package labd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/faultproxy"
)

// faultSocket is the daemon's fault control socket in dir.
func faultSocket(dir string) string { return filepath.Join(dir, "faults.sock") }

// startFaultProxies puts a fault proxy in front of each cluster, routes the
// lab's kubeconfig through them, and serves the control socket `geofed-lab
// fault` talks to until ctx ends. The kubeconfig always goes through the
// proxies, so a fault switched on later reaches clients that loaded it
// before. Clusters added later (by the GKE emulator) are reached directly.
func startFaultProxies(ctx context.Context, dir string, clusters []*lab.Cluster) (*faultproxy.Set, error) {
	set := faultproxy.NewSet()
	servers := map[string]string{}
	for _, c := range clusters {
		p, err := faultproxy.ForCluster(c)
		if err != nil {
			return nil, errors.Join(err, set.Close())
		}
		set.Add(c.Name, p)
		servers[c.Name] = p.URL
	}
	if err := faultproxy.Route(kubeconfigPath(dir), servers); err != nil {
		return nil, errors.Join(err, set.Close())
	}
	if err := faultproxy.Serve(ctx, faultSocket(dir), set); err != nil {
		return nil, errors.Join(err, set.Close())
	}
	return set, nil
}

// FaultOptions configure Fault.
type FaultOptions struct {
	// Dir is the state directory of a running lab.
	Dir     string
	Cluster string
	// Set is the fault to set; nil with Clear.
	Set *faultproxy.Fault
	// Clear clears the fault of Resource, or every fault of the cluster
	// when Resource is "".
	Clear    bool
	Resource string
	Out      io.Writer
}

// Fault switches a fault of a running lab's cluster and prints the faults
// the cluster has now.
func Fault(ctx context.Context, opts FaultOptions) error {
	if _, err := readPID(opts.Dir); err != nil {
		return err
	}
	var (
		faults []faultproxy.Fault
		err    error
	)
	switch {
	case opts.Clear:
		faults, err = faultproxy.ClearFaults(ctx, faultSocket(opts.Dir), opts.Cluster, opts.Resource)
	case opts.Set != nil:
		faults, err = faultproxy.SetFault(ctx, faultSocket(opts.Dir), opts.Cluster, *opts.Set)
	default:
		return errors.New("no fault to set and nothing to clear")
	}
	if err != nil {
		return fmt.Errorf("cluster %s: %w", opts.Cluster, err)
	}
	if len(faults) == 0 {
		fmt.Fprintf(opts.Out, "cluster %s: no faults: every read is forwarded\n", opts.Cluster)
		return nil
	}
	for _, f := range faults {
		fmt.Fprintf(opts.Out, "cluster %s: reads of %s answer %s\n", opts.Cluster, f.Resource, describe(f.Status))
	}
	return nil
}

func describe(s faultproxy.Status) string {
	switch s {
	case faultproxy.Status500:
		return "500 Internal Server Error"
	case faultproxy.Status429:
		return "429 Too Many Requests"
	case faultproxy.StatusForbidden:
		return "403 Forbidden"
	case faultproxy.StatusTimeout:
		return "nothing (they hang until the client gives up)"
	}
	return string(s)
}
