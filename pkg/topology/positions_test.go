package topology

import "testing"

func TestParentPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"spec.regions[0].name", "spec.regions[0]"},
		{"spec.regions[0]", "spec.regions"},
		{"spec", ""},
		{"", ""},
		{"labels[geofed.io/region]", "labels"},
		{"weights[a[b]", "weights[a"},
		{"weights[a[b", "weights[a"},
		{"weights[a", "weights"},
	}
	for _, tt := range tests {
		if got := parentPath(tt.in); got != tt.want {
			t.Errorf("parentPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPositionsLine(t *testing.T) {
	p := positions{"": 1, "spec": 5, "spec.regions[0]": 7, "spec.regions[0].labels[geofed.io/x]": 9}
	tests := []struct {
		path string
		want int
	}{
		{"spec.regions[0]", 7},
		{"spec.regions[0].name", 7},                // missing field: its parent's line
		{"spec.regions[0].labels[geofed.io/x]", 9}, // keys with dots are one element
		{"spec.regions[0].labels[geofed.io/y]", 7}, // nor does a missing key split at its dot
		{"spec.workloads[2].placement.clusterSelector", 5},
		{"metadata.name", 1},
	}
	for _, tt := range tests {
		if got := p.line(tt.path); got != tt.want {
			t.Errorf("line(%q) = %d, want %d", tt.path, got, tt.want)
		}
	}
	if got := (positions{}).line("spec.x"); got != 0 {
		t.Errorf("line in an empty map = %d, want 0", got)
	}
}
