package membership

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Verbs, in the order RBAC objects list them.
var (
	readVerbs  = []string{"get", "list", "watch"}
	writeVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	// rbacVerbs are what writing RBAC objects takes beyond writeVerbs:
	// escalate to write a Role that grants what the writer does not hold,
	// bind to bind one.
	rbacVerbs = []string{"bind", "escalate"}
)

var verbOrder = []string{"get", "list", "watch", "create", "update", "patch", "delete", "bind", "escalate"}

// DefaultWorkloads are the resources the engine is granted when no topology
// says which kinds it applies to the cluster: what kustomize apps commonly
// hold.
func DefaultWorkloads() []schema.GroupResource {
	return []schema.GroupResource{
		{Group: "apps", Resource: "deployments"},
		{Group: "apps", Resource: "statefulsets"},
		{Group: "apps", Resource: "daemonsets"},
		{Group: "batch", Resource: "jobs"},
		{Group: "batch", Resource: "cronjobs"},
		{Resource: "configmaps"},
		{Resource: "secrets"},
		{Resource: "services"},
		{Resource: "serviceaccounts"},
		{Resource: "persistentvolumeclaims"},
		{Group: "policy", Resource: "poddisruptionbudgets"},
		{Group: "autoscaling", Resource: "horizontalpodautoscalers"},
		{Group: "networking.k8s.io", Resource: "ingresses"},
		{Group: "networking.k8s.io", Resource: "networkpolicies"},
	}
}

// Rules are the RBAC rules of the engine's ServiceAccount on a member.
type Rules struct {
	// Cluster are the ClusterRole's rules, cluster-wide.
	Cluster []rbacv1.PolicyRule
	// Namespace are the Role's rules in kube-system, where the inventory
	// ConfigMaps and the apply lock Leases are.
	Namespace []rbacv1.PolicyRule
	// Notes explain grants that give more than their verbs say.
	Notes []string
}

// ComputeRules returns the least the engine needs to apply, prune and watch
// the given workload resources on a member:
//   - in kube-system, ConfigMaps (the ApplySet inventory parents) and
//     coordination.k8s.io Leases (the apply lock): read and write;
//   - cluster-wide, Nodes and Pods (counting capacity, readiness) and
//     ReplicaSets (following a Pod's owners to its Deployment): read;
//   - Namespaces and every workload resource: read and write, for plan's
//     server-side dry-runs, apply, prune and the control plane's watches.
//
// RBAC resources among the workloads also get bind and escalate on roles
// and clusterroles, without which geofed could write no Role granting what
// it does not hold itself; a note says what that amounts to.
func ComputeRules(workloads []schema.GroupResource) Rules {
	verbs := map[schema.GroupResource]map[string]bool{}
	add := func(gr schema.GroupResource, vs []string) {
		if verbs[gr] == nil {
			verbs[gr] = map[string]bool{}
		}
		for _, v := range vs {
			verbs[gr][v] = true
		}
	}
	add(schema.GroupResource{Resource: "namespaces"}, writeVerbs)
	add(schema.GroupResource{Resource: "nodes"}, readVerbs)
	add(schema.GroupResource{Resource: "pods"}, readVerbs)
	add(schema.GroupResource{Group: "apps", Resource: "replicasets"}, readVerbs)
	var rbac []string
	for _, gr := range workloads {
		add(gr, writeVerbs)
		if gr.Group == rbacv1.GroupName && slices.Contains([]string{"roles", "rolebindings", "clusterroles", "clusterrolebindings"}, gr.Resource) {
			rbac = append(rbac, gr.Resource)
		}
	}
	var notes []string
	if len(rbac) > 0 {
		slices.Sort(rbac)
		add(schema.GroupResource{Group: rbacv1.GroupName, Resource: "roles"}, rbacVerbs)
		add(schema.GroupResource{Group: rbacv1.GroupName, Resource: "clusterroles"}, rbacVerbs)
		notes = append(notes, fmt.Sprintf("The workloads include RBAC objects (%s.%s): applying them needs bind and escalate on roles and clusterroles, which are granted. "+
			"With them the ServiceAccount can grant itself anything: as much as cluster-admin.", strings.Join(rbac, ", "), rbacv1.GroupName))
	}
	return Rules{
		Cluster: groupRules(verbs),
		Namespace: groupRules(map[schema.GroupResource]map[string]bool{
			{Resource: "configmaps"}:                           set(writeVerbs),
			{Group: "coordination.k8s.io", Resource: "leases"}: set(writeVerbs),
		}),
		Notes: notes,
	}
}

