package gkeemu

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// fakeProvisioner records what the emulator asks of it, for tests of the
// emulator's own logic; the lab's real control planes are exercised by the
// e2e test.
type fakeProvisioner struct {
	mu       sync.Mutex
	nodes    map[string][]NodePoolNodes // running clusters
	dark     map[string]bool
	calls    []string
	nextPort int
	// failWith, if set, is returned by the next call.
	failWith error
	// block, if set, makes Provision wait for it to close or for ctx.
	block chan struct{}
	// canceled records that a blocked Provision saw its context end.
	canceled bool
}

func newFake() *fakeProvisioner {
	return &fakeProvisioner{nodes: map[string][]NodePoolNodes{}, dark: map[string]bool{}, nextPort: 40000}
}

func (f *fakeProvisioner) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	err := f.failWith
	f.failWith = nil
	return err
}

func (f *fakeProvisioner) Provision(ctx context.Context, name string, pools []NodePoolNodes) (ControlPlane, error) {
	if err := f.record("provision " + name); err != nil {
		return ControlPlane{}, err
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			f.mu.Lock()
			f.canceled = true
			f.mu.Unlock()
			return ControlPlane{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.nodes[name]; ok {
		return ControlPlane{}, fmt.Errorf("cluster %s already provisioned", name)
	}
	f.nodes[name] = slices.Clone(pools)
	f.nextPort++
	return ControlPlane{
		Endpoint:       fmt.Sprintf("https://127.0.0.1:%d", f.nextPort),
		CAData:         []byte("CA of " + name),
		ClientCertData: []byte("cert of " + name),
		ClientKeyData:  []byte("key of " + name),
	}, nil
}

func (f *fakeProvisioner) Resize(_ context.Context, name string, pools []NodePoolNodes) error {
	if err := f.record("resize " + name); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.nodes[name]; !ok {
		return errors.New("no cluster " + name)
	}
	f.nodes[name] = slices.Clone(pools)
	return nil
}

func (f *fakeProvisioner) Deprovision(_ context.Context, name string) error {
	if err := f.record("deprovision " + name); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.nodes, name)
	delete(f.dark, name)
	return nil
}

func (f *fakeProvisioner) SetDark(_ context.Context, name string, dark bool) error {
	if err := f.record(fmt.Sprintf("dark %s %t", name, dark)); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.nodes[name]; !ok {
		return errors.New("no cluster " + name)
	}
	f.dark[name] = dark
	return nil
}

func (f *fakeProvisioner) clusterNodes(name string) ([]NodePoolNodes, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.nodes[name]
	return slices.Clone(n), ok
}

func (f *fakeProvisioner) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}
