package member

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

const secretToken = "s3cr3t-token-never-shown"

// writeKubeconfig writes a kubeconfig with one context per name, each
// pointing at https://<name>.example, and returns its path.
func writeKubeconfig(t *testing.T, path string, contexts ...string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.AuthInfos["user"] = &clientcmdapi.AuthInfo{Token: secretToken}
	for _, name := range contexts {
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: "https://" + name + ".example"}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: "user"}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestKubeconfigResolution(t *testing.T) {
	dir := t.TempDir()
	flag := writeKubeconfig(t, filepath.Join(dir, "flag"), "a", "shared")
	env1 := writeKubeconfig(t, filepath.Join(dir, "env1"), "b", "shared")
	env2 := writeKubeconfig(t, filepath.Join(dir, "env2"), "c")
	writeKubeconfig(t, filepath.Join(dir, "topo", "clusters", "own"), "d", "shared")
	t.Setenv(clientcmd.RecommendedConfigPathEnvVar, env1+string(os.PathListSeparator)+env2)

	tests := []struct {
		name     string
		explicit string
		ref      topology.KubeconfigRef
		want     string
	}{
		{"--kubeconfig", flag, topology.KubeconfigRef{Context: "a"}, "https://a.example"},
		{"$KUBECONFIG, first file", "", topology.KubeconfigRef{Context: "b"}, "https://b.example"},
		{"$KUBECONFIG, second file", "", topology.KubeconfigRef{Context: "c"}, "https://c.example"},
		{"$KUBECONFIG, first file wins", "", topology.KubeconfigRef{Context: "shared"}, "https://shared.example"},
		{"target path, relative to the topology", flag, topology.KubeconfigRef{Context: "d", Path: "clusters/own"}, "https://d.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := newKubeconfigLoader(tt.explicit, filepath.Join(dir, "topo")).restConfig(&tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Host != tt.want || cfg.BearerToken != secretToken {
				t.Errorf("config = host %q, token %t; want %q with the user's token", cfg.Host, cfg.BearerToken == secretToken, tt.want)
			}
		})
	}
}

