package lab

import (
	"strings"
	"testing"
)

func TestClusterSpecValidate(t *testing.T) {
	tests := []struct {
		spec ClusterSpec
		err  string // substring; "" = valid
	}{
		{spec: ClusterSpec{Name: "serving-us", Nodes: []NodeSpec{{Name: "cpu", Count: 2}}}},
		{spec: ClusterSpec{Name: "empty"}},
		{spec: ClusterSpec{Name: ""}, err: `cluster name ""`},
		{spec: ClusterSpec{Name: "Serving_US"}, err: `cluster name "Serving_US"`},
		{spec: ClusterSpec{Name: "ok", Nodes: []NodeSpec{{Name: "a", Count: 1}, {Name: "a", Count: 1}}}, err: "cluster ok: nodes[1]"},
		{spec: ClusterSpec{Name: "bare", APIServerOnly: true}},
		{spec: ClusterSpec{Name: "bare-lean", APIServerOnly: true, Lean: true}},
		{spec: ClusterSpec{Name: "full-lean", Lean: true}, err: "only an apiserver-only cluster can be lean"},
		{spec: ClusterSpec{Name: "bare-nodes", APIServerOnly: true, Nodes: []NodeSpec{{Name: "a", Count: 1}}}, err: "no KWOK"},
	}
	for _, tt := range tests {
		t.Run(tt.spec.Name, func(t *testing.T) {
			err := tt.spec.Validate()
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("err = %v, want nil", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("err = %v, want one containing %q", err, tt.err)
			}
		})
	}
}
