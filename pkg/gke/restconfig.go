package gke

import (
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"
	"golang.org/x/oauth2"
	"k8s.io/client-go/rest"
)

// RESTConfig returns a rest.Config for a GKE cluster's control plane. The
// endpoint is a bare address in GKE ("34.1.2.3") and host:port in the lab
// emulator; both get https://. The CA comes from the cluster's MasterAuth.
// Authentication is the cluster's client certificate when it has one (GKE's
// legacy client certificates, which the lab emulator issues), else a bearer
// token from ts (see TokenSource).
//
// Errors never quote certificates, keys or tokens.
func RESTConfig(c *containerpb.Cluster, ts oauth2.TokenSource) (*rest.Config, error) {
	name := c.GetName()
	host := c.GetEndpoint()
	if host == "" {
		return nil, fmt.Errorf("cluster %s has no endpoint yet (status %s)", name, c.GetStatus())
	}
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	auth := c.GetMasterAuth()
	ca, err := decodePEM(auth.GetClusterCaCertificate())
	if err != nil {
		return nil, fmt.Errorf("reading the CA certificate of cluster %s: %w", name, err)
	}
	cfg := &rest.Config{Host: host, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}

	switch {
	case auth.GetClientCertificate() != "" || auth.GetClientKey() != "":
		if cfg.CertData, err = decodePEM(auth.GetClientCertificate()); err != nil {
			return nil, fmt.Errorf("reading the client certificate of cluster %s: %w", name, err)
		}
		if cfg.KeyData, err = decodePEM(auth.GetClientKey()); err != nil {
			return nil, fmt.Errorf("reading the client key of cluster %s: %w", name, err)
		}
	case ts != nil:
		// ReuseTokenSource caches the token until it expires, so requests
		// do not each ask the metadata server or token endpoint.
		ts = oauth2.ReuseTokenSource(nil, ts)
		cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
			return &oauth2.Transport{Source: ts, Base: rt}
		}
	default:
		return nil, fmt.Errorf("no credentials for cluster %s: it has no client certificate and no Google token source was given", name)
	}
	return cfg, nil
}

// decodePEM decodes the base64 PEM GKE puts in MasterAuth. Its errors say
// what is wrong without quoting the data.
func decodePEM(b64 string) ([]byte, error) {
	if b64 == "" {
		return nil, errors.New("missing")
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	if block, _ := pem.Decode(data); block == nil {
		return nil, errors.New("not PEM")
	}
	return data, nil
}
