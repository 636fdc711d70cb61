package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"
)

// exampleTopology is the example shipped with the plugin.
const exampleTopology = "../../manifests/topology.yaml"

// exampleSecretValue is the data.token of
// manifests/apps/model-server/base/secret.yaml, base64 and decoded: neither
// may ever be printed.
var exampleSecretValue = []string{"cGxhY2Vob2xkZXItbm90LWEtcmVhbC10b2tlbg==", "placeholder-not-a-real-token"}

// runRender runs o with test streams and returns what it printed.
func runRender(t *testing.T, o RenderOptions) (out, errOut string, err error) {
	t.Helper()
	streams, _, outBuf, errBuf := genericiooptions.NewTestIOStreams()
	o.IOStreams = streams
	if o.Output == "" {
		o.Output = "yaml"
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	if err := o.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = o.Run(ctx)
	return outBuf.String(), errBuf.String(), err
}

// isolateKubeconfig points the default kubeconfig chain at an empty file, so
// no test ever reads the user's real configuration or reaches their clusters.
func isolateKubeconfig(t *testing.T) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", path)
}

var clusterHeader = regexp.MustCompile(`(?m)^# cluster: (\S+) \(region (\S+)\)$`)

func TestRenderYAMLGolden(t *testing.T) {
	isolateKubeconfig(t)
	tests := []struct {
		golden  string
		cluster string
		headers []string // "cluster region", in printed order
	}{
		{"render-all.golden", "", []string{"serving-eu europe-west1", "serving-us us-east1", "training-us us-west1"}},
		{"render-serving-eu.golden", "serving-eu", []string{"serving-eu europe-west1"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			out, errOut, err := runRender(t, RenderOptions{Filename: exampleTopology, Cluster: tt.cluster})
			if err != nil {
				t.Fatalf("Run() = %v", err)
			}
			if errOut != "" {
				t.Errorf("ErrOut = %q, want nothing", errOut)
			}
			golden(t, tt.golden, []byte(out))

			var headers []string
			for _, m := range clusterHeader.FindAllStringSubmatch(out, -1) {
				headers = append(headers, m[1]+" "+m[2])
			}
			if !slices.Equal(headers, tt.headers) {
				t.Errorf("cluster headers = %q, want %q", headers, tt.headers)
			}
			checkYAMLDocuments(t, out)
			checkRedacted(t, out)
		})
	}
}

// checkYAMLDocuments checks that out is multi-document YAML in which every
// cluster's documents begin with its header line, and every document is one
// Kubernetes object.
func checkYAMLDocuments(t *testing.T, out string) {
	t.Helper()
	if !strings.HasPrefix(out, "# cluster: ") {
		t.Errorf("output does not begin with a cluster header: %.80q", out)
	}
	current := ""
	for i, doc := range strings.Split(out, "---\n") {
		if m := clusterHeader.FindStringSubmatch(doc); m != nil {
			if !strings.HasPrefix(doc, m[0]+"\n") {
				t.Errorf("document %d: cluster header is not its first line", i)
			}
			current = m[1]
		}
		if current == "" {
			t.Errorf("document %d comes before any cluster header", i)
		}
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Errorf("document %d (cluster %s) is not YAML: %v", i, current, err)
			continue
		}
		if obj["apiVersion"] == nil || obj["kind"] == nil {
			t.Errorf("document %d (cluster %s) is not a Kubernetes object: %v", i, current, obj)
		}
	}
}

// checkRedacted checks the example's Secret is printed, as (sensitive).
func checkRedacted(t *testing.T, out string) {
	t.Helper()
	for _, v := range exampleSecretValue {
		if strings.Contains(out, v) {
			t.Errorf("output contains the Secret's value %q", v)
		}
	}
	if !strings.Contains(out, "kind: Secret") && !strings.Contains(out, `"kind": "Secret"`) {
		t.Fatal("output has no Secret: the redaction check proves nothing")
	}
	if !strings.Contains(out, "token: (sensitive)") && !strings.Contains(out, `"token": "(sensitive)"`) {
		t.Error("the Secret's token is not shown as (sensitive)")
	}
}

type renderedJSON struct {
	Cluster string
	Region  string
	Objects []map[string]any
}

func decodeRenderJSON(t *testing.T, out string) []renderedJSON {
	t.Helper()
	var got []renderedJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("decoding -o json: %v\n%s", err, out)
	}
	return got
}

