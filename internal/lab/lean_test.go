package lab

import (
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestLeanAPIServer starts an apiserver-only cluster and a lean one side by
// side, stores the same objects in both, and checks that the lean one
// serves what the benchmarks apply, refuses the groups it leaves out, and
// holds markedly less private memory.
func TestLeanAPIServer(t *testing.T) {
	t.Parallel()
	l := startLab(t)
	type run struct {
		spec       ClusterSpec
		jobsServed bool
		c          *Cluster
		mem        Memory
	}
	runs := []*run{
		{spec: ClusterSpec{Name: "plain", APIServerOnly: true}, jobsServed: true},
		{spec: ClusterSpec{Name: "lean", APIServerOnly: true, Lean: true}, jobsServed: false},
	}
	for _, r := range runs {
		c, err := l.AddCluster(t.Context(), r.spec)
		if err != nil {
			t.Fatal(err)
		}
		r.c = c
	}
	for _, r := range runs {
		cs := clientFor(t, r.c.RESTConfig())
		ctx := t.Context()
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app"}}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s: creating a Namespace: %v", r.c.Name, err)
		}
		for i := range 20 {
			name := fmt.Sprintf("app-%d", i)
			labels := map[string]string{"app": name}
			if _, err := cs.CoreV1().ConfigMaps("app").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
				t.Fatalf("%s: creating ConfigMap %s: %v", r.c.Name, name, err)
			}
			svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80}}}}
			if _, err := cs.CoreV1().Services("app").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
				t.Fatalf("%s: creating Service %s: %v", r.c.Name, name, err)
			}
			d := &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: appsv1.DeploymentSpec{
					Replicas: ptr.To[int32](0),
					Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: labels},
						Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/app:1"}}},
					},
				},
			}
			if _, err := cs.AppsV1().Deployments("app").Create(ctx, d, metav1.CreateOptions{}); err != nil {
				t.Fatalf("%s: creating Deployment %s: %v", r.c.Name, name, err)
			}
		}
		_, err := cs.BatchV1().Jobs("app").List(ctx, metav1.ListOptions{})
		switch {
		case r.jobsServed && err != nil:
			t.Errorf("%s: listing Jobs: %v", r.c.Name, err)
		case !r.jobsServed && !apierrors.IsNotFound(err):
			t.Errorf("%s: listing Jobs: %v, want NotFound (batch/v1 not served)", r.c.Name, err)
		}
	}
	// Both settle before they are read alike.
	time.Sleep(5 * time.Second)
	for _, r := range runs {
		m, err := r.c.APIServerMemory()
		if err != nil {
			t.Fatal(err)
		}
		if m.Private <= 0 || m.RSS < m.Private || m.Peak < m.RSS {
			t.Fatalf("%s: implausible memory %+v", r.c.Name, m)
		}
		r.mem = m
		t.Logf("%s: RSS %d MiB, peak %d MiB, private %d MiB", r.c.Name, m.RSS>>20, m.Peak>>20, m.Private>>20)
	}
	// Measured: 120 against 195-234 MiB.
	if plain, lean := runs[0].mem.Private, runs[1].mem.Private; lean > plain*4/5 {
		t.Errorf("the lean apiserver holds %d MiB of private memory, the plain one %d MiB: want at least a fifth less", lean>>20, plain>>20)
	}
}
