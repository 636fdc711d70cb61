package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/join"
	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

// joinTopology is a topology of one joined cluster, a (context a) in
// us-west1, and a workload dividing 3 replicas by weight among the
// clusters labelled role=web.
const joinTopology = `# Comments stay where they are.
apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: joinme
spec:
  regions:
  - name: us-west1
    clusters:
    - name: a   # the first
      labels: {role: web}
      kubeconfig: {context: a}
  workloads:
  - name: web
    source: app
    placement:
      clusterSelector: {matchLabels: {role: web}}
      replicas: {total: 3, divideBy: weight}
`

// writeJoinTopology writes joinTopology with its app and returns the
// topology file's path.
func writeJoinTopology(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"topology.yaml":          joinTopology,
		"app/kustomization.yaml": "resources:\n- deployment.yaml\n",
		"app/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.example/web:1
        resources:
          requests: {cpu: 100m}
`,
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "topology.yaml")
}

func TestJoinValidate(t *testing.T) {
	valid := func() JoinOptions {
		return JoinOptions{Options: join.Options{Context: "c", Filename: "topology.yaml", Region: "us-east1", Name: "c"},
			fleetFlags: fleetFlags{Refresh: "inventory", Parallel: 8, RequestTimeout: time.Minute}}
	}
	tests := []struct {
		name    string
		modify  func(*JoinOptions)
		wantErr string // "" = valid
	}{
		{name: "defaults", modify: func(*JoinOptions) {}},
		{name: "json", modify: func(o *JoinOptions) { o.Output = "json" }},
		{name: "yaml", modify: func(o *JoinOptions) { o.Output = "yaml" }},
		{name: "dry run", modify: func(o *JoinOptions) { o.DryRun = true }},
		{name: "offline dry run", modify: func(o *JoinOptions) { o.DryRun, o.Offline = true, true }},
		{name: "no context", modify: func(o *JoinOptions) { o.Context = "" }, wantErr: "a kubeconfig context is required: join CONTEXT --region REGION -f topology.yaml"},
		{name: "no -f", modify: func(o *JoinOptions) { o.Filename = "" }, wantErr: "a topology file is required: -f topology.yaml"},
		{name: "no region", modify: func(o *JoinOptions) { o.Region = "" }, wantErr: "a region is required: --region REGION (a GCP region, such as us-east1)"},
		{name: "bad -o", modify: func(o *JoinOptions) { o.Output = "table" }, wantErr: `--output must be json or yaml, not "table"`},
		{name: "-o with --dry-run", modify: func(o *JoinOptions) { o.Output, o.DryRun = "yaml", true }, wantErr: "--dry-run prints the new topology file; --output applies to the plan, which it does not print"},
		{name: "-o with --offline", modify: func(o *JoinOptions) { o.Output, o.Offline = "json", true }, wantErr: "--offline plans nothing, so there is nothing for --output to print"},
		{name: "bad --refresh", modify: func(o *JoinOptions) { o.Refresh = "partial" }, wantErr: `--refresh must be inventory or full, not "partial"`},
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

func TestJoinComplete(t *testing.T) {
	tests := []struct {
		name       string
		context    string
		nameFlag   string
		labels     []string
		wantName   string
		wantLabels map[string]string
		wantErr    string
	}{
		{name: "name from context", context: "gke_acme_us-east1_Edge", wantName: "gke-acme-us-east1-edge", wantLabels: map[string]string{}},
		{name: "name given", context: "gke_acme_us-east1_edge", nameFlag: "edge", wantName: "edge", wantLabels: map[string]string{}},
		{name: "labels", context: "c", labels: []string{"role=serving", "tier=", "example.com/x=a=b"}, wantName: "c",
			wantLabels: map[string]string{"role": "serving", "tier": "", "example.com/x": "a=b"}},
		{name: "label without =", context: "c", labels: []string{"role"}, wantErr: `--label "role": want KEY=VALUE`},
		{name: "label without key", context: "c", labels: []string{"=x"}, wantErr: `--label "=x": want KEY=VALUE`},
		{name: "label twice", context: "c", labels: []string{"role=a", "role=b"}, wantErr: "--label role is given twice"},
		{name: "context that makes no name", context: "@@", wantErr: `context "@@" has no letters or digits to name a cluster after: name the cluster with --name`},
		{name: "context that makes no name, with --name", context: "@@", nameFlag: "x", wantName: "x", wantLabels: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &JoinOptions{Options: join.Options{Name: tt.nameFlag}}
			err := o.Complete([]string{tt.context}, tt.labels)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("Complete() = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Complete() = %v", err)
			}
			if o.Context != tt.context || o.Name != tt.wantName {
				t.Errorf("context %q, name %q; want %q, %q", o.Context, o.Name, tt.context, tt.wantName)
			}
			if d := cmp.Diff(tt.wantLabels, o.Labels); d != "" {
				t.Errorf("labels (-want +got):\n%s", d)
			}
		})
	}
}

// refusedServer is the address of a port nothing listens on.
func refusedServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "https://" + addr
}

// writeJoinKubeconfig writes a kubeconfig with one context per name, each
// reaching server, and returns its path.
func writeJoinKubeconfig(t *testing.T, server string, contexts ...string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	for _, name := range contexts {
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, InsecureSkipTLSVerify: true}
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func joinOptions(file, kubeconfig string, streams genericiooptions.IOStreams) *JoinOptions {
	return &JoinOptions{
		Options:     join.Options{Filename: file},
		fleetFlags:  fleetFlags{Refresh: "inventory", Parallel: 2, ClusterTimeout: 2 * time.Second, RequestTimeout: 5 * time.Second},
		ConfigFlags: &genericclioptions.ConfigFlags{KubeConfig: &kubeconfig},
		IOStreams:   streams,
	}
}

// Every refusal says why, exactly, and leaves the file as it was.
func TestJoinRefusals(t *testing.T) {
	server := refusedServer(t)
	tests := []struct {
		name    string
		context string
		flags   func(*JoinOptions)
		labels  []string
		// want is the error; FILE and KUBECONFIG stand for the paths,
		// SERVER for the refused server.
		want string
	}{
		{
			name:    "unknown region",
			context: "b",
			flags:   func(o *JoinOptions) { o.Region = "us-est1" },
			want:    `unknown region "us-est1" (did you mean "us-east1"?)`,
		},
		{
			name:    "duplicate name",
			context: "b",
			flags:   func(o *JoinOptions) { o.Region, o.Name = "us-east1", "a" },
			want:    `cluster "a" is already in the topology (FILE:10)`,
		},
		{
			name:    "duplicate name taken from the context",
			context: "A",
			flags:   func(o *JoinOptions) { o.Region = "us-east1" },
			want:    `cluster "a" is already in the topology (FILE:10); the name comes from the context: give another with --name`,
		},
		{
			name:    "duplicate context",
			context: "a",
			flags:   func(o *JoinOptions) { o.Region, o.Name = "us-east1", "a2" },
			want:    `context "a" is already joined as cluster a (FILE:10)`,
		},
		{
			name:    "context not in the kubeconfig",
			context: "ghost",
			flags:   func(o *JoinOptions) { o.Region = "us-east1" },
			want:    `context "ghost" cannot be reached: connecting to cluster ghost (context ghost): kubeconfig context "ghost" not found in KUBECONFIG (contexts there: a, b); nothing was written (--offline joins it anyway)`,
		},
		{
			name:    "context whose server refuses",
			context: "b",
			flags:   func(o *JoinOptions) { o.Region = "us-east1" },
			want:    `context "b" cannot be reached: connecting to cluster b (context b): SERVER refused the connection; nothing was written (--offline joins it anyway)`,
		},
		{
			name:    "the same, as a dry run",
			context: "b",
			flags:   func(o *JoinOptions) { o.Region, o.DryRun = "us-east1", true },
			want:    `context "b" cannot be reached: connecting to cluster b (context b): SERVER refused the connection; nothing was written (--offline joins it anyway)`,
		},
		{
			name:    "invalid label",
			context: "b",
			flags:   func(o *JoinOptions) { o.Region, o.Offline = "us-east1", true },
			labels:  []string{"geofed.io/cluster=x"},
			want:    `labels[geofed.io/cluster]: reserved: geofed sets it to the cluster's name`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeJoinTopology(t)
			kubeconfig := writeJoinKubeconfig(t, server, "a", "b")
			streams, _, out, _ := genericiooptions.NewTestIOStreams()
			o := joinOptions(file, kubeconfig, streams)
			tt.flags(o)
			if err := o.Complete([]string{tt.context}, tt.labels); err != nil {
				t.Fatal(err)
			}
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			err := o.Run(context.Background())
			want := strings.NewReplacer("FILE", file, "KUBECONFIG", kubeconfig, "SERVER", server).Replace(tt.want)
			if err == nil || err.Error() != want {
				t.Errorf("Run() = %v\nwant %s", err, want)
			}
			if out.Len() > 0 {
				t.Errorf("a refused join printed:\n%s", out)
			}
			if b, err := os.ReadFile(file); err != nil || string(b) != joinTopology {
				t.Errorf("the topology changed (%v):\n%s", err, b)
			}
		})
	}
}

