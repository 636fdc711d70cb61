package controller

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/geofed-io/kubectl-geofed/pkg/hub/membership"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// MemberSecretPrefix and MemberSecretKey say where a member's kubeconfig
// is kept in the hub (package membership writes it): Secret
// geofed-member-<cluster>, key kubeconfig, in the controller's namespace.
const (
	MemberSecretPrefix = membership.SecretPrefix
	MemberSecretKey    = membership.SecretKey
)

// MemberSecretName is the Secret that holds the named member's kubeconfig.
func MemberSecretName(cluster string) string { return membership.SecretName(cluster) }

// credentials are the member kubeconfigs of one reconcile, written to a
// private directory so the engine reads them the way the CLI reads a
// topology's `kubeconfig: {path: ...}`: the engine connects exactly as
// `kubectl geofed apply` does, with nothing taken from the controller's
// own environment.
type credentials struct {
	dir string
	// missing says, by cluster, why it has no usable kubeconfig.
	missing map[string]string
	// configs and keys are the usable ones, for the member watches: the
	// client configuration and a digest of the Secret's kubeconfig and
	// context, which changes when the Secret does.
	configs map[string]*rest.Config
	keys    map[string]string
}

// writeCredentials points every joined cluster of t at a kubeconfig file
// made from its Secret. The context is the topology's when the kubeconfig
// has it, else the kubeconfig's current context, so a Secret written by
// hand for one cluster needs no particular context name. A cluster without
// a Secret is pointed at a file that does not exist: the engine then finds
// it unreachable, excludes it from placement and never writes to it.
func writeCredentials(ctx context.Context, c client.Reader, namespace string, t *topology.Topology, dir string) (*credentials, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cr := &credentials{dir: dir, missing: map[string]string{}, configs: map[string]*rest.Config{}, keys: map[string]string{}}
	for _, ref := range t.Clusters() {
		cl := ref.Cluster
		data, missing := readSecret(ctx, c, namespace, cl.Name)
		if cl.Managed() {
			// The engine reaches GKE clusters through GKE; the Secret,
			// once the controller joined the cluster, serves the watches.
			if missing == "" {
				if cfg, err := clientcmd.RESTConfigFromKubeConfig(data); err == nil {
					cr.configs[cl.Name], cr.keys[cl.Name] = cfg, hash(string(data))
				}
			}
			continue
		}
		if cl.Kubeconfig == nil {
			continue
		}
		name := MemberSecretName(cl.Name)
		file := filepath.Join(dir, cl.Name+".kubeconfig")
		context := cl.Kubeconfig.Context
		cr.missing[cl.Name] = missing
		if missing == "" {
			rc, used, err := memberConfig(data, context)
			if err != nil {
				cr.missing[cl.Name] = fmt.Sprintf("Secret %s/%s: %v", namespace, name, err)
			} else {
				context = used
				cr.configs[cl.Name], cr.keys[cl.Name] = rc, hash(string(data), context)
				if err := os.WriteFile(file, data, 0o600); err != nil {
					return nil, err
				}
			}
		}
		if cr.missing[cl.Name] != "" {
			file = filepath.Join(dir, cl.Name+".absent")
		}
		cl.Kubeconfig = &topology.KubeconfigRef{Context: context, Path: file}
	}
	return cr, nil
}

// memberConfig is the client configuration of a member's kubeconfig, at
// context when it has it, else at its current context (which it returns).
func memberConfig(data []byte, context string) (*rest.Config, string, error) {
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return nil, "", err
	}
	if _, ok := cfg.Contexts[context]; !ok {
		context = cfg.CurrentContext
	}
	rc, err := clientcmd.NewNonInteractiveClientConfig(*cfg, context, nil, nil).ClientConfig()
	return rc, context, err
}

// readSecret reads a member's kubeconfig from the hub, or says why there
// is none.
func readSecret(ctx context.Context, c client.Reader, namespace, cluster string) (data []byte, missing string) {
	name := MemberSecretName(cluster)
	var s corev1.Secret
	err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &s)
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Sprintf("no Secret %s/%s with the member's kubeconfig", namespace, name)
	case err != nil:
		return nil, fmt.Sprintf("reading Secret %s/%s: %v", namespace, name, err)
	case len(s.Data[MemberSecretKey]) == 0:
		return nil, fmt.Sprintf("Secret %s/%s has no %q key", namespace, name, MemberSecretKey)
	}
	return s.Data[MemberSecretKey], ""
}
