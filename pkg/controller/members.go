package controller

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/geofed-io/kubectl-geofed/pkg/hub/membership"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
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

// MemberSecretSelector selects the member Secrets join writes (labelled
// geofed.io/membership): the only Secrets the controller's cache holds, so
// a reconcile reads its members' credentials from memory and the cache
// never holds the pushed sources nor anyone else's Secrets.
func MemberSecretSelector() labels.Selector {
	req, err := labels.NewRequirement(membership.LabelMembership, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant, valid key
	}
	return labels.NewSelector().Add(*req)
}

// credentials are the members' client configurations of one reconcile,
// made in memory from their Secrets: the engine connects exactly as
// `kubectl geofed apply` does with a kubeconfig, with nothing taken from
// the controller's own environment and nothing written to disk.
type credentials struct {
	// missing says, by cluster, why it has no usable kubeconfig.
	missing map[string]string
	// configs and keys are the usable ones: the client configuration and
	// a digest of the Secret's kubeconfig and context, which changes when
	// the Secret does (and the member's watches and probe start again).
	configs map[string]*rest.Config
	keys    map[string]string
}

// readCredentials reads the Secret of every joined cluster of t. The
// context is the topology's when the kubeconfig has it, else the
// kubeconfig's current context, so a Secret written by hand for one cluster
// needs no particular context name. GKE clusters need no Secret (the engine
// reaches them through GKE); once the controller joined one, its Secret
// serves the watches and the probe.
func readCredentials(ctx context.Context, c client.Reader, namespace string, t *topology.Topology) *credentials {
	cr := &credentials{missing: map[string]string{}, configs: map[string]*rest.Config{}, keys: map[string]string{}}
	for _, ref := range t.Clusters() {
		cl := ref.Cluster
		if !cl.Managed() && cl.Kubeconfig == nil {
			continue
		}
		var context string
		if cl.Kubeconfig != nil {
			context = cl.Kubeconfig.Context
		}
		data, missing := readSecret(ctx, c, namespace, cl.Name)
		if missing == "" {
			rc, used, err := memberConfig(data, context)
			if err != nil {
				missing = fmt.Sprintf("Secret %s/%s: %v", namespace, MemberSecretName(cl.Name), err)
			} else {
				cr.configs[cl.Name], cr.keys[cl.Name] = rc, hash(string(data), used)
			}
		}
		if missing != "" && !cl.Managed() {
			cr.missing[cl.Name] = missing
		}
	}
	return cr
}

// targets say how observe reaches the joined members: by their
// configurations in memory, or not at all — no usable Secret, or dark by
// their health probe.
func (cr *credentials) targets(t *topology.Topology, dark map[string]error) map[string]member.Target {
	out := map[string]member.Target{}
	for _, ref := range t.Clusters() {
		name := ref.Cluster.Name
		switch {
		case dark[name] != nil:
			out[name] = member.Target{Unreachable: dark[name]}
		case cr.missing[name] != "":
			out[name] = member.Target{Unreachable: errors.New(cr.missing[name])}
		case cr.configs[name] != nil && !ref.Cluster.Managed():
			out[name] = member.Target{Config: cr.configs[name]}
		}
	}
	return out
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

// readSecret reads a member's kubeconfig from the hub (the cache of member
// Secrets), or says why there is none.
func readSecret(ctx context.Context, c client.Reader, namespace, cluster string) (data []byte, missing string) {
	name := MemberSecretName(cluster)
	var s corev1.Secret
	err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &s)
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Sprintf("no Secret %s/%s labelled %s with the member's kubeconfig (kubectl geofed join %s --hub ...)", namespace, name, membership.LabelMembership, cluster)
	case err != nil:
		return nil, fmt.Sprintf("reading Secret %s/%s: %v", namespace, name, err)
	case len(s.Data[MemberSecretKey]) == 0:
		return nil, fmt.Sprintf("Secret %s/%s has no %q key", namespace, name, MemberSecretKey)
	}
	return s.Data[MemberSecretKey], ""
}