// --offline writes the file without connecting (the kubeconfig knows no
// such context), keeping its mode; --dry-run prints the file it would
// write and writes nothing.
func TestJoinOffline(t *testing.T) {
	const added = "    - name: edge\n      labels: {role: web}\n      kubeconfig: {context: gke_acme_us-west1_edge}\n"
	want := strings.Replace(joinTopology, "  workloads:\n", added+"  workloads:\n", 1)
	isolateKubeconfig(t)

	t.Run("dry run", func(t *testing.T) {
		file := writeJoinTopology(t)
		streams, _, out, errOut := genericiooptions.NewTestIOStreams()
		o := joinOptions(file, "", streams)
		o.Region, o.Name, o.Offline, o.DryRun = "us-west1", "edge", true, true
		if err := o.Complete([]string{"gke_acme_us-west1_edge"}, []string{"role=web"}); err != nil {
			t.Fatal(err)
		}
		if err := o.Run(context.Background()); err != nil {
			t.Fatalf("Run() = %v", err)
		}
		if out.String() != want {
			t.Errorf("dry run printed:\n%s\nwant:\n%s", out, want)
		}
		if errOut.Len() > 0 {
			t.Errorf("stderr: %s", errOut)
		}
		if b, _ := os.ReadFile(file); string(b) != joinTopology {
			t.Errorf("a dry run changed the file:\n%s", b)
		}
	})

	t.Run("written", func(t *testing.T) {
		file := writeJoinTopology(t)
		if err := os.Chmod(file, 0o600); err != nil {
			t.Fatal(err)
		}
		streams, _, out, _ := genericiooptions.NewTestIOStreams()
		o := joinOptions(file, "", streams)
		o.Region, o.Offline = "europe-west1", true
		if err := o.Complete([]string{"kind-edge"}, nil); err != nil {
			t.Fatal(err)
		}
		if err := o.Run(context.Background()); err != nil {
			t.Fatalf("Run() = %v", err)
		}
		wantOut := fmt.Sprintf("Cluster kind-edge (context kind-edge) joined the new region europe-west1 at %s:15.\n"+
			"Not planned (--offline): kubectl geofed plan -f %s shows what apply would do there.\n", file, file)
		if out.String() != wantOut {
			t.Errorf("printed:\n%s\nwant:\n%s", out, wantOut)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		wantFile := strings.Replace(joinTopology, "  workloads:\n",
			"  - name: europe-west1\n    clusters:\n    - name: kind-edge\n      kubeconfig: {context: kind-edge}\n  workloads:\n", 1)
		if string(b) != wantFile {
			t.Errorf("file:\n%s\nwant:\n%s", b, wantFile)
		}
		if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v (%v), want 0600 kept", fi.Mode().Perm(), err)
		}
	})
}

