// Command pause holds a Pod's namespaces for the lab's real nodes, as the
// upstream pause container does: it sleeps until SIGINT or SIGTERM and
// exits 0. It reaps nothing: the lab's Pods share no PID namespace.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
}
