package labd

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update to accept):\n--- got\n%s--- want\n%s", name, got, want)
	}
}

func TestWriteStatus(t *testing.T) {
	s := &State{PID: 4242, Started: time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)}
	health := []ClusterHealth{
		{ClusterState: ClusterState{Name: "serving-us", Endpoint: "https://127.0.0.1:41001", PodServer: "https://10.87.0.1:41001",
			RealNode: "serving-us-real", RealNodeMountNS: "/proc/4343/ns/mnt"}, Nodes: 3, ReadyNodes: 3},
		{ClusterState: ClusterState{Name: "training-us", Endpoint: "https://127.0.0.1:41002", PodServer: "https://10.87.0.1:41002"}, Nodes: 4, ReadyNodes: 2,
			Err: errors.New("2 of 4 nodes not Ready")},
		{ClusterState: ClusterState{Name: "dark", Endpoint: "https://127.0.0.1:41003", PodServer: "https://10.87.0.1:41003"},
			Err: errors.New("Get \"https://127.0.0.1:41003/readyz\": dial tcp 127.0.0.1:41003: connect: connection refused\nmore")},
	}
	var out bytes.Buffer
	WriteStatus(&out, ".geofed-lab", s, health)
	golden(t, "status.golden", out.Bytes())

	out.Reset()
	WriteStatus(&out, ".geofed-lab", s, nil)
	golden(t, "status-empty.golden", out.Bytes())
}

func TestEnvFile(t *testing.T) {
	got := envFile("/tmp/lab dir", map[string]string{
		"KUBECONFIG":        "/tmp/lab dir/kubeconfig",
		"GKE_EMULATOR_HOST": "127.0.0.1:9000",
		"QUOTED":            "it's",
	})
	golden(t, "env.golden", []byte(got))
}
