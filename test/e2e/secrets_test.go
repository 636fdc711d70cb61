package e2e

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestSecretsNeverPrinted applies and plans the seed scenario, whose
// model-server Secret has a known value, at -v=9 — client-go then logs
// every request and response body — and checks that neither the value,
// its base64, nor the Secret's applied-hash (a function of the value)
// appears in any output or in geofed's inventory.
func TestSecretsNeverPrinted(t *testing.T) {
	e := newEnv(t, gpuNodes("serving-us", "us-east1", 3))
	const value = "placeholder-not-a-real-token"
	encoded := base64.StdEncoding.EncodeToString([]byte(value))

	var outputs []string
	r := e.run("apply", "-f", e.topology, "--yes", "-v=9")
	if r.code != 0 {
		t.Fatalf("apply: exit %d\nstdout:\n%s\nstderr (tail):\n%s", r.code, r.stdout, lastLines(r.stderr, 40))
	}
	outputs = append(outputs, r.stdout, r.stderr)
	// The test means something only if bodies are being logged at all.
	if !strings.Contains(r.stderr, `"Request Body"`) || !strings.Contains(r.stderr, `"Response Body"`) {
		t.Fatalf("-v=9 logged no request or response bodies; the check below would prove nothing:\n%s", lastLines(r.stderr, 20))
	}
	for _, args := range [][]string{
		{"plan", "-f", e.topology, "-v=9"},
		{"plan", "-f", e.topology, "-v=9", "--refresh=full", "--diff"},
		{"plan", "-f", e.topology, "-v=9", "-o", "json"},
		{"render", "-f", e.topology, "-v=9"},
	} {
		r := e.run(args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\nstderr (tail):\n%s", args, r.code, lastLines(r.stderr, 40))
		}
		outputs = append(outputs, r.stdout, r.stderr)
	}

	ctx := context.Background()
	cs := e.clientset("serving-us")
	secret, err := cs.CoreV1().Secrets("serving").Get(ctx, "model-server-token", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(secret.Data["token"]); got != value {
		t.Fatalf("the Secret holds %q, want %q: the fixture changed", got, value)
	}
	hash := secret.Annotations["geofed.io/applied-hash"]
	if hash == "" {
		t.Fatal("the applied Secret carries no geofed.io/applied-hash")
	}
	inv, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "geofed-ai-platform", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range inv.Data {
		outputs = append(outputs, v)
	}
	for i, out := range outputs {
		for _, leak := range []string{value, encoded, strings.TrimPrefix(hash, "sha256:")} {
			if strings.Contains(out, leak) {
				t.Errorf("output %d holds %q (the Secret's value, its base64 or its hash)", i, leak)
			}
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
