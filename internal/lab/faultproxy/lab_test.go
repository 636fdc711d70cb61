package faultproxy_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/faultproxy"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labtest"
	"github.com/geofed-io/kubectl-geofed/pkg/readerr"
)

// TestProxyOnLab: a client that reaches a real apiserver through the proxy
// reads normally until a fault is set; then every read of the faulted
// resource — list in all namespaces or one, get, watch — fails as the fault
// says, while other resources and writes go through; clearing the fault
// restores reads.
func TestProxyOnLab(t *testing.T) {
	_, clusters := labtest.New(t, lab.ClusterSpec{Name: "faulty", APIServerOnly: true})
	c := clusters[0]
	p := labtest.FaultProxy(t, c)
	ctx := context.Background()

	cfg := c.RESTConfig()
	cfg.Host = p.URL
	cfg.Timeout = 2 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "registry.example/web:1"}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating a Deployment through the proxy: %v", err)
	}

	reads := map[string]func() error{
		"list all namespaces": func() error {
			_, err := cs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
			return err
		},
		"list one namespace": func() error {
			_, err := cs.AppsV1().Deployments("default").List(ctx, metav1.ListOptions{})
			return err
		},
		"get": func() error {
			_, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
			return err
		},
		// A watch from no resourceVersion starts with an ADDED event per
		// object. client-go takes a watch that times out for an empty one
		// (no error): the fault shows as no event at all.
		"watch": func() error {
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			w, err := cs.AppsV1().Deployments("default").Watch(wctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			defer w.Stop()
			for ev := range w.ResultChan() {
				if ev.Type == watch.Added {
					return nil
				}
			}
			return context.DeadlineExceeded
		},
	}
	for name, read := range reads {
		if err := read(); err != nil {
			t.Fatalf("%s with no fault: %v", name, err)
		}
	}

	tests := []struct {
		status   faultproxy.Status
		is       func(error) bool
		describe string
	}{
		{faultproxy.Status500, apierrors.IsInternalError, "500 Internal Server Error: "},
		{faultproxy.Status429, apierrors.IsTooManyRequests, "429 Too Many Requests: "},
		{faultproxy.StatusForbidden, apierrors.IsForbidden, "403 Forbidden: deployments.apps is forbidden: "},
		{faultproxy.StatusTimeout, func(err error) bool { return err != nil && !errors.As(err, new(apierrors.APIStatus)) }, "timed out: "},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			if err := p.Set(faultproxy.Fault{Resource: "deployments.apps", Status: tt.status}); err != nil {
				t.Fatal(err)
			}
			defer p.Clear("deployments.apps")
			for name, read := range reads {
				start := time.Now()
				err := read()
				if !tt.is(err) {
					t.Errorf("%s: error %v, not a %s", name, err, tt.status)
				}
				if d := readerr.Describe(err); !strings.HasPrefix(d, tt.describe) {
					t.Errorf("%s: described as %q, want it to begin %q", name, d, tt.describe)
				}
				if elapsed := time.Since(start); tt.status == faultproxy.StatusTimeout && elapsed < 1900*time.Millisecond {
					t.Errorf("%s: failed after %s, before the client's 2s timeout", name, elapsed)
				}
			}
			// Other resources, and writes, pass.
			if _, err := cs.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{}); err != nil {
				t.Errorf("listing ConfigMaps with a Deployments fault: %v", err)
			}
			patch := []byte(`{"metadata":{"labels":{"touched":"` + string(tt.status) + `"}}}`)
			if _, err := cs.AppsV1().Deployments("default").Patch(ctx, "web", "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
				t.Errorf("patching the Deployment with a read fault: %v", err)
			}
		})
	}
	for name, read := range reads {
		if err := read(); err != nil {
			t.Errorf("%s after clearing the fault: %v", name, err)
		}
	}

	t.Run("control socket", func(t *testing.T) {
		set := faultproxy.NewSet()
		set.Add(c.Name, p)
		sock := filepath.Join(t.TempDir(), "faults.sock")
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if err := faultproxy.Serve(sctx, sock, set); err != nil {
			t.Fatal(err)
		}
		faults, err := faultproxy.SetFault(ctx, sock, c.Name, faultproxy.Fault{Resource: "deployments.apps", Status: faultproxy.Status500})
		if err != nil || len(faults) != 1 {
			t.Fatalf("SetFault: %v, %v", faults, err)
		}
		if err := reads["list all namespaces"](); !apierrors.IsInternalError(err) {
			t.Errorf("list with a fault set through the socket: %v, want 500", err)
		}
		if _, err := faultproxy.SetFault(ctx, sock, "nosuch", faultproxy.Fault{Resource: "deployments.apps", Status: faultproxy.Status500}); err == nil || !strings.Contains(err.Error(), "faulty") {
			t.Errorf("SetFault on an unknown cluster: %v, want an error naming the lab's clusters", err)
		}
		if faults, err := faultproxy.ClearFaults(ctx, sock, c.Name, ""); err != nil || len(faults) != 0 {
			t.Fatalf("ClearFaults: %v, %v", faults, err)
		}
		if err := reads["list all namespaces"](); err != nil {
			t.Errorf("list after clearing through the socket: %v", err)
		}
	})

	// A client with a token of its own is forwarded as itself: a
	// ServiceAccount without RBAC is refused by the apiserver, not let in
	// as the proxy's admin.
	t.Run("token forwarded as the client", func(t *testing.T) {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: "default"}}
		if _, err := cs.CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		tok, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, "reader", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tcfg := &rest.Config{Host: p.URL, BearerToken: tok.Status.Token, TLSClientConfig: rest.TLSClientConfig{CAData: c.CAData}}
		tcs, err := kubernetes.NewForConfig(tcfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tcs.AppsV1().Deployments("default").List(ctx, metav1.ListOptions{})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "system:serviceaccount:default:reader") {
			t.Errorf("listing as a ServiceAccount without RBAC through the proxy: %v, want the apiserver's 403 naming it", err)
		}
	})

	t.Run("kubeconfig routed", func(t *testing.T) {
		data, err := os.ReadFile(c.KubeconfigPath)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "kubeconfig")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := faultproxy.Route(path, map[string]string{c.Name: p.URL}); err != nil {
			t.Fatal(err)
		}
		routed, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			t.Fatal(err)
		}
		rcs, err := kubernetes.NewForConfig(routed)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rcs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{}); err != nil {
			t.Fatalf("listing through the routed kubeconfig, the cluster's CA verifying the proxy: %v", err)
		}
		if err := p.Set(faultproxy.Fault{Resource: "deployments.apps", Status: faultproxy.Status500}); err != nil {
			t.Fatal(err)
		}
		defer p.Clear("")
		if _, err := rcs.AppsV1().Deployments("").List(ctx, metav1.ListOptions{}); !apierrors.IsInternalError(err) {
			t.Errorf("listing through the routed kubeconfig with a fault: %v, want 500", err)
		}
	})
}

