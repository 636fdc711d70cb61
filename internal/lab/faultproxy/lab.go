package faultproxy

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
)

// ForCluster starts a proxy in front of a lab cluster's apiserver, serving
// with the apiserver's certificate (the lab keeps it in the cluster's
// directory), so the cluster's CA verifies the proxy too.
func ForCluster(c *lab.Cluster) (*Proxy, error) {
	cert, err := os.ReadFile(filepath.Join(c.Dir, "apiserver.crt"))
	if err != nil {
		return nil, fmt.Errorf("fault proxy for cluster %s: %w", c.Name, err)
	}
	key, err := os.ReadFile(filepath.Join(c.Dir, "apiserver.key"))
	if err != nil {
		return nil, fmt.Errorf("fault proxy for cluster %s: %w", c.Name, err)
	}
	p, err := Start(Options{
		Upstream:    c.Endpoint,
		CAData:      c.CAData,
		CertData:    c.ClientCertData,
		KeyData:     c.ClientKeyData,
		ServingCert: cert,
		ServingKey:  key,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	return p, nil
}

// Route points the named clusters of the kubeconfig at path to new server
// addresses (their proxies), leaving everything else in it as it was.
func Route(path string, servers map[string]string) error {
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return fmt.Errorf("routing %s through fault proxies: %w", path, err)
	}
	for name, server := range servers {
		c, ok := cfg.Clusters[name]
		if !ok {
			return fmt.Errorf("routing %s through fault proxies: no cluster %s in it", path, name)
		}
		c.Server = server
	}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("routing %s through fault proxies: %w", path, err)
	}
	return nil
}
