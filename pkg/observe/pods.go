package observe

import (
	"context"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

var podsResource = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

// Pods lists a reachable cluster's pods one namespace at a time, each
// once, when a workload there needs them to say why it is not ready: one
// LIST per namespace in trouble, instead of one per workload.
type Pods struct {
	client dynamic.Interface
	mu     sync.Mutex
	byNS   map[string][]map[string]any
	failed map[string]error
}

// Pods reads the member's pods by namespace, as they are asked for.
func (m *Member) Pods() *Pods {
	return &Pods{client: m.Conn.Dynamic, byNS: map[string][]map[string]any{}, failed: map[string]error{}}
}

// In is the pods of namespace, listed at the first call.
func (p *Pods) In(ctx context.Context, namespace string) ([]map[string]any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pods, ok := p.byNS[namespace]; ok {
		return pods, nil
	}
	if err, ok := p.failed[namespace]; ok {
		return nil, err
	}
	// ResourceVersion 0 is served from the apiserver's cache, not etcd: a
	// diagnosis may be a moment old.
	list, err := p.client.Resource(podsResource).Namespace(namespace).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		err = fmt.Errorf("listing the pods of namespace %s: %w", namespace, err)
		p.failed[namespace] = err
		return nil, err
	}
	pods := make([]map[string]any, len(list.Items))
	for i := range list.Items {
		pods[i] = list.Items[i].Object
	}
	p.byNS[namespace] = pods
	return pods, nil
}
