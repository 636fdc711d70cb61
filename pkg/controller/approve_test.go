package controller

import (
	"slices"
	"testing"
)

func TestApproved(t *testing.T) {
	for _, tc := range []struct {
		annotation, held string
		want             []string
		ok               bool
	}{
		{"prune-abc", "prune-abc", []string{"all"}, true},
		{"prune-abc:m1,m2", "prune-abc", []string{"m1", "m2"}, true},
		{"prune-abc", "prune-def", nil, false}, // another plan
		{"prune-abc:m1", "prune-def", nil, false},
		{"", "prune-abc", nil, false},
		{"prune-abc", "", nil, false}, // nothing held
	} {
		got, ok := approved(tc.annotation, tc.held)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("approved(%q, %q) = %v, %v; want %v, %v", tc.annotation, tc.held, got, ok, tc.want, tc.ok)
		}
	}
}
