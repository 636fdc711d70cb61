package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// executeRoot runs the full command tree with args and test streams.
func executeRoot(t *testing.T, args ...string) (out, errOut string, err error) {
	t.Helper()
	streams, _, outBuf, errBuf := genericiooptions.NewTestIOStreams()
	cmd := NewRootCommand(streams)
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return outBuf.String(), errBuf.String(), err
}

func findCommand(t *testing.T, root *cobra.Command, name string) *cobra.Command {
	t.Helper()
	cmd, _, err := root.Find([]string{name})
	if err != nil || cmd == root {
		t.Fatalf("no %q subcommand (err %v)", name, err)
	}
	return cmd
}

func TestRootCommandFlags(t *testing.T) {
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	root := NewRootCommand(streams)

	// The kubectl flags that mean something with many clusters, for every
	// subcommand; the connection flags of one cluster (--context, -n,
	// --server, --token) are deliberately absent: the topology names each
	// member's context.
	for _, name := range []string{"kubeconfig", "v"} {
		if root.PersistentFlags().Lookup(name) == nil {
			t.Errorf("root has no --%s", name)
		}
	}
	for _, name := range []string{"context", "namespace", "server", "token"} {
		if root.PersistentFlags().Lookup(name) != nil {
			t.Errorf("root has --%s, which would be silently ignored", name)
		}
	}

	tests := []struct {
		command string
		flags   []string // long names
		short   map[string]string
	}{
		{
			command: "plan",
			flags:   []string{"filename", "output", "out", "diff", "detailed-exitcode", "refresh", "parallel", "cluster-timeout"},
			short:   map[string]string{"f": "filename", "o": "output"},
		},
		{
			command: "render",
			flags:   []string{"filename", "cluster", "capacity", "output", "cluster-timeout"},
			short:   map[string]string{"f": "filename", "o": "output"},
		},
		{
			command: "status",
			flags:   []string{"filename", "output", "watch", "interval", "refresh"},
			short:   map[string]string{"f": "filename", "o": "output", "w": "watch"},
		},
		{
			command: "destroy",
			flags:   []string{"filename", "output", "clusters", "yes", "gke-timeout", "lock-timeout", "parallel"},
			short:   map[string]string{"f": "filename", "o": "output"},
		},
		{
			command: "join",
			flags:   []string{"filename", "region", "name", "label", "dry-run", "offline", "output"},
			short:   map[string]string{"f": "filename", "o": "output"},
		},
		{
			command: "kubeconfig",
			flags:   []string{"filename", "cluster", "merge", "kubeconfig-out"},
			short:   map[string]string{"f": "filename"},
		},
		{
			command: "version",
			flags:   []string{"output"},
			short:   map[string]string{"o": "output"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			cmd := findCommand(t, root, tt.command)
			for _, name := range tt.flags {
				if cmd.Flags().Lookup(name) == nil {
					t.Errorf("%s has no --%s", tt.command, name)
				}
			}
			for short, long := range tt.short {
				f := cmd.Flags().ShorthandLookup(short)
				if f == nil || f.Name != long {
					t.Errorf("%s: -%s is %v, want --%s", tt.command, short, f, long)
				}
			}
		})
	}
}

// completion is added by cobra when the tree runs; it must be there and
// print a script for the shell asked.
func TestRootCommandCompletion(t *testing.T) {
	out, errOut, err := executeRoot(t, "completion", "bash")
	if err != nil {
		t.Fatalf("completion bash: %v (stderr %q)", err, errOut)
	}
	for _, want := range []string{"bash completion", "kubectl-geofed", "complete "} {
		if !strings.Contains(out, want) {
			t.Errorf("completion bash output does not contain %q (got %d bytes on Out)", want, len(out))
		}
	}
}

func TestRootCommandHelpHasExamples(t *testing.T) {
	for _, name := range []string{"render", "plan", "version"} {
		t.Run(name, func(t *testing.T) {
			out, _, err := executeRoot(t, name, "--help")
			if err != nil {
				t.Fatalf("%s --help: %v", name, err)
			}
			i := strings.Index(out, "Examples:\n")
			if i < 0 {
				t.Fatalf("%s --help has no Examples section; Out:\n%s", name, out)
			}
			if !strings.Contains(out[i:], "kubectl geofed "+name) {
				t.Errorf("%s --help Examples do not show kubectl geofed %s:\n%s", name, name, out[i:])
			}
		})
	}
}

func TestRootCommandTree(t *testing.T) {
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	root := NewRootCommand(streams)
	// cobra adds completion when the tree runs.
	root.SetArgs([]string{"version"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("version: %v", err)
	}
	if !strings.Contains(out.String(), "kubectl-geofed ") {
		t.Errorf("version printed %q on Out", out)
	}
	for _, name := range []string{"render", "plan", "version", "completion"} {
		cmd := findCommand(t, root, name)
		if cmd.Short == "" {
			t.Errorf("%s has no Short description", name)
		}
	}
	if got := root.DisplayName(); got != "kubectl geofed" {
		t.Errorf("DisplayName() = %q, want kubectl geofed", got)
	}
}

// The root help lists every command.
func TestRootCommandHelp(t *testing.T) {
	out, _, err := executeRoot(t, "--help")
	if err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, name := range []string{"render", "plan", "version", "completion"} {
		if !strings.Contains(out, "\n  "+name+" ") {
			t.Errorf("root --help does not list %s; Out:\n%s", name, out)
		}
	}
}

// Flags reach the options: an end-to-end check of the wiring through cobra.
func TestRootCommandRunsRender(t *testing.T) {
	isolateKubeconfig(t)
	out, _, err := executeRoot(t, "render", "-f", exampleTopology, "--cluster", "serving-eu", "-o", "json")
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	got := decodeRenderJSON(t, out)
	if len(got) != 1 || got[0].Cluster != "serving-eu" {
		t.Errorf("render --cluster serving-eu -o json printed %d clusters", len(got))
	}
	if _, _, err := executeRoot(t, "render", "-f", exampleTopology, "--capacity", "a=x"); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("render --capacity a=x = %v, want the parse error", err)
	}
	if _, _, err := executeRoot(t, "version", "-o", "table"); err == nil {
		t.Error("version -o table = nil, want an error")
	}
}

// TestProfile checks kubectl's --profile: a profile is written when the
// command ends, also when it fails, and a bad name is refused.
func TestProfile(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"cpu", []string{"version"}},
		{"heap", []string{"version"}},
		{"allocs", []string{"render", "-f", "no-such-topology.yaml"}}, // fails
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "p.pprof")
			_, _, _ = executeRoot(t, append(tt.args, "--profile", tt.name, "--profile-output", path)...)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// pprof writes gzipped protocol buffers.
			if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
				t.Errorf("%s profile: %d bytes, not a gzipped pprof profile", tt.name, len(data))
			}
		})
	}
	if _, _, err := executeRoot(t, "version", "--profile", "bogus"); err == nil || !strings.Contains(err.Error(), `--profile "bogus"`) {
		t.Errorf("--profile bogus: %v, want a refusal", err)
	}
}
