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