// TestUpgradeThroughProxy: kubectl exec, attach and port-forward switch
// protocols (websocket, SPDY) on an HTTP/1.1 connection; the proxy passes
// the switch on and then the bytes both ways. The upstream here stands in
// for the apiserver's exec endpoint: a TLS server with the cluster's serving
// certificate that switches to an echo.
func TestUpgradeThroughProxy(t *testing.T) {
	_, clusters := labtest.New(t, lab.ClusterSpec{Name: "upgrade", APIServerOnly: true})
	c := clusters[0]
	cert, err := tls.LoadX509KeyPair(filepath.Join(c.Dir, "apiserver.crt"), filepath.Join(c.Dir, "apiserver.key"))
	if err != nil {
		t.Fatal(err)
	}
	upstream := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_ = rw.Flush()
		line, _ := rw.ReadString('\n')
		_, _ = rw.WriteString("echo: " + line)
		_ = rw.Flush()
	}))
	upstream.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	upstream.StartTLS()
	defer upstream.Close()

	certPEM, _ := os.ReadFile(filepath.Join(c.Dir, "apiserver.crt"))
	keyPEM, _ := os.ReadFile(filepath.Join(c.Dir, "apiserver.key"))
	p, err := faultproxy.Start(faultproxy.Options{
		Upstream: upstream.URL, CAData: c.CAData, CertData: c.ClientCertData, KeyData: c.ClientKeyData,
		ServingCert: certPEM, ServingKey: keyPEM,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.CAData)
	admin, err := tls.X509KeyPair(c.ClientCertData, c.ClientKeyData)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", strings.TrimPrefix(p.URL, "https://"), &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{admin}, NextProtos: []string{"http/1.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /api/v1/namespaces/default/pods/web/exec HTTP/1.1\r\nHost: lab\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %s, want 101 Switching Protocols: %s", resp.Status, body)
	}
	fmt.Fprintf(conn, "hello\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "echo: hello\n" {
		t.Errorf("after the switch read %q, %v; want the echo", line, err)
	}
}
