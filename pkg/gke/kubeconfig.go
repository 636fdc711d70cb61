package gke

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/container/apiv1/containerpb"
	"golang.org/x/oauth2"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// The kubectl credential plugin for GKE, as gcloud container clusters
// get-credentials configures it.
const (
	AuthPlugin            = "gke-gcloud-auth-plugin"
	authPluginAPIVersion  = "client.authentication.k8s.io/v1beta1"
	authPluginInstallHint = "Install gke-gcloud-auth-plugin for use with kubectl by following https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin"
)

// ClusterGetter reads one cluster from GKE; *Client implements it.
type ClusterGetter interface {
	GetCluster(ctx context.Context, project, location, name string) (*containerpb.Cluster, error)
}

// Credential is the kubeconfig entries of one managed cluster, or why it
// has none.
type Credential struct {
	// Cluster is the topology's name for the cluster, which is also the
	// context's name.
	Cluster string
	Region  string
	// Entry names the kubeconfig cluster and user, as gcloud names them:
	// gke_PROJECT_LOCATION_NAME.
	Entry string
	// Server and User are set when Err is not.
	Server *clientcmdapi.Cluster
	User   *clientcmdapi.AuthInfo
	// Err says why there are no entries: the cluster does not exist yet,
	// is not RUNNING, or GKE could not be read.
	Err error
}

// Credentials reads every managed cluster of refs from GKE (joined ones are
// skipped) and builds its kubeconfig entries, as gcloud container clusters
// get-credentials does. One cluster's failure is its Credential's Err; the
// others are unaffected. Under the emulator, the user is the client
// certificate the emulator issues instead of the auth plugin.
func Credentials(ctx context.Context, client ClusterGetter, t *topology.Topology, refs []topology.ClusterRef, opts ClientOptions) []Credential {
	var out []Credential
	for _, ref := range refs {
		d := Desired(t, ref)
		if d == nil {
			continue
		}
		cr := Credential{Cluster: ref.Cluster.Name, Region: ref.Region, Entry: EntryName(Project(d), d.GetLocation(), d.GetName())}
		live, err := client.GetCluster(ctx, Project(d), d.GetLocation(), d.GetName())
		switch {
		case err != nil:
			cr.Err = err
		case live == nil:
			cr.Err = fmt.Errorf("cluster %s (GKE %s/%s) does not exist yet: kubectl geofed apply creates it", ref.Cluster.Name, Project(d), d.GetLocation())
		case live.GetStatus() != containerpb.Cluster_RUNNING:
			cr.Err = fmt.Errorf("cluster %s (GKE %s/%s) is %s, not RUNNING: run again once it is", ref.Cluster.Name, Project(d), d.GetLocation(), live.GetStatus())
		default:
			cr.Server, cr.User, err = KubeconfigEntries(live, opts.EmulatorHost != "")
			if err != nil {
				cr.Err = fmt.Errorf("cluster %s (GKE %s/%s): %w", ref.Cluster.Name, Project(d), d.GetLocation(), err)
			}
		}
		out = append(out, cr)
	}
	return out
}

// EntryName is gcloud's name for a cluster's kubeconfig entries.
func EntryName(project, location, name string) string {
	return "gke_" + project + "_" + location + "_" + name
}

// KubeconfigEntries is the kubeconfig cluster and user of a GKE cluster:
// the server https://ENDPOINT with the CA from its MasterAuth and, as gcloud
// writes it, a user that runs gke-gcloud-auth-plugin for its tokens (the
// file never holds one). With clientCert, the user is the cluster's client
// certificate and key from MasterAuth instead: the lab emulator's clusters
// take those, and no plugin can get a token for them.
//
// Errors never quote certificates or keys.
func KubeconfigEntries(c *containerpb.Cluster, clientCert bool) (*clientcmdapi.Cluster, *clientcmdapi.AuthInfo, error) {
	// RESTConfig is where an endpoint and CA are read; its token source is
	// never asked for a token here: kubectl gets them from the plugin.
	var ts oauth2.TokenSource = noToken{}
	if clientCert {
		ts = nil
	}
	cfg, err := RESTConfig(c, ts)
	if err != nil {
		return nil, nil, err
	}
	server := &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	if clientCert {
		if len(cfg.CertData) == 0 {
			return nil, nil, errors.New("the cluster has no client certificate")
		}
		return server, &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}, nil
	}
	return server, &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
		APIVersion:         authPluginAPIVersion,
		Command:            AuthPlugin,
		InstallHint:        authPluginInstallHint,
		ProvideClusterInfo: true,
		InteractiveMode:    clientcmdapi.IfAvailableExecInteractiveMode,
	}}, nil
}

// noToken stands for the plugin's tokens when building entries.
type noToken struct{}

func (noToken) Token() (*oauth2.Token, error) {
	return nil, errors.New("kubeconfig entries get their tokens from " + AuthPlugin)
}

// AddTo writes the credential into cfg: the cluster and user under Entry,
// and the context named after the cluster, replacing entries of the same
// names. A replaced entry keeps the file it came from, so
// clientcmd.ModifyConfig rewrites it there rather than shadowing it. It
// returns the file the context belongs to ("" for a new one: the default
// file).
func (c Credential) AddTo(cfg *clientcmdapi.Config) string {
	server := c.Server.DeepCopy()
	user := c.User.DeepCopy()
	kctx := clientcmdapi.NewContext()
	kctx.Cluster, kctx.AuthInfo = c.Entry, c.Entry
	if old, ok := cfg.Clusters[c.Entry]; ok {
		server.LocationOfOrigin = old.LocationOfOrigin
	}
	if old, ok := cfg.AuthInfos[c.Entry]; ok {
		user.LocationOfOrigin = old.LocationOfOrigin
	}
	if old, ok := cfg.Contexts[c.Cluster]; ok {
		kctx.LocationOfOrigin = old.LocationOfOrigin
		// The namespace someone chose for the context is theirs.
		kctx.Namespace = old.Namespace
	}
	if cfg.Clusters == nil {
		cfg.Clusters = map[string]*clientcmdapi.Cluster{}
	}
	if cfg.AuthInfos == nil {
		cfg.AuthInfos = map[string]*clientcmdapi.AuthInfo{}
	}
	if cfg.Contexts == nil {
		cfg.Contexts = map[string]*clientcmdapi.Context{}
	}
	cfg.Clusters[c.Entry] = server
	cfg.AuthInfos[c.Entry] = user
	cfg.Contexts[c.Cluster] = kctx
	return kctx.LocationOfOrigin
}
