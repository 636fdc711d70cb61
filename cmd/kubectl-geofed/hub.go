package main

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/geofed-io/kubectl-geofed/pkg/hub/api/v1alpha1"
	"github.com/geofed-io/kubectl-geofed/pkg/member"
)

// defaultHubNamespace is where the control plane runs unless told
// otherwise (manifests/controller).
const defaultHubNamespace = v1alpha1.DefaultNamespace

// hubClient reaches the hub by its context in the usual kubeconfig
// resolution (or --kubeconfig).
func hubClient(flags *genericclioptions.ConfigFlags, hub string) (client.Client, error) {
	cfg, err := hubConfig(flags, hub)
	if err != nil {
		return nil, err
	}
	return newHubClient(cfg)
}

// hubConfig is the client configuration of the hub's context.
func hubConfig(flags *genericclioptions.ConfigFlags, hub string) (*rest.Config, error) {
	cfg, err := member.ContextConfig(kubeconfigFlag(flags), hub)
	if err != nil {
		return nil, fmt.Errorf("hub %s: %w", hub, err)
	}
	return cfg, nil
}

func newHubClient(cfg *rest.Config) (client.Client, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("hub client: %w", err)
	}
	return c, nil
}