func TestRenderJSON(t *testing.T) {
	isolateKubeconfig(t)
	out, _, err := runRender(t, RenderOptions{Filename: exampleTopology, printFlags: printFlags{Output: "json"}})
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	checkRedacted(t, out)
	got := decodeRenderJSON(t, out)

	// Clusters by region, then name; the example's overlays give these kinds,
	// and the example's placement these replicas (model-server 6 by weight
	// 2:1, trainer 4 by locality on its only cluster).
	want := []struct {
		cluster, region string
		kinds           []string
		replicas        int64
	}{
		{"serving-eu", "europe-west1", []string{"ConfigMap", "Deployment", "Namespace", "Secret", "Service"}, 4},
		{"serving-us", "us-east1", []string{"ConfigMap", "Deployment", "Namespace", "Secret", "Service"}, 2},
		{"training-us", "us-west1", []string{"ConfigMap", "Deployment", "Namespace", "ServiceAccount"}, 4},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d clusters, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Cluster != w.cluster || g.Region != w.region {
			t.Errorf("cluster %d = %s (%s), want %s (%s)", i, g.Cluster, g.Region, w.cluster, w.region)
			continue
		}
		var kinds []string
		for _, obj := range g.Objects {
			kinds = append(kinds, fmt.Sprint(obj["kind"]))
		}
		if len(kinds) > 0 && kinds[0] != "Namespace" {
			t.Errorf("%s: first object is a %s, want the Namespace (apply order)", g.Cluster, kinds[0])
		}
		slices.Sort(kinds)
		if !slices.Equal(kinds, w.kinds) {
			t.Errorf("%s: kinds = %v, want %v", g.Cluster, kinds, w.kinds)
		}
		if r := deploymentReplicas(t, g); r != w.replicas {
			t.Errorf("%s: Deployment replicas = %d, want %d", g.Cluster, r, w.replicas)
		}
	}
}

func TestRenderJSONOneCluster(t *testing.T) {
	isolateKubeconfig(t)
	out, _, err := runRender(t, RenderOptions{Filename: exampleTopology, printFlags: printFlags{Output: "json"}, Cluster: "training-us"})
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	got := decodeRenderJSON(t, out)
	if len(got) != 1 || got[0].Cluster != "training-us" || got[0].Region != "us-west1" {
		t.Fatalf("got %+v, want only training-us (us-west1)", got)
	}
}

// deploymentReplicas is spec.replicas of the one Deployment of c.
func deploymentReplicas(t *testing.T, c renderedJSON) int64 {
	t.Helper()
	var found []int64
	for _, obj := range c.Objects {
		if obj["kind"] != "Deployment" {
			continue
		}
		spec, _ := obj["spec"].(map[string]any)
		r, ok := spec["replicas"].(float64)
		if !ok {
			t.Fatalf("%s: Deployment %v has no spec.replicas", c.Cluster, obj["metadata"])
		}
		found = append(found, int64(r))
	}
	if len(found) != 1 {
		t.Fatalf("%s: %d Deployments, want 1", c.Cluster, len(found))
	}
	return found[0]
}

func TestRenderUnknownCluster(t *testing.T) {
	isolateKubeconfig(t)
	out, _, err := runRender(t, RenderOptions{Filename: exampleTopology, Cluster: "nope"})
	if err == nil {
		t.Fatal("Run() = nil, want an error")
	}
	for _, want := range []string{`"nope"`, exampleTopology} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if out != "" {
		t.Errorf("printed %q before failing", out)
	}
}

