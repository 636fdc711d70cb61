package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/geofed-io/kubectl-geofed/pkg/gke"
)

func TestKubeconfigValidate(t *testing.T) {
	valid := func() KubeconfigOptions {
		return KubeconfigOptions{Filename: "topology.yaml", Merge: true, Timeout: time.Minute}
	}
	tests := []struct {
		name    string
		modify  func(*KubeconfigOptions)
		wantErr string // "" = valid
	}{
		{name: "defaults", modify: func(*KubeconfigOptions) {}},
		{name: "one cluster", modify: func(o *KubeconfigOptions) { o.Cluster = "training-us" }},
		{name: "merge into another file", modify: func(o *KubeconfigOptions) { o.OutPath = "k" }},
		{name: "fresh file", modify: func(o *KubeconfigOptions) { o.Merge, o.OutPath = false, "k" }},
		{name: "no -f", modify: func(o *KubeconfigOptions) { o.Filename = "" }, wantErr: "a topology file is required: -f topology.yaml"},
		{name: "fresh file without a path", modify: func(o *KubeconfigOptions) { o.Merge = false }, wantErr: "--merge=false writes a fresh file: name it with --kubeconfig-out PATH"},
		{name: "no timeout", modify: func(o *KubeconfigOptions) { o.Timeout = 0 }, wantErr: "--timeout must be positive, not 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid()
			tt.modify(&o)
			err := o.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Errorf("Validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// gkeCredential is a cluster's entries as gke.Credentials makes them.
func gkeCredential(name, server string) gke.Credential {
	return gke.Credential{
		Cluster: name,
		Entry:   gke.EntryName("acme-ml", "us-west1", name),
		Server:  &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: []byte("ca of " + name)},
		User:    &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{APIVersion: "client.authentication.k8s.io/v1beta1", Command: gke.AuthPlugin, InteractiveMode: clientcmdapi.IfAvailableExecInteractiveMode}},
	}
}

// kubeconfigWith writes a kubeconfig holding the named contexts, each
// with its own cluster and user, and the given current context.
func kubeconfigWith(t *testing.T, path, current string, contexts ...string) {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	for _, name := range contexts {
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: "https://" + name + ".example"}
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: "token-of-" + name}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: "ns-" + name}
	}
	cfg.CurrentContext = current
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
}

func loadKubeconfig(t *testing.T, path string) *clientcmdapi.Config {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Merging goes through clientcmd's loading rules: new contexts into the
// first file of $KUBECONFIG, a context that exists rewritten in the file it
// is in, everything else left as it was.
func TestKubeconfigWriteMerge(t *testing.T) {
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first"), filepath.Join(dir, "second")
	kubeconfigWith(t, first, "mine", "mine")
	// training-us already has a context, in the second file, with a
	// namespace its owner chose.
	kubeconfigWith(t, second, "", "other", "training-us")
	t.Setenv("KUBECONFIG", first+string(os.PathListSeparator)+second)
	beforeFirst, beforeSecond := loadKubeconfig(t, first), loadKubeconfig(t, second)

	o := &KubeconfigOptions{Merge: true, ConfigFlags: &genericclioptions.ConfigFlags{KubeConfig: ptr("")}}
	creds := []gke.Credential{gkeCredential("training-us", "https://10.0.0.1"), gkeCredential("serving-eu", "https://10.0.0.2")}
	files, err := o.write(creds)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{second, first}, files); d != "" {
		t.Errorf("files written (-want +got):\n%s", d)
	}

	a, b := loadKubeconfig(t, first), loadKubeconfig(t, second)
	// serving-eu is new: in the first file.
	if c := a.Contexts["serving-eu"]; c == nil || c.Cluster != "gke_acme-ml_us-west1_serving-eu" || c.AuthInfo != c.Cluster {
		t.Errorf("serving-eu context in the first file = %+v", c)
	}
	if c := a.Clusters["gke_acme-ml_us-west1_serving-eu"]; c == nil || c.Server != "https://10.0.0.2" || string(c.CertificateAuthorityData) != "ca of serving-eu" {
		t.Errorf("serving-eu cluster = %+v", c)
	}
	if u := a.AuthInfos["gke_acme-ml_us-west1_serving-eu"]; u == nil || u.Exec == nil || u.Exec.Command != gke.AuthPlugin {
		t.Errorf("serving-eu user = %+v", u)
	}
	// training-us is replaced where it was, keeping its namespace.
	if c := b.Contexts["training-us"]; c == nil || c.Cluster != "gke_acme-ml_us-west1_training-us" || c.Namespace != "ns-training-us" {
		t.Errorf("training-us context in the second file = %+v", c)
	}
	if _, dup := a.Contexts["training-us"]; dup {
		t.Error("training-us was also written to the first file, shadowing the second")
	}
	// Everything else is as it was; with two contexts written, the
	// current one stays.
	for _, c := range []struct {
		name          string
		before, after *clientcmdapi.Config
	}{{"mine", beforeFirst, a}, {"other", beforeSecond, b}} {
		if d := cmp.Diff(c.before.Contexts[c.name], c.after.Contexts[c.name]); d != "" {
			t.Errorf("context %s changed (-before +after):\n%s", c.name, d)
		}
		if d := cmp.Diff(c.before.AuthInfos[c.name], c.after.AuthInfos[c.name]); d != "" {
			t.Errorf("user %s changed (-before +after):\n%s", c.name, d)
		}
		if d := cmp.Diff(c.before.Clusters[c.name], c.after.Clusters[c.name]); d != "" {
			t.Errorf("cluster %s changed (-before +after):\n%s", c.name, d)
		}
	}
	if a.CurrentContext != "mine" {
		t.Errorf("current context = %q, want mine kept", a.CurrentContext)
	}

	// One context written becomes the current one, as with gcloud.
	if _, err := o.write(creds[1:]); err != nil {
		t.Fatal(err)
	}
	if got := loadKubeconfig(t, first).CurrentContext; got != "serving-eu" {
		t.Errorf("current context = %q, want serving-eu", got)
	}
}

