// Command kube is a multi-call binary holding the Kubernetes control plane
// components and kubectl at one pinned version, for the geofed lab.
//
// The component is picked by the basename of argv[0] (so symlinks named
// kube-apiserver, kubectl, ... work) or else by the first argument:
//
//	kube kube-apiserver --etcd-servers=...
//	kube kubectl get nodes
//
// One binary instead of four saves three links of the same dependency graph,
// which is most of the lab's build time.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	_ "time/tzdata" // CronJob time zones, as in the upstream mains

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"

	_ "k8s.io/client-go/plugin/pkg/client/auth" // kubectl's client auth plugins
)

// components maps a component name to its entry point. Each one receives the
// arguments after the component name and returns the process exit code.
var components = map[string]func(args []string) int{
	"kube-apiserver": func(args []string) int {
		return runCobra("kube-apiserver", apiserver.NewAPIServerCommand, args)
	},
	"kube-controller-manager": func(args []string) int {
		return runCobra("kube-controller-manager", controllermanager.NewControllerManagerCommand, args)
	},
	"kube-scheduler": func(args []string) int {
		return runCobra("kube-scheduler", func() *cobra.Command { return scheduler.NewSchedulerCommand() }, args)
	},
	"kubectl": runKubectl,
}

func main() {
	name, args := pick(os.Args)
	run, ok := components[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "usage: kube COMPONENT [ARGS...]\ncomponents: %s\n", strings.Join(names(), ", "))
		os.Exit(2)
	}
	os.Exit(run(args))
}

// pick returns the component named by argv[0]'s basename or, failing that,
// by the first argument, with the arguments that belong to it.
func pick(argv []string) (string, []string) {
	if len(argv) == 0 {
		return "", nil
	}
	base := filepath.Base(argv[0])
	if _, ok := components[base]; ok {
		return base, argv[1:]
	}
	if len(argv) > 1 {
		return argv[1], argv[2:]
	}
	return "", nil
}

func names() []string {
	out := make([]string, 0, len(components))
	for n := range components {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// runCobra runs an upstream component command as if it were its own binary:
// os.Args is rewritten because cobra and some components read it directly.
func runCobra(name string, newCommand func() *cobra.Command, args []string) int {
	os.Args = append([]string{name}, args...)
	return cli.Run(newCommand())
}

// runKubectl mirrors k8s.io/kubernetes/cmd/kubectl: the log verbosity is set
// before the command is built because building it already logs (plugins,
// kuberc).
func runKubectl(args []string) int {
	os.Args = append([]string{"kubectl"}, args...)
	logs.GlogSetter(kubectlcmd.GetLogVerbosity(os.Args)) //nolint:errcheck // best effort, as upstream
	command := kubectlcmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		kubectlutil.CheckErr(err)
	}
	return 0
}
