// Command pause holds a Pod's namespaces open, as the sandbox container
// containerd starts before a Pod's own containers: it waits for SIGTERM or
// SIGINT and exits 0. The lab's real node cannot pull registry.k8s.io's
// pause image, so it runs this one, built by `go run ./hack/image --pause`.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
