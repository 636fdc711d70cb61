package observe

import (
	"errors"
	"testing"

	"github.com/geofed-io/kubectl-geofed/pkg/member"
)

// Members known unreachable are not dialled (their addresses here would
// fail differently if they were) and count as unreachable with the reason
// given, unless kept; a member reached by a configuration in memory needs
// no kubeconfig file.
func TestMembersUnreachable(t *testing.T) {
	topo := parseTopology(t, `apiVersion: geofed.io/v1alpha1
kind: Topology
metadata: {name: t}
spec:
  regions:
  - name: us-west1
    clusters:
    - name: dark
      kubeconfig: {context: dark, path: /nonexistent/kubeconfig}
    - name: kept
      kubeconfig: {context: kept, path: /nonexistent/kubeconfig}
  workloads:
  - name: web
    source: apps/web
    placement:
      replicas: {total: 2, divideBy: weight}
`)
	darkErr := errors.New("health probe of cluster dark: no answer")
	keptErr := errors.New("health probe of cluster kept: no answer")
	obs, err := Observe(t.Context(), Options{
		Topology: topo,
		Keep:     []string{"kept"},
		Members: map[string]member.Target{
			"dark": {Unreachable: darkErr},
			"kept": {Unreachable: keptErr},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		err         error
		unreachable string
		reason      Reason
	}{
		{"dark", darkErr, darkErr.Error(), Unreachable},
		{"kept", keptErr, "", ""},
	} {
		if got := obs.Conn(tc.name).Err; got != tc.err {
			t.Errorf("%s: connection error %v, want %v as given (not dialled, no kubeconfig read)", tc.name, got, tc.err)
		}
		if got := obs.LeftOut(tc.name).String(); got != tc.unreachable {
			t.Errorf("%s: placement has it unreachable %q, want %q", tc.name, got, tc.unreachable)
		}
		if l := obs.LeftOut(tc.name); (l == nil) != (tc.reason == "") || (l != nil && l.Reason != tc.reason) {
			t.Errorf("%s: left out %+v, want reason %q", tc.name, l, tc.reason)
		}
	}
}