func set(vs []string) map[string]bool {
	m := map[string]bool{}
	for _, v := range vs {
		m[v] = true
	}
	return m
}

// groupRules writes one rule per API group and set of verbs, its resources
// sorted, the rules sorted by group ("" first) then resources.
func groupRules(verbs map[schema.GroupResource]map[string]bool) []rbacv1.PolicyRule {
	type key struct{ group, verbs string }
	byKey := map[key]*rbacv1.PolicyRule{}
	for _, gr := range slices.SortedFunc(maps.Keys(verbs), func(a, b schema.GroupResource) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Resource, b.Resource))
	}) {
		var vs []string
		for _, v := range verbOrder {
			if verbs[gr][v] {
				vs = append(vs, v)
			}
		}
		k := key{gr.Group, strings.Join(vs, ",")}
		if r := byKey[k]; r != nil {
			r.Resources = append(r.Resources, gr.Resource)
			continue
		}
		byKey[k] = &rbacv1.PolicyRule{APIGroups: []string{gr.Group}, Resources: []string{gr.Resource}, Verbs: vs}
	}
	rules := make([]rbacv1.PolicyRule, 0, len(byKey))
	for _, r := range byKey {
		rules = append(rules, *r)
	}
	slices.SortFunc(rules, func(a, b rbacv1.PolicyRule) int {
		return cmp.Or(cmp.Compare(a.APIGroups[0], b.APIGroups[0]), cmp.Compare(a.Resources[0], b.Resources[0]))
	})
	return rules
}

// ParseGrant parses --grant RESOURCE.GROUP as kubectl names resources:
// "deployments.apps", "widgets.example.com", or "configmaps" for the core
// group.
func ParseGrant(s string) (schema.GroupResource, error) {
	resource, group, _ := strings.Cut(s, ".")
	if errs := validation.IsDNS1123Label(resource); resource == "" || len(errs) > 0 {
		return schema.GroupResource{}, fmt.Errorf("--grant %q: want RESOURCE.GROUP, a resource in lower case and plural as kubectl names it (deployments.apps, configmaps)", s)
	}
	if group != "" {
		if errs := validation.IsDNS1123Subdomain(group); len(errs) > 0 {
			return schema.GroupResource{}, fmt.Errorf("--grant %q: API group %q: %s", s, group, strings.Join(errs, "; "))
		}
	}
	return schema.GroupResource{Group: group, Resource: resource}, nil
}

// Resources maps kinds to the resources RBAC names them by, with the
// member's RESTMapper, or with the CRDs the topology applies itself for
// custom resources the member does not serve yet. An applied kind the
// member no longer serves is left out: nothing of it is left to prune. The
// result is sorted and has no duplicates.
func Resources(mapper meta.RESTMapper, k Kinds) ([]schema.GroupResource, error) {
	seen := map[schema.GroupResource]bool{}
	var errs []string
	for _, gk := range k.GroupKinds {
		if gr, ok := k.Defined[gk]; ok {
			seen[gr] = true
			continue
		}
		m, err := mapper.RESTMapping(gk)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", kindName(gk), err))
			continue
		}
		seen[m.Resource.GroupResource()] = true
	}
	for _, gk := range k.Applied {
		if gr, ok := k.Defined[gk]; ok {
			seen[gr] = true
		} else if m, err := mapper.RESTMapping(gk); err == nil {
			seen[m.Resource.GroupResource()] = true
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("mapping the topology's kinds to resources: %s (a kind the cluster does not serve, whose CRD the topology does not apply either)", strings.Join(errs, "; "))
	}
	return slices.SortedFunc(maps.Keys(seen), func(a, b schema.GroupResource) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Resource, b.Resource))
	}), nil
}

func kindName(gk schema.GroupKind) string {
	if gk.Group == "" {
		return gk.Kind
	}
	return gk.Group + "/" + gk.Kind
}
