package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
)

// markdownTopology places the example model server on the lab cluster c1,
// dividing 2 replicas by the GPUs free there.
const markdownTopology = `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata:
  name: pr
spec:
  regions:
  - name: us-west1
    clusters:
    - name: c1
      kubeconfig: {path: kubeconfig, context: c1}
  workloads:
  - name: model-server
    source: apps/model-server
    placement:
      replicas:
        total: 2
        divideBy: capacity
`

// newToken is the token the pull request gives the model server, base64
// and decoded: never printed either.
var newToken = []string{"YW5vdGhlci1wbGFjZWhvbGRlcg==", "another-placeholder"}

// TestPlanMarkdownOnLab runs what a pull request's CI runs, plan -o
// markdown --out plan.json --detailed-exitcode, against a real cluster:
// first empty, then after an apply with the example app changed (its
// Secret among what changed, with --diff), and pins both comments.
func TestPlanMarkdownOnLab(t *testing.T) {
	isolateKubeconfig(t)
	l, _ := labtest.New(t, lab.ClusterSpec{Name: "c1", Nodes: []lab.NodeSpec{{Name: "gpu", Count: 2, GPUs: 2}}})
	dir := t.TempDir()
	if err := l.Kubeconfig(filepath.Join(dir, "kubeconfig")); err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(dir, "apps", "model-server")
	if err := os.CopyFS(app, os.DirFS("../../manifests/apps/model-server/base")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(file, []byte(markdownTopology), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := fleetFlags{Refresh: "inventory", Parallel: 2, ClusterTimeout: 30 * time.Second, RequestTimeout: time.Minute}
	ctx := context.Background()

	planMarkdown := func(t *testing.T, diff bool, maxBytes int) (out, saveTo string) {
		t.Helper()
		saveTo = filepath.Join(t.TempDir(), "plan.json")
		streams, _, outBuf, errBuf := genericiooptions.NewTestIOStreams()
		o := &PlanOptions{Filename: file, printFlags: printFlags{Output: "markdown"}, SaveTo: saveTo, Diff: diff, DetailedExitCode: true, MaxBytes: maxBytes, fleetFlags: flags, IOStreams: streams}
		if err := o.Validate(); err != nil {
			t.Fatal(err)
		}
		err := o.Run(ctx)
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != 2 {
			t.Fatalf("Run() = %v, want exit 2: changes\n%s", err, errBuf)
		}
		saved, err := os.ReadFile(saveTo)
		if err != nil {
			t.Fatalf("the plan was not saved: %v", err)
		}
		// Neither the comment, nor what is said on the side, nor the plan
		// kept for apply holds the Secret's values.
		for _, value := range append(exampleSecretValue, newToken...) {
			for what, s := range map[string]string{"the markdown": outBuf.String(), "stderr": errBuf.String(), "the saved plan": string(saved)} {
				if strings.Contains(s, value) {
					t.Errorf("%s holds the Secret value %q", what, value)
				}
			}
		}
		if !strings.Contains(errBuf.String(), "Saved the plan to "+saveTo) {
			t.Errorf("stderr = %q, want where the plan was saved", errBuf)
		}
		return outBuf.String(), saveTo
	}

	// Everything new; the table and the comment say so.
	created, _ := planMarkdown(t, false, 0)
	golden(t, "plan-markdown-new.golden", []byte(created))
	for _, want := range []string{
		"### kubectl geofed plan: pr\n\n**Plan: 0 clusters to create, 0 to change · 5 objects to create, 0 to change, 0 to delete.**\n",
		"| \\~ | c1 | joined, v",
		" | 5 | 0 | 0 | 0 | — | model-server 2 |\n",
		"+   Secret serving/model-server-token\n",
	} {
		if !strings.Contains(created, want) {
			t.Errorf("markdown lacks %q:\n%s", want, created)
		}
	}

	streams, _, _, errOut := genericiooptions.NewTestIOStreams()
	a := &ApplyOptions{Filename: file, Yes: true, Prune: true, Timeout: time.Minute, LockTTL: inventory.DefaultLockTTL, fleetFlags: flags, IOStreams: streams}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := a.Run(ctx); err != nil {
		t.Fatalf("apply: %v\n%s", err, errOut)
	}

	// The pull request: a new token, another model, the Service gone.
	edit := func(name, old, new string) {
		t.Helper()
		path := filepath.Join(app, name)
		b, err := os.ReadFile(path)
		if err != nil || !strings.Contains(string(b), old) {
			t.Fatalf("%s lacks %q (%v)", path, old, err)
		}
		if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit("secret.yaml", exampleSecretValue[0], newToken[0])
	edit("configmap.yaml", "acme-llm-7b/v12", "acme-llm-7b/v13")
	edit("kustomization.yaml", "- service.yaml\n", "")
	changed, _ := planMarkdown(t, true, 0)
	golden(t, "plan-markdown-changes.golden", []byte(changed))
	for _, want := range []string{
		"**Plan: 0 clusters to create, 0 to change · 0 objects to create, 2 to change, 1 to delete.**\n",
		" | 0 | 2 | 1 | 0 | — | model-server 2 |\n",
		"~   ConfigMap serving/model-server-config\n",
		"~       data.MODEL_URI: gs://acme-ml-models/acme-llm-7b/v12 → gs://acme-ml-models/acme-llm-7b/v13\n",
		"~   Secret serving/model-server-token\n",
		"~       data.token: (sensitive) → (sensitive, changed)\n",
		"-   Service serving/model-server (applied by geofed, no longer rendered)\n",
		"<details><summary>diff of Secret serving/model-server-token</summary>\n",
		"-  token: (sensitive)\n+  token: (sensitive, changed)\n",
		"#### Placement\n\n**model-server** (capacity)\n",
	} {
		if !strings.Contains(changed, want) {
			t.Errorf("markdown lacks %q:\n%s", want, changed)
		}
	}

	// Bounded below its size, the comment keeps the summary and names the
	// plan saved with --out for the rest.
	bounded, saveTo := planMarkdown(t, true, 2000)
	if len(changed) <= 2000 {
		t.Fatalf("the comment is %d bytes: a bound of 2000 shortens nothing", len(changed))
	}
	for _, want := range []string{
		"**Plan: 0 clusters to create, 0 to change · 0 objects to create, 2 to change, 1 to delete.**\n",
		"**Shortened to fit 2000 bytes, left out: ",
		"The full plan is in " + saveTo + " (plan --out).\n",
	} {
		if !strings.Contains(bounded, want) {
			t.Errorf("markdown bounded to 2000 bytes lacks %q:\n%s", want, bounded)
		}
	}
	if len(bounded) > 2000 {
		t.Errorf("markdown bounded to 2000 bytes is %d bytes", len(bounded))
	}
}

func TestPlanOutputCompletesMarkdown(t *testing.T) {
	out, _, err := executeRoot(t, "__complete", "plan", "-o", "")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	got := lines[:len(lines)-1] // the last line is the directive
	for _, want := range []string{"json", "yaml", "markdown"} {
		if !strings.Contains("\n"+strings.Join(got, "\n")+"\n", "\n"+want+"\n") {
			t.Errorf("plan -o completes %q, want %q among them", got, want)
		}
	}
}