// Joining a lab cluster: reached, written, and planned — and the plan of
// the one cluster counts exactly what the whole plan counts for it.
func TestJoinOnLab(t *testing.T) {
	node := []lab.NodeSpec{{Name: "n", Count: 1}}
	l, _ := labtest.New(t, lab.ClusterSpec{Name: "a", Nodes: node}, lab.ClusterSpec{Name: "b", Nodes: node})
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := l.Kubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	file := writeJoinTopology(t)

	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	o := joinOptions(file, kubeconfig, streams)
	o.Region = "europe-west1"
	if err := o.Complete([]string{"b"}, []string{"role=web"}); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := o.Run(context.Background()); err != nil {
		t.Fatalf("Run() = %v\n%s", err, errOut)
	}
	text := out.String()
	for _, want := range []string{
		fmt.Sprintf("Cluster b (context b) joined the new region europe-west1 at %s:15.\n\nRegion europe-west1\n", file),
		"  ~ cluster b (joined, v",
		"      + apps/Deployment default/web",
		"web (weight)",
		"→ b 1, a 2", // its share was divided with a's
		"Plan: 0 clusters to create, 0 to change · 1 objects to create, 0 to change, 0 to delete.\n",
		"Replica shares of other clusters may move too: kubectl geofed plan -f " + file + " shows the whole fleet.\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Region us-west1") || strings.Contains(text, "cluster a ") {
		t.Errorf("the plan shows other clusters:\n%s", text)
	}

	// The whole plan of the new file: every cluster's own summary adds up
	// to plan's.
	top, err := topology.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	sess := o.fleetFlags.session(kubeconfig)
	defer sess.Close()
	res, err := sess.Plan(context.Background(), o.fleetFlags.planOptions(top))
	if err != nil {
		t.Fatal(err)
	}
	var sum plan.Summary
	for _, r := range res.Plan.Regions {
		for _, c := range r.Clusters {
			s := res.Plan.Only(c.Name).Summary
			sum.ObjectsToCreate += s.ObjectsToCreate
			sum.ObjectsToChange += s.ObjectsToChange
			sum.ObjectsToDelete += s.ObjectsToDelete
			sum.Conflicts += s.Conflicts
			sum.Errors += s.Errors
			sum.Unreachable += s.Unreachable
			sum.Attention += s.Attention
		}
	}
	if d := cmp.Diff(res.Plan.Summary, sum); d != "" {
		t.Errorf("the clusters' summaries do not add up to the plan's (-plan +sum):\n%s", d)
	}
	if sum.ObjectsToCreate != 2 {
		t.Errorf("%d objects to create, want the Deployment on a and on b", sum.ObjectsToCreate)
	}

	// The same context again is refused, naming where it already is.
	o = joinOptions(file, kubeconfig, streams)
	o.Region = "europe-west1"
	if err := o.Complete([]string{"b"}, nil); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`context "b" is already joined as cluster b (%s:15)`, file)
	err = o.Run(context.Background())
	if err == nil || err.Error() != want {
		t.Errorf("joining b again: %v, want %q", err, want)
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		t.Errorf("a refusal is a plain error (exit 1), not %v", ee)
	}
}
