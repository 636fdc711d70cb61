package lab

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"time"
)

// etcd is the lab's one etcd; every cluster keeps its objects under its own
// key prefix in it. One etcd for all clusters costs one process instead of
// one per cluster, on a machine where every cluster already runs four.
type etcd struct {
	proc *process
	url  string // client URL, http://127.0.0.1:PORT
}

func startEtcd(ctx context.Context, bin, dir string) (*etcd, error) {
	var lastErr error
	for range portAttempts {
		clientPort, err := freePort()
		if err != nil {
			return nil, err
		}
		peerPort, err := freePort()
		if err != nil {
			return nil, err
		}
		e, err := tryStartEtcd(ctx, bin, dir, clientPort, peerPort)
		if !errors.Is(err, errAddrInUse) {
			return e, err
		}
		lastErr = err
	}
	return nil, lastErr
}

func tryStartEtcd(ctx context.Context, bin, dir string, clientPort, peerPort int) (*etcd, error) {
	clientURL := "http://127.0.0.1:" + strconv.Itoa(clientPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	proc, err := startProcess(processSpec{
		name: "etcd",
		path: filepath.Join(bin, "etcd"),
		args: []string{
			"--name=lab",
			"--data-dir=" + filepath.Join(dir, "etcd-data"),
			"--listen-client-urls=" + clientURL,
			"--advertise-client-urls=" + clientURL,
			"--listen-peer-urls=" + peerURL,
			"--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=lab=" + peerURL,
			// Lab data is thrown away at the end; fsync would only make
			// every write wait for the disk the other engineers share.
			"--unsafe-no-fsync",
			"--log-level=warn",
		},
		dir:     dir,
		logPath: filepath.Join(dir, "etcd.log"),
	})
	if err != nil {
		return nil, err
	}
	e := &etcd{proc: proc, url: clientURL}
	if err := waitFor(ctx, proc, 30*time.Second, e.healthy); err != nil {
		proc.stop(ctx)
		if logSaysAddrInUse(proc.logPath) {
			return nil, errAddrInUse
		}
		return nil, proc.failure("did not become healthy", err)
	}
	return e, nil
}

func (e *etcd) healthy(ctx context.Context) error {
	body, err := httpGet(ctx, http.DefaultClient, e.url+"/health")
	if err != nil {
		return err
	}
	var h struct {
		Health string `json:"health"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return fmt.Errorf("decoding /health: %w", err)
	}
	if h.Health != "true" {
		return fmt.Errorf("/health says %s", body)
	}
	return nil
}

// deletePrefix removes every key under prefix, so that a cluster created
// again under the name of a deleted one starts empty, as a new GKE cluster
// does. It uses etcd's JSON gateway, which spares the lab a gRPC client.
func (e *etcd) deletePrefix(ctx context.Context, prefix string) error {
	end := []byte(prefix)
	end[len(end)-1]++ // the first key after every key with the prefix
	req, err := json.Marshal(map[string]string{
		"key":       base64.StdEncoding.EncodeToString([]byte(prefix)),
		"range_end": base64.StdEncoding.EncodeToString(end),
	})
	if err != nil {
		return err
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/v3/kv/deleterange", bytes.NewReader(req))
	if err != nil {
		return err
	}
	r.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return fmt.Errorf("deleting etcd keys under %s: %w", prefix, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("deleting etcd keys under %s: %s: %s", prefix, resp.Status, body)
	}
	return nil
}

// waitFor polls check until it succeeds, the process exits, ctx ends or the
// timeout passes, and returns the last check error in the latter cases.
func waitFor(ctx context.Context, proc *process, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 5*time.Second)
		last = check(attempt)
		cancelAttempt()
		if last == nil {
			return nil
		}
		select {
		case <-proc.done:
			return fmt.Errorf("process exited: %v (last check: %w)", proc.err, last)
		case <-ctx.Done():
			return fmt.Errorf("%w (last check: %w)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

func httpGet(ctx context.Context, c *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}