func TestRenderValidate(t *testing.T) {
	tests := []struct {
		name    string
		o       RenderOptions
		wantErr string
	}{
		{"yaml", RenderOptions{Filename: "t.yaml", printFlags: printFlags{Output: "yaml"}}, ""},
		{"json", RenderOptions{Filename: "t.yaml", printFlags: printFlags{Output: "json"}}, ""},
		{"missing -f", RenderOptions{printFlags: printFlags{Output: "yaml"}}, "-f topology.yaml"},
		{"bad -o", RenderOptions{Filename: "t.yaml", printFlags: printFlags{Output: "wide"}}, `--output must be yaml or json, not "wide"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("Validate() = nil, want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("Validate() = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseCapacity(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]int64
		wantErr string
	}{
		{in: "", want: map[string]int64{}},
		{in: "  ", want: map[string]int64{}},
		{in: "a=6", want: map[string]int64{"a": 6}},
		{in: "a=6,b=2", want: map[string]int64{"a": 6, "b": 2}},
		{in: " a=6 , b=0 ", want: map[string]int64{"a": 6, "b": 0}},
		{in: "training-us=8,training-eu=2", want: map[string]int64{"training-us": 8, "training-eu": 2}},
		{in: "a=six", wantErr: `--capacity a: "six" is not a non-negative whole number`},
		{in: "a=1.5", wantErr: `"1.5" is not a non-negative whole number`},
		{in: "a=", wantErr: `--capacity a: "" is not a non-negative whole number`},
		{in: "a=-1", wantErr: `--capacity a: "-1" is not a non-negative whole number`},
		{in: "a", wantErr: `--capacity "a": want CLUSTER=N`},
		{in: "=3", wantErr: `want CLUSTER=N`},
		{in: "a=1,b", wantErr: `--capacity "b": want CLUSTER=N`},
		{in: "a=1,a=2", wantErr: `--capacity names cluster "a" twice`},
		{in: "a=1,", wantErr: `want CLUSTER=N`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseCapacity(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("parseCapacity(%q) = %v, want an error containing %q", tt.in, got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("parseCapacity(%q) error = %q, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseCapacity(%q) = %v", tt.in, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("parseCapacity(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// Complete is where --capacity is parsed; its error reaches the user as is.
func TestRenderCompleteCapacity(t *testing.T) {
	o := &RenderOptions{}
	if err := o.Complete("a=6,b=2"); err != nil {
		t.Fatalf("Complete() = %v", err)
	}
	if o.Capacity["a"] != 6 || o.Capacity["b"] != 2 || len(o.Capacity) != 2 {
		t.Errorf("Capacity = %v, want a=6 b=2", o.Capacity)
	}
	if err := (&RenderOptions{}).Complete("a=-2"); err == nil {
		t.Error("Complete(\"a=-2\") = nil, want an error")
	}
}

// writeCapacityTopology writes a topology of two joined clusters, a in
// us-west1 and b in europe-west1, whose kubeconfig contexts exist in no
// kubeconfig (pass one with kubeconfigPath, or "" for the default chain), and
// one workload dividing 4 replicas by spare GPUs. It returns the file's path.
func writeCapacityTopology(t *testing.T, kubeconfigPath string) string {
	t.Helper()
	dir := t.TempDir()
	ref := "{context: %s}"
	if kubeconfigPath != "" {
		ref = "{context: %s, path: " + kubeconfigPath + "}"
	}
	files := map[string]string{
		"topology.yaml": `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: whatif
spec:
  regions:
  - name: us-west1
    clusters:
    - name: a
      labels: {role: gpu}
      kubeconfig: ` + fmt.Sprintf(ref, "a") + `
  - name: europe-west1
    clusters:
    - name: b
      labels: {role: gpu}
      kubeconfig: ` + fmt.Sprintf(ref, "b") + `
  workloads:
  - name: batch
    source: app
    placement:
      clusterSelector: {matchLabels: {role: gpu}}
      replicas:
        total: 4
        divideBy: capacity
`,
		"app/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- deployment.yaml
`,
		"app/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: batch
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels: {app: batch}
  template:
    metadata:
      labels: {app: batch}
    spec:
      containers:
      - name: batch
        image: registry.example/batch:1
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

func TestRenderWhatIfCapacity(t *testing.T) {
	isolateKubeconfig(t)
	file := writeCapacityTopology(t, "")

	// 6 and 2 replicas fit: 4 replicas divide 3:1.
	out, _, err := runRender(t, RenderOptions{Filename: file, printFlags: printFlags{Output: "json"}, Capacity: map[string]int64{"a": 6, "b": 2}})
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	got := decodeRenderJSON(t, out)
	want := map[string]int64{"a": 3, "b": 1}
	if len(got) != len(want) {
		t.Fatalf("got %d clusters, want %d:\n%s", len(got), len(want), out)
	}
	for _, c := range got {
		if r := deploymentReplicas(t, c); r != want[c.Cluster] {
			t.Errorf("cluster %s: replicas = %d, want %d", c.Cluster, r, want[c.Cluster])
		}
	}

	// Printing one cluster still divides among both.
	out, _, err = runRender(t, RenderOptions{Filename: file, printFlags: printFlags{Output: "json"}, Cluster: "b", Capacity: map[string]int64{"a": 6, "b": 2}})
	if err != nil {
		t.Fatalf("Run() with --cluster b = %v", err)
	}
	got = decodeRenderJSON(t, out)
	if len(got) != 1 || got[0].Cluster != "b" {
		t.Fatalf("--cluster b printed %+v", got)
	}
	if r := deploymentReplicas(t, got[0]); r != 1 {
		t.Errorf("--cluster b: replicas = %d, want 1", r)
	}
}

func TestRenderCapacityUnreadable(t *testing.T) {
	isolateKubeconfig(t)
	file := writeCapacityTopology(t, "")
	tests := []struct {
		name     string
		capacity map[string]int64
		want     []string
	}{
		{
			name:     "one cluster given",
			capacity: map[string]int64{"a": 6},
			want:     []string{`workload "batch"`, "cluster b", "--capacity b=N"},
		},
		{
			name: "none given",
			want: []string{`workload "batch"`, "clusters a, b", "--capacity a=N,b=N"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := runRender(t, RenderOptions{Filename: file, Capacity: tt.capacity, Timeout: time.Second})
			if err == nil {
				t.Fatalf("Run() = nil, want an error; printed:\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if out != "" {
				t.Errorf("printed %q before failing", out)
			}
		})
	}
}

// When a cluster's capacity cannot be read, the error says why (here: its
// kubeconfig context does not exist), so the user can fix the cause rather
// than only work around it with --capacity.
func TestRenderCapacityUnreadableSaysWhy(t *testing.T) {
	isolateKubeconfig(t)
	file := writeCapacityTopology(t, "")
	_, _, err := runRender(t, RenderOptions{Filename: file, Capacity: map[string]int64{"a": 6}, Timeout: time.Second})
	if err == nil {
		t.Fatal("Run() = nil, want an error")
	}
	if want := `kubeconfig context "b" not found`; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say why cluster b could not be read (want %q)", err, want)
	}
}

// A --capacity naming no cluster of the topology is a typo: render says so
// without contacting any cluster first (which can take --cluster-timeout per
// cluster). The clusters here answer every request only after it times out,
// and count them.
func TestRenderCapacityUnknownClusterContactsNothing(t *testing.T) {
	isolateKubeconfig(t)
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		<-r.Context().Done()
	}))
	defer srv.Close()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: hang
  cluster: {server: %s}
users:
- name: nobody
  user: {}
contexts:
- name: a
  context: {cluster: hang, user: nobody}
- name: b
  context: {cluster: hang, user: nobody}
`, srv.URL)
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	file := writeCapacityTopology(t, kubeconfig)

	_, _, err := runRender(t, RenderOptions{Filename: file, Capacity: map[string]int64{"nope": 3}, Timeout: time.Second})
	if err == nil {
		t.Fatal("Run() = nil, want an error")
	}
	if want := `--capacity names cluster "nope", which is not in ` + file; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("render sent %d requests to the clusters before rejecting --capacity nope=3", n)
	}
}

// A cluster no workload selects is still listed, so render accounts for
// every cluster of the topology.
func TestRenderClusterWithoutObjects(t *testing.T) {
	isolateKubeconfig(t)
	file := writeCapacityTopology(t, "")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// Only cluster a, and no division: nothing to read from any cluster.
	only := strings.Replace(string(data), `      clusterSelector: {matchLabels: {role: gpu}}
      replicas:
        total: 4
        divideBy: capacity
`, "      clusters: [a]\n", 1)
	if only == string(data) {
		t.Fatal("the fixture's placement was not replaced")
	}
	if err := os.WriteFile(file, []byte(only), 0o644); err != nil {
		t.Fatal(err)
	}

	out, _, err := runRender(t, RenderOptions{Filename: file})
	if err != nil {
		t.Fatalf("Run() = %v", err)
	}
	// Clusters print by region: europe-west1's b first.
	if want := "# cluster: b (region europe-west1): no objects\n---\n# cluster: a (region us-west1)\n"; !strings.HasPrefix(out, want) {
		t.Errorf("YAML does not begin with %q:\n%s", want, out)
	}
	if n := strings.Count(out, "# cluster: "); n != 2 {
		t.Errorf("%d cluster headers, want 2:\n%s", n, out)
	}

	out, _, err = runRender(t, RenderOptions{Filename: file, printFlags: printFlags{Output: "json"}, Cluster: "b"})
	if err != nil {
		t.Fatalf("Run() -o json = %v", err)
	}
	if !strings.Contains(out, `"objects": []`) {
		t.Errorf("-o json of an empty cluster does not show \"objects\": []:\n%s", out)
	}
	got := decodeRenderJSON(t, out)
	if len(got) != 1 || got[0].Cluster != "b" || len(got[0].Objects) != 0 {
		t.Errorf("-o json --cluster b = %+v, want b with no objects", got)
	}
}

func TestRenderTopologyError(t *testing.T) {
	isolateKubeconfig(t)
	file := filepath.Join(t.TempDir(), "topology.yaml")
	const content = `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: bad
spec:
  regions:
  - name: us-west1
    clusters:
    - name: gpu
      gke:
        project: acme-ml
        nodePools:
        - name: cpu
          machineType: e2-standrd-8
          nodeCount: 1
`
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := runRender(t, RenderOptions{Filename: file})
	if err == nil {
		t.Fatalf("Run() = nil, want an error; printed:\n%s", out)
	}
	prefix := file + `:14: spec.regions[0].clusters[0].gke.nodePools[0].machineType: unknown machine type "e2-standrd-8"`
	if !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("error = %q\nwant it to begin %q", err, prefix)
	}
	if out != "" {
		t.Errorf("printed %q before failing", out)
	}
}
