package main

import (
	"strings"
	"testing"
)

func TestClusterFlags(t *testing.T) {
	tests := []struct {
		flags []string
		names []string
		err   string
	}{
		{flags: []string{"serving-us@us-east1"}, names: []string{"serving-us"}},
		{flags: []string{"a", "b@europe-west1:2"}, names: []string{"a", "b"}},
		{flags: []string{"a", "a@us-west1"}, err: "cluster a named twice"},
		{flags: []string{"Bad"}, err: `cluster name "Bad"`},
		{flags: []string{"a:many"}, err: `GPU count "many"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.flags, ","), func(t *testing.T) {
			specs, err := (&clusterFlags{clusters: tt.flags}).specs()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range specs {
				names = append(names, s.Name)
			}
			if strings.Join(names, ",") != strings.Join(tt.names, ",") {
				t.Errorf("clusters %v, want %v", names, tt.names)
			}
		})
	}
}