func TestKubeconfigErrors(t *testing.T) {
	dir := t.TempDir()
	full := writeKubeconfig(t, filepath.Join(dir, "full"), "lab-b", "lab-a")
	empty := writeKubeconfig(t, filepath.Join(dir, "empty"))
	missing := filepath.Join(dir, "missing")
	many := writeKubeconfig(t, filepath.Join(dir, "many"), strings.Split("c00 c01 c02 c03 c04 c05 c06 c07 c08 c09 c10 c11", " ")...)
	broken := filepath.Join(dir, "broken")
	cfg := clientcmdapi.NewConfig()
	cfg.AuthInfos["user"] = &clientcmdapi.AuthInfo{Token: secretToken}
	cfg.Contexts["no-cluster"] = &clientcmdapi.Context{Cluster: "nowhere", AuthInfo: "user"}
	cfg.Clusters["here"] = &clientcmdapi.Cluster{Server: "https://here.example"}
	cfg.AuthInfos["cert-user"] = &clientcmdapi.AuthInfo{Token: secretToken, ClientCertificate: missing, ClientKey: missing}
	cfg.Contexts["no-cert"] = &clientcmdapi.Context{Cluster: "here", AuthInfo: "cert-user"}
	if err := clientcmd.WriteToFile(*cfg, broken); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		env      string
		explicit string
		ref      topology.KubeconfigRef
		want     string
	}{{
		name:     "unknown context",
		explicit: full,
		ref:      topology.KubeconfigRef{Context: "lab-c"},
		want:     fmt.Sprintf(`kubeconfig context "lab-c" not found in %s (contexts there: lab-a, lab-b)`, full),
	}, {
		name: "unknown context, some $KUBECONFIG files missing",
		env:  full + string(os.PathListSeparator) + missing,
		ref:  topology.KubeconfigRef{Context: "lab-c"},
		want: fmt.Sprintf(`kubeconfig context "lab-c" not found in %s (contexts there: lab-a, lab-b); %s not found`, full, missing),
	}, {
		name: "no kubeconfig at all",
		env:  missing,
		ref:  topology.KubeconfigRef{Context: "lab-c"},
		want: fmt.Sprintf(`kubeconfig context "lab-c" not found: no kubeconfig file at %s`, missing),
	}, {
		name:     "a kubeconfig without contexts",
		explicit: empty,
		ref:      topology.KubeconfigRef{Context: "lab-c"},
		want:     fmt.Sprintf(`kubeconfig context "lab-c" not found in %s (it has no contexts)`, empty),
	}, {
		name:     "many contexts are cut short",
		explicit: many,
		ref:      topology.KubeconfigRef{Context: "c12"},
		want:     fmt.Sprintf(`kubeconfig context "c12" not found in %s (contexts there: c00, c01, c02, c03, c04, c05, c06, c07, c08, c09 and 2 more)`, many),
	}, {
		name:     "--kubeconfig missing",
		explicit: missing,
		ref:      topology.KubeconfigRef{Context: "lab-a"},
		want:     fmt.Sprintf(`reading kubeconfig: stat %s: no such file or directory`, missing),
	}, {
		name:     "a context naming no cluster",
		explicit: broken,
		ref:      topology.KubeconfigRef{Context: "no-cluster"},
		want:     fmt.Sprintf(`kubeconfig context "no-cluster" names cluster "nowhere", which is not in %s`, broken),
	}, {
		name:     "a client certificate file missing",
		explicit: broken,
		ref:      topology.KubeconfigRef{Context: "no-cert"},
		want: fmt.Sprintf(`kubeconfig context "no-cert": invalid configuration: [`+
			`unable to read client-cert %[1]s for cert-user due to open %[1]s: no such file or directory, `+
			`unable to read client-key %[1]s for cert-user due to open %[1]s: no such file or directory]`, missing),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(clientcmd.RecommendedConfigPathEnvVar, tt.env)
			_, err := newKubeconfigLoader(tt.explicit, dir).restConfig(&tt.ref)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error =\n%v\nwant\n%s", err, tt.want)
			}
			if strings.Contains(err.Error(), secretToken) {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

// TestConnectWithoutAServer covers the targets Connect settles before
// sending anything: a kubeconfig error and a cluster not created yet.
func TestConnectWithoutAServer(t *testing.T) {
	kubeconfig := writeKubeconfig(t, filepath.Join(t.TempDir(), "config"), "lab-a")
	conns := Connect(context.Background(), []Target{
		{Name: "serving-eu", Region: "europe-west1", Kubeconfig: &topology.KubeconfigRef{Context: "serving-eu"}},
		{Name: "training-us", Region: "us-west1"},
	}, Options{KubeconfigPath: kubeconfig})

	want := []struct{ name, region, err string }{
		{"serving-eu", "europe-west1", fmt.Sprintf(`connecting to cluster serving-eu (context serving-eu): kubeconfig context "serving-eu" not found in %s (contexts there: lab-a)`, kubeconfig)},
		{"training-us", "us-west1", "connecting to cluster training-us: cluster does not exist yet"},
	}
	if len(conns) != len(want) {
		t.Fatalf("Connect returned %d conns, want %d", len(conns), len(want))
	}
	for i, c := range conns {
		if c.Name != want[i].name || c.Region != want[i].region || c.Err == nil || c.Err.Error() != want[i].err {
			t.Errorf("conn %d = %s/%s %v, want %s/%s %s", i, c.Region, c.Name, c.Err, want[i].region, want[i].name, want[i].err)
		}
		if c.Requests() != 0 {
			t.Errorf("conn %s sent %d requests, want 0", c.Name, c.Requests())
		}
	}
	if !errors.Is(conns[1].Err, ErrNotCreated) {
		t.Errorf("errors.Is(%v, ErrNotCreated) = false", conns[1].Err)
	}
}
