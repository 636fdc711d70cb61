// Command kubelet is the upstream kubelet at the lab's pinned Kubernetes
// version, for the lab's real nodes (geofed-lab up --real-node). It is a
// module of its own, apart from the multi-call kube binary, so that adding
// or changing it never invalidates the cached control-plane binaries.
package main

import (
	"context"
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	"k8s.io/kubernetes/cmd/kubelet/app"
)

func main() {
	os.Exit(cli.Run(app.NewKubeletCommand(context.Background())))
}