// --kubeconfig-out merges into that file, creating it when missing;
// --merge=false replaces it with only the topology's contexts.
func TestKubeconfigWriteOut(t *testing.T) {
	isolateKubeconfig(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "sub", "fleet.kubeconfig")
	creds := []gke.Credential{gkeCredential("training-us", "https://10.0.0.1")}

	o := &KubeconfigOptions{Merge: true, OutPath: out}
	files, err := o.write(creds)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{out}, files); d != "" {
		t.Errorf("files (-want +got):\n%s", d)
	}
	cfg := loadKubeconfig(t, out)
	if len(cfg.Contexts) != 1 || cfg.Contexts["training-us"] == nil || cfg.CurrentContext != "training-us" {
		t.Errorf("new file holds %+v, current %q", cfg.Contexts, cfg.CurrentContext)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v (%v), want 0600: the file holds credentials", fi.Mode().Perm(), err)
	}

	// Merging again keeps what else the file holds.
	kubeconfigWith(t, out, "mine", "mine")
	if _, err := o.write(creds); err != nil {
		t.Fatal(err)
	}
	if cfg := loadKubeconfig(t, out); cfg.Contexts["mine"] == nil || cfg.Contexts["training-us"] == nil {
		t.Errorf("merged file holds %v", cfg.Contexts)
	}

	// --merge=false: only the topology's contexts.
	o.Merge = false
	if _, err := o.write(creds); err != nil {
		t.Fatal(err)
	}
	if cfg := loadKubeconfig(t, out); len(cfg.Contexts) != 1 || cfg.Contexts["training-us"] == nil {
		t.Errorf("fresh file holds %v", cfg.Contexts)
	}
	if b, _ := os.ReadFile(out); strings.Contains(string(b), "token-of-mine") {
		t.Error("the fresh file kept another user's credentials")
	}
}

func TestHomeRelative(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	tests := []struct{ path, want string }{
		{filepath.Join(home, ".kube", "config"), "~/.kube/config"},
		{"/etc/kubeconfig", "/etc/kubeconfig"},
		{filepath.Join(home+"x", "config"), filepath.Join(home+"x", "config")},
		{"fleet.kubeconfig", "fleet.kubeconfig"},
	}
	for _, tt := range tests {
		if got := homeRelative(tt.path); got != tt.want {
			t.Errorf("homeRelative(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}
