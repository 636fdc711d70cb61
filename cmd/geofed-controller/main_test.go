package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "hub-ns")
	o, err := parse([]string{"--resync=30s", "--leader-elect=false"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg.Namespace != "hub-ns" || o.cfg.Resync != 30*time.Second || o.cfg.LeaderElection || o.cfg.KeepConflicts {
		t.Errorf("parsed %+v", o.cfg)
	}
	for _, bad := range [][]string{{"--resync=0s"}, {"--log-format=xml"}, {"extra"}} {
		if _, err := parse(bad, io.Discard); err == nil {
			t.Errorf("parse(%v) accepted", bad)
		}
	}
	if _, err := parse([]string{"--log-format=xml"}, io.Discard); err == nil || !strings.Contains(err.Error(), "json or text") {
		t.Errorf("got %v", err)
	}
}

// TestParseStorageEmulator: the controller reaches Cloud Storage's
// emulator as the CLI does, from $STORAGE_EMULATOR_HOST (a Pod's env), and
// the flag overrides it (a process run by hand).
func TestParseStorageEmulator(t *testing.T) {
	for _, tc := range []struct {
		name, env string
		args      []string
		want      string
	}{
		{name: "unset: Cloud Storage itself"},
		{name: "from the environment", env: "10.0.0.1:4443", want: "10.0.0.1:4443"},
		{name: "the flag over the environment", env: "10.0.0.1:4443", args: []string{"--storage-emulator-host", "127.0.0.1:9000"}, want: "127.0.0.1:9000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("STORAGE_EMULATOR_HOST", tc.env)
			o, err := parse(tc.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got := o.cfg.Data.EmulatorHost; got != tc.want {
				t.Errorf("Cloud Storage emulator %q, want %q", got, tc.want)
			}
		})
	}
}
