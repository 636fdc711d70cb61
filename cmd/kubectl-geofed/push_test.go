package main

import (
	"strings"
	"testing"
	"time"
)

func TestPushValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    PushOptions
		want string
	}{
		{"ok", PushOptions{Filename: "t.yaml", Hub: "hub"}, ""},
		{"plan mode", PushOptions{Filename: "t.yaml", Hub: "hub", Mode: "Plan"}, ""},
		{"no file", PushOptions{Hub: "hub"}, "a topology file is required"},
		{"no hub", PushOptions{Filename: "t.yaml"}, "--hub CONTEXT"},
		{"bad mode", PushOptions{Filename: "t.yaml", Hub: "hub", Mode: "apply"}, `--mode must be Apply or Plan, not "apply"`},
		{"delete policy", PushOptions{Filename: "t.yaml", Hub: "hub", DeletionPolicy: "Delete"}, ""},
		{"orphan policy", PushOptions{Filename: "t.yaml", Hub: "hub", DeletionPolicy: "Orphan"}, ""},
		{"bad policy", PushOptions{Filename: "t.yaml", Hub: "hub", DeletionPolicy: "delete"}, `--deletion-policy must be Orphan or Delete, not "delete"`},
		{"negative", PushOptions{Filename: "t.yaml", Hub: "hub", FailoverAfter: -time.Second}, "must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
}
