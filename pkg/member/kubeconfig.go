package member

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// kubeconfigLoader resolves kubeconfig contexts the way kubectl does and reads
// each distinct kubeconfig (a path, or the default chain) once.
type kubeconfigLoader struct {
	explicit string // --kubeconfig
	dir      string // relative target paths are relative to this
	loaded   map[string]*kubeconfig
}

type kubeconfig struct {
	rules *clientcmd.ClientConfigLoadingRules
	raw   *clientcmdapi.Config
	err   error
}

func newKubeconfigLoader(explicit, dir string) *kubeconfigLoader {
	return &kubeconfigLoader{explicit: explicit, dir: dir, loaded: map[string]*kubeconfig{}}
}

// restConfig builds the rest.Config of ref's context.
func (l *kubeconfigLoader) restConfig(ref *topology.KubeconfigRef) (*rest.Config, error) {
	path := l.explicit
	if ref.Path != "" {
		path = ref.Path
		if !filepath.IsAbs(path) {
			path = filepath.Join(l.dir, path)
		}
	}
	k := l.load(path)
	if k.err != nil {
		return nil, k.err
	}
	kctx, ok := k.raw.Contexts[ref.Context]
	if !ok {
		return nil, k.contextNotFound(ref.Context)
	}
	// clientcmd would report a missing cluster as "no configuration has been
	// provided", which sends the user looking in the wrong place.
	if _, ok := k.raw.Clusters[kctx.Cluster]; !ok {
		return nil, fmt.Errorf("kubeconfig context %q names cluster %q, which is not in %s", ref.Context, kctx.Cluster, strings.Join(k.rules.GetLoadingPrecedence(), ", "))
	}
	cfg, err := clientcmd.NewNonInteractiveClientConfig(*k.raw, ref.Context, &clientcmd.ConfigOverrides{}, k.rules).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig context %q: %w", ref.Context, err)
	}
	return cfg, nil
}

// load reads the kubeconfig at path, or kubectl's default chain
// ($KUBECONFIG, else ~/.kube/config) when path is "".
func (l *kubeconfigLoader) load(path string) *kubeconfig {
	if k, ok := l.loaded[path]; ok {
		return k
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	k := &kubeconfig{rules: rules}
	if k.raw, k.err = rules.Load(); k.err != nil {
		k.err = fmt.Errorf("reading kubeconfig: %w", k.err)
	}
	l.loaded[path] = k
	return k
}

// maxContextsListed keeps an unknown-context error to one readable line.
const maxContextsListed = 10

// contextNotFound names the files looked at and the contexts they hold, so a
// typo or a wrong $KUBECONFIG is obvious.
func (k *kubeconfig) contextNotFound(name string) error {
	var found, missing []string
	for _, f := range k.rules.GetLoadingPrecedence() {
		if _, err := os.Stat(f); err == nil {
			found = append(found, f)
		} else {
			missing = append(missing, f)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "kubeconfig context %q not found", name)
	if len(found) == 0 {
		fmt.Fprintf(&b, ": no kubeconfig file at %s", strings.Join(missing, ", "))
		return errors.New(b.String())
	}
	fmt.Fprintf(&b, " in %s", strings.Join(found, ", "))
	if names := slices.Sorted(maps.Keys(k.raw.Contexts)); len(names) > 0 {
		more := ""
		if len(names) > maxContextsListed {
			more = fmt.Sprintf(" and %d more", len(names)-maxContextsListed)
			names = names[:maxContextsListed]
		}
		fmt.Fprintf(&b, " (contexts there: %s%s)", strings.Join(names, ", "), more)
	} else {
		b.WriteString(" (it has no contexts)")
	}
	if len(missing) > 0 {
		fmt.Fprintf(&b, "; %s not found", strings.Join(missing, ", "))
	}
	return errors.New(b.String())
}

// ContextConfig is the client configuration of a kubeconfig context in the
// usual resolution — explicit, the path given (--kubeconfig); else
// $KUBECONFIG or ~/.kube/config — as is, no limits set. It does not
// connect.
func ContextConfig(explicit, context string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = explicit
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
}
