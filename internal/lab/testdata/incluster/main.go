// Command incluster is the lab's real-node test program: run as a Pod, it
// reaches its own cluster's apiserver the way in-cluster clients do
// (KUBERNETES_SERVICE_HOST/PORT, the mounted ServiceAccount token and CA),
// asks it who it is (a SelfSubjectReview), and reads the version of another
// lab apiserver at $OTHER_URL, verified with $OTHER_CA. It prints what it
// learnt, one key=value per line, to stdout and to its termination message,
// and exits 0; any failure exits 1 saying what failed.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"k8s.io/client-go/rest"
)

func main() {
	out, err := run()
	if err != nil {
		out += "error=" + err.Error() + "\n"
	}
	fmt.Print(out)
	_ = os.WriteFile("/dev/termination-log", []byte(out), 0o644)
	if err != nil {
		os.Exit(1)
	}
}

func run() (string, error) {
	out := fmt.Sprintf("host=%s\nport=%s\n", os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"))
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return out, fmt.Errorf("in-cluster config: %w", err)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return out, err
	}
	hc.Timeout = 20 * time.Second
	review := []byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`)
	resp, err := hc.Post(cfg.Host+"/apis/authentication.k8s.io/v1/selfsubjectreviews", "application/json", bytes.NewReader(review))
	if err != nil {
		return out, fmt.Errorf("own apiserver: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var ssr struct {
		Status struct {
			UserInfo struct {
				Username string `json:"username"`
			} `json:"userInfo"`
		} `json:"status"`
	}
	if err := json.Unmarshal(body, &ssr); err != nil || resp.StatusCode != http.StatusCreated {
		return out, fmt.Errorf("own apiserver: %s: %s", resp.Status, body)
	}
	out += "user=" + ssr.Status.UserInfo.Username + "\n"

	url, ca := os.Getenv("OTHER_URL"), os.Getenv("OTHER_CA")
	if url == "" {
		return out, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(ca)) {
		return out, fmt.Errorf("OTHER_CA holds no certificate")
	}
	other := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err = other.Get(url + "/version")
	if err != nil {
		return out, fmt.Errorf("other apiserver: %w", err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	var v struct {
		GitVersion string `json:"gitVersion"`
	}
	if err := json.Unmarshal(body, &v); err != nil || resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("other apiserver: %s: %s", resp.Status, body)
	}
	out += "other=" + v.GitVersion + "\n"
	return out, nil
}
