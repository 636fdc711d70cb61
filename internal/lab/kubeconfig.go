package lab

import (
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// kubeconfig returns a kubeconfig with a cluster, user and context per lab
// cluster, all named after it; the first cluster's context is current. The
// credentials are embedded, so the file can be copied anywhere.
func kubeconfig(clusters []*Cluster) *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	for _, c := range clusters {
		cfg.Clusters[c.Name] = &clientcmdapi.Cluster{
			Server:                   c.Endpoint,
			CertificateAuthorityData: c.CAData,
		}
		cfg.AuthInfos[c.Name] = &clientcmdapi.AuthInfo{
			ClientCertificateData: c.ClientCertData,
			ClientKeyData:         c.ClientKeyData,
		}
		cfg.Contexts[c.Name] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: c.Name}
	}
	if len(clusters) > 0 {
		cfg.CurrentContext = clusters[0].Name
	}
	return cfg
}
