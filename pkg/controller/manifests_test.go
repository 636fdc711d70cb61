package controller

import (
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// The install manifests build with kustomize and hold what the issue asks:
// the CRD, a namespaced Role only (least privilege), two replicas electing
// a leader, probes on the controller's probe endpoints.
func TestInstallManifests(t *testing.T) {
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), "../../manifests/controller")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, r := range res.Resources() {
		kinds[r.GetKind()]++
		if ns := r.GetNamespace(); r.GetKind() != "Namespace" && r.GetKind() != "CustomResourceDefinition" && ns != "geofed-system" {
			t.Errorf("%s %s in namespace %q, want geofed-system", r.GetKind(), r.GetName(), ns)
		}
		switch r.GetKind() {
		case "ClusterRole", "ClusterRoleBinding":
			t.Errorf("%s %s: the controller needs no cluster-wide RBAC", r.GetKind(), r.GetName())
		case "Role":
			m, _ := r.Map()
			secrets := map[string]bool{}
			for _, rule := range m["rules"].([]any) {
				rule := rule.(map[string]any)
				for _, v := range rule["verbs"].([]any) {
					if v == "*" || v == "delete" {
						t.Errorf("Role grants %q: more than the controller does", v)
					}
					if slices.Contains(rule["resources"].([]any), any("secrets")) {
						secrets[v.(string)] = true
					}
				}
			}
			// The member Secrets come from the cache: listed and watched.
			for _, v := range []string{"get", "list", "watch"} {
				if !secrets[v] {
					t.Errorf("Role does not grant %s on secrets: the cache of member Secrets needs it", v)
				}
			}
		case "Deployment":
			m, _ := r.Map()
			spec := m["spec"].(map[string]any)
			if spec["replicas"] != 2 {
				t.Errorf("Deployment replicas %v, want 2", spec["replicas"])
			}
			c := spec["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
			var args []string
			for _, a := range c["args"].([]any) {
				args = append(args, a.(string))
			}
			if !slices.Contains(args, "--leader-elect") {
				t.Errorf("controller args %v lack --leader-elect", args)
			}
			for _, probe := range []string{"livenessProbe", "readinessProbe"} {
				if _, ok := c[probe]; !ok {
					t.Errorf("controller has no %s", probe)
				}
			}
		}
	}
	for _, k := range []string{"Namespace", "CustomResourceDefinition", "ServiceAccount", "Role", "RoleBinding", "Deployment"} {
		if kinds[k] != 1 {
			t.Errorf("%d %s objects, want 1 (all: %v)", kinds[k], k, kinds)
		}
	}
	if t.Failed() {
		y, _ := res.AsYaml()
		t.Log(strings.TrimSpace(string(y)))
	}
}
