package main

import (
	"bytes"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// TestFaultFlags: flags that cannot make a fault are refused before the
// daemon is asked; with no lab running, the error says so.
func TestFaultFlags(t *testing.T) {
	tests := []struct {
		args []string
		err  string
	}{
		{[]string{"fault", "web-eu"}, "give --resource and --status, or --clear"},
		{[]string{"fault", "web-eu", "--resource", "deployments.apps"}, "give --resource and --status, or --clear"},
		{[]string{"fault", "web-eu", "--clear", "--status", "500"}, "--clear and --status"},
		{[]string{"fault", "web-eu", "--resource", "deployments.apps", "--status", "502"}, `fault status "502"`},
		{[]string{"fault", "web-eu", "--resource", "apps/v1/deployments", "--status", "500"}, `fault resource "apps/v1/deployments"`},
		{[]string{"fault", "--clear"}, "accepts 1 arg"},
		{[]string{"fault", "web-eu", "--resource", "deployments.apps", "--status", "500"}, "no lab is running"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			cmd := NewRootCommand(genericiooptions.IOStreams{Out: &out, ErrOut: &out})
			cmd.SetArgs(append(tt.args, "--dir", t.TempDir()))
			err := cmd.Execute()
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("err = %v, want one containing %q", err, tt.err)
			}
		})
	}
}
