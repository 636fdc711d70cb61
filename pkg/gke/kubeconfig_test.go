package gke

import (
	"strings"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

func TestKubeconfigEntries(t *testing.T) {
	pki := newTestPKI(t)
	running := func(endpoint string, withCert bool) *containerpb.Cluster {
		c := &containerpb.Cluster{Name: "training-us", Endpoint: endpoint, Status: containerpb.Cluster_RUNNING,
			MasterAuth: &containerpb.MasterAuth{ClusterCaCertificate: b64(pki.caPEM)}}
		if withCert {
			c.MasterAuth.ClientCertificate, c.MasterAuth.ClientKey = b64(pki.clientCertPEM), b64(pki.clientKeyPEM)
		}
		return c
	}
	plugin := &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{
		APIVersion:         "client.authentication.k8s.io/v1beta1",
		Command:            "gke-gcloud-auth-plugin",
		InstallHint:        "Install gke-gcloud-auth-plugin for use with kubectl by following https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin",
		ProvideClusterInfo: true,
		InteractiveMode:    clientcmdapi.IfAvailableExecInteractiveMode,
	}}
	tests := []struct {
		name       string
		cluster    *containerpb.Cluster
		clientCert bool
		wantServer string
		wantUser   *clientcmdapi.AuthInfo
		wantErr    string
	}{
		{name: "GKE", cluster: running("34.1.2.3", false), wantServer: "https://34.1.2.3", wantUser: plugin},
		// GKE's legacy client certificate is not what gcloud writes either.
		{name: "GKE with a legacy client certificate", cluster: running("34.1.2.3", true), wantServer: "https://34.1.2.3", wantUser: plugin},
		{name: "emulator", cluster: running("127.0.0.1:6443", true), clientCert: true, wantServer: "https://127.0.0.1:6443",
			wantUser: &clientcmdapi.AuthInfo{ClientCertificateData: pki.clientCertPEM, ClientKeyData: pki.clientKeyPEM}},
		{name: "emulator without a certificate", cluster: running("127.0.0.1:6443", false), clientCert: true,
			wantErr: "no credentials for cluster training-us: it has no client certificate and no Google token source was given"},
		{name: "no endpoint", cluster: &containerpb.Cluster{Name: "training-us", Status: containerpb.Cluster_PROVISIONING},
			wantErr: "cluster training-us has no endpoint yet (status PROVISIONING)"},
		{name: "bad CA", cluster: &containerpb.Cluster{Name: "training-us", Endpoint: "34.1.2.3", MasterAuth: &containerpb.MasterAuth{ClusterCaCertificate: b64([]byte("not pem"))}},
			wantErr: "reading the CA certificate of cluster training-us: not PEM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server, user, err := KubeconfigEntries(tt.cluster, tt.clientCert)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("KubeconfigEntries() = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := &clientcmdapi.Cluster{Server: tt.wantServer, CertificateAuthorityData: pki.caPEM}
			if d := cmp.Diff(want, server); d != "" {
				t.Errorf("cluster (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantUser, user); d != "" {
				t.Errorf("user (-want +got):\n%s", d)
			}
		})
	}
}

// The plugin form, as written to a file, is what gcloud writes (with the
// interactive mode kubectl otherwise assumes).
func TestKubeconfigEntriesFile(t *testing.T) {
	c := &containerpb.Cluster{Name: "training-us", Endpoint: "34.1.2.3", Status: containerpb.Cluster_RUNNING,
		MasterAuth: &containerpb.MasterAuth{ClusterCaCertificate: b64(newTestPKI(t).caPEM)}}
	server, user, err := KubeconfigEntries(c, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	Credential{Cluster: "training-us", Entry: EntryName("acme-ml", "us-west1-b", "training-us"), Server: server, User: user}.AddTo(cfg)
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := `- name: gke_acme-ml_us-west1-b_training-us
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args: null
      command: gke-gcloud-auth-plugin
      env: null
      installHint: Install gke-gcloud-auth-plugin for use with kubectl by following
        https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin
      interactiveMode: IfAvailable
      provideClusterInfo: true
`
	if got := string(b); !strings.HasSuffix(got, want) || !strings.Contains(got, "    server: https://34.1.2.3\n") ||
		!strings.Contains(got, "contexts:\n- context:\n    cluster: gke_acme-ml_us-west1-b_training-us\n    user: gke_acme-ml_us-west1-b_training-us\n  name: training-us\n") {
		t.Errorf("kubeconfig:\n%s\nwant it to end with:\n%s", got, want)
	}
}

// Credentials reads the clusters through the real client from the
// emulator: one running (its entries reach its control plane with the
// emulator's client certificate), one never created, one whose create
// failed, and a joined one that is skipped.
func TestCredentials(t *testing.T) {
	pki := newTestPKI(t)
	emu, c := startEmulator(t, pki)
	tp := &topology.Topology{
		Metadata: topology.ObjectMeta{Name: "ai-platform"},
		Spec: topology.Spec{
			GKE: &topology.GKEDefaults{Project: "acme-ml"},
			Regions: []topology.Region{
				{Name: "us-west1", Clusters: []topology.Cluster{
					{Name: "training-us", GKE: &topology.GKECluster{Location: "us-west1-b", NodePools: []topology.NodePool{{Name: "cpu", MachineType: "e2-standard-4"}}}},
					{Name: "broken", GKE: &topology.GKECluster{NodePools: []topology.NodePool{{Name: "cpu", MachineType: "e2-standard-4"}}}},
				}},
				{Name: "europe-west1", Clusters: []topology.Cluster{
					{Name: "serving-eu", GKE: &topology.GKECluster{NodePools: []topology.NodePool{{Name: "cpu", MachineType: "e2-standard-4"}}}},
					{Name: "serving-us", Kubeconfig: &topology.KubeconfigRef{Context: "serving-us"}},
				}},
			},
		},
	}
	refs := tp.Clusters()
	create(t, c, Desired(tp, refs[0]))
	emu.FailNextOperation("broken", containerpb.Operation_CREATE_CLUSTER, "no capacity")
	create(t, c, Desired(tp, refs[1]))

	creds := Credentials(t.Context(), c, tp, refs, ClientOptions{EmulatorHost: "emulated"})
	var names []string
	for _, cr := range creds {
		names = append(names, cr.Cluster)
	}
	if d := cmp.Diff([]string{"training-us", "broken", "serving-eu"}, names); d != "" {
		t.Fatalf("credentials for (-want +got):\n%s", d)
	}

	ok := creds[0]
	if ok.Err != nil {
		t.Fatalf("training-us: %v", ok.Err)
	}
	if ok.Entry != "gke_acme-ml_us-west1-b_training-us" || ok.Region != "us-west1" {
		t.Errorf("training-us: entry %q, region %q", ok.Entry, ok.Region)
	}
	cfg := clientcmdapi.NewConfig()
	ok.AddTo(cfg)
	rc, err := clientcmd.NewNonInteractiveClientConfig(*cfg, "training-us", &clientcmd.ConfigOverrides{}, nil).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	if got := whoAmI(t, rc); got != "cert:admin" {
		t.Errorf("the context reaches the control plane as %q, want the emulator's client certificate (cert:admin)", got)
	}

	for _, tt := range []struct {
		cr   Credential
		want string
	}{
		{creds[1], "cluster broken (GKE acme-ml/us-west1) is ERROR, not RUNNING: run again once it is"},
		{creds[2], "cluster serving-eu (GKE acme-ml/europe-west1) does not exist yet: kubectl geofed apply creates it"},
	} {
		if tt.cr.Err == nil || tt.cr.Err.Error() != tt.want {
			t.Errorf("%s: %v, want %q", tt.cr.Cluster, tt.cr.Err, tt.want)
		}
		if tt.cr.Server != nil || tt.cr.User != nil {
			t.Errorf("%s has entries despite its error", tt.cr.Cluster)
		}
	}
}

// AddTo replaces entries of the same names in the file they came from and
// keeps the namespace of a context it replaces.
func TestCredentialAddTo(t *testing.T) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["gke_p_l_c"] = &clientcmdapi.Cluster{Server: "https://old", LocationOfOrigin: "/b"}
	cfg.AuthInfos["gke_p_l_c"] = &clientcmdapi.AuthInfo{Token: "old", LocationOfOrigin: "/b"}
	cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "elsewhere", AuthInfo: "someone", Namespace: "ml", LocationOfOrigin: "/c"}
	cfg.Contexts["other"] = &clientcmdapi.Context{Cluster: "x", AuthInfo: "y", LocationOfOrigin: "/a"}
	cr := Credential{Cluster: "c", Entry: "gke_p_l_c", Server: &clientcmdapi.Cluster{Server: "https://new"}, User: &clientcmdapi.AuthInfo{ClientCertificateData: []byte("cert")}}

	if got := cr.AddTo(cfg); got != "/c" {
		t.Errorf("AddTo = %q, want the context's file /c", got)
	}
	if c := cfg.Clusters["gke_p_l_c"]; c.Server != "https://new" || c.LocationOfOrigin != "/b" {
		t.Errorf("cluster = %+v", c)
	}
	if u := cfg.AuthInfos["gke_p_l_c"]; u.Token != "" || string(u.ClientCertificateData) != "cert" || u.LocationOfOrigin != "/b" {
		t.Errorf("user = %+v", u)
	}
	if c := cfg.Contexts["c"]; c.Cluster != "gke_p_l_c" || c.AuthInfo != "gke_p_l_c" || c.Namespace != "ml" || c.LocationOfOrigin != "/c" {
		t.Errorf("context = %+v", c)
	}
	if c := cfg.Contexts["other"]; c.Cluster != "x" {
		t.Errorf("another context changed: %+v", c)
	}
	// The credential's own entries are copies: writing them into one
	// config does not tie them to another.
	if cr.Server.LocationOfOrigin != "" {
		t.Error("AddTo modified the credential")
	}
	if got := cr.AddTo(clientcmdapi.NewConfig()); got != "" {
		t.Errorf("AddTo into an empty config = %q, want \"\" (the default file)", got)
	}
}
