// Package membership joins a member cluster to a geofed control plane and
// unjoins it: on the member, a ServiceAccount with the RBAC the engine needs
// (least privilege, ComputeRules, unless cluster-admin is asked for) and a
// token for it; on the hub, a Secret holding a kubeconfig with that token,
// where the controller reads each member's credentials
// (SecretName). Join and Unjoin only ever change objects
// that carry the membership label for the cluster, or that they create.
package membership

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/inventory"
	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/render"
)

// SecretPrefix and SecretKey say where a member's kubeconfig is kept in
// the hub: Secret geofed-member-<cluster>, key kubeconfig, in the
// controller's namespace.
const (
	SecretPrefix = "geofed-member-"
	SecretKey    = "kubeconfig"
)

// SecretName is the hub Secret that holds the named member's kubeconfig.
func SecretName(cluster string) string { return SecretPrefix + cluster }

const (
	// Namespace holds the member's ServiceAccount, its token and Role:
	// kube-system exists in every cluster, and the engine's inventory
	// ConfigMaps and lock Leases live there already.
	Namespace = inventory.ParentNamespace
	// Name is the ServiceAccount's, and its ClusterRole's, ClusterRoleBinding's,
	// Role's and RoleBinding's.
	Name = "geofed"
	// TokenSecretName is the ServiceAccount token Secret the token
	// controller fills.
	TokenSecretName = "geofed-token"
	// FieldManager is the server-side apply field manager of join.
	FieldManager = "geofed-join"
	// LabelMembership marks everything join makes, on the member and the
	// hub, with the cluster's name: unjoin deletes only what carries it.
	LabelMembership = "geofed.io/membership"
	// DefaultTokenTimeout is how long join waits for the token controller.
	DefaultTokenTimeout = time.Minute
)

// Access is what the engine's ServiceAccount is granted on a member.
type Access struct {
	// ClusterAdmin binds cluster-admin instead of Rules.
	ClusterAdmin bool
	Rules        Rules
}

// Ref names one object join makes.
type Ref struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func (r Ref) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// Object is one object join applies, as a server-side apply configuration.
type Object struct {
	Ref
	apply any
}

// Change is what join or unjoin did (or, dry-run, would do) to an object.
type Change struct {
	Ref
	Action object.Action `json:"action"`
	Reason string        `json:"reason,omitempty"`
}

var (
	refServiceAccount     = Ref{Kind: "ServiceAccount", Namespace: Namespace, Name: Name}
	refTokenSecret        = Ref{Kind: "Secret", Namespace: Namespace, Name: TokenSecretName}
	refClusterRole        = Ref{Kind: "ClusterRole", Name: Name}
	refClusterRoleBinding = Ref{Kind: "ClusterRoleBinding", Name: Name}
	refRole               = Ref{Kind: "Role", Namespace: Namespace, Name: Name}
	refRoleBinding        = Ref{Kind: "RoleBinding", Namespace: Namespace, Name: Name}
)

// memberRefs are every object join may make on a member, in the order
// unjoin deletes them: the bindings first, so access ends with the first
// deletion.
var memberRefs = []Ref{refClusterRoleBinding, refRoleBinding, refClusterRole, refRole, refTokenSecret, refServiceAccount}

// Labels are the labels of everything join makes for cluster.
func Labels(cluster string) map[string]string {
	return map[string]string{object.LabelManagedBy: object.ManagedByValue, LabelMembership: cluster}
}

// MemberObjects are what join applies to the member named cluster, in
// apply order: the ServiceAccount, its token Secret, then its RBAC.
func MemberObjects(cluster string, a Access) []Object {
	labels := Labels(cluster)
	sa := corev1ac.ServiceAccount(Name, Namespace).WithLabels(labels)
	token := corev1ac.Secret(TokenSecretName, Namespace).WithLabels(labels).
		WithAnnotations(map[string]string{corev1.ServiceAccountNameKey: Name}).
		WithType(corev1.SecretTypeServiceAccountToken)
	return append([]Object{{refServiceAccount, sa}, {refTokenSecret, token}}, RBACObjects(cluster, a)...)
}

// RBACObjects are the RBAC objects of MemberObjects: with ClusterAdmin a
// ClusterRoleBinding to cluster-admin, otherwise a ClusterRole and a Role
// in kube-system with the Rules, each bound to the ServiceAccount.
func RBACObjects(cluster string, a Access) []Object {
	labels := Labels(cluster)
	subject := rbacv1ac.Subject().WithKind(rbacv1.ServiceAccountKind).WithNamespace(Namespace).WithName(Name)
	if a.ClusterAdmin {
		return []Object{{refClusterRoleBinding, rbacv1ac.ClusterRoleBinding(Name).WithLabels(labels).
			WithRoleRef(roleRef("ClusterRole", "cluster-admin")).WithSubjects(subject)}}
	}
	return []Object{
		{refClusterRole, rbacv1ac.ClusterRole(Name).WithLabels(labels).WithRules(ruleConfigs(a.Rules.Cluster)...)},
		{refClusterRoleBinding, rbacv1ac.ClusterRoleBinding(Name).WithLabels(labels).
			WithRoleRef(roleRef("ClusterRole", Name)).WithSubjects(subject)},
		{refRole, rbacv1ac.Role(Name, Namespace).WithLabels(labels).WithRules(ruleConfigs(a.Rules.Namespace)...)},
		{refRoleBinding, rbacv1ac.RoleBinding(Name, Namespace).WithLabels(labels).
			WithRoleRef(roleRef("Role", Name)).WithSubjects(subject)},
	}
}

func roleRef(kind, name string) *rbacv1ac.RoleRefApplyConfiguration {
	return rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind(kind).WithName(name)
}

func ruleConfigs(rules []rbacv1.PolicyRule) []*rbacv1ac.PolicyRuleApplyConfiguration {
	out := make([]*rbacv1ac.PolicyRuleApplyConfiguration, len(rules))
	for i, r := range rules {
		out[i] = rbacv1ac.PolicyRule().WithAPIGroups(r.APIGroups...).WithResources(r.Resources...).WithVerbs(r.Verbs...)
	}
	return out
}

// HubSecret is the Secret that holds the member's kubeconfig in the hub.
func HubSecret(cluster, namespace string, kubeconfig []byte) Object {
	return Object{
		Ref{Kind: "Secret", Namespace: namespace, Name: SecretName(cluster)},
		corev1ac.Secret(SecretName(cluster), namespace).WithLabels(Labels(cluster)).
			WithType(corev1.SecretTypeOpaque).WithData(map[string][]byte{SecretKey: kubeconfig}),
	}
}

// Endpoint is how the hub reaches a member's apiserver.
type Endpoint struct {
	Server string
	// CAData verifies Server when the token Secret has no ca.crt.
	CAData        []byte
	TLSServerName string
}

// Kubeconfig is a kubeconfig for the member's ServiceAccount token: one
// cluster, user and context, all named after the cluster, the context
// current.
func Kubeconfig(cluster string, e Endpoint, token []byte) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[cluster] = &clientcmdapi.Cluster{Server: e.Server, CertificateAuthorityData: e.CAData, TLSServerName: e.TLSServerName}
	cfg.AuthInfos[cluster] = &clientcmdapi.AuthInfo{Token: string(token)}
	cfg.Contexts[cluster] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: cluster}
	cfg.CurrentContext = cluster
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		// Never the config itself: it holds the token.
		return nil, errors.New("encoding the kubeconfig failed")
	}
	return data, nil
}

// WriteYAML prints objects as kubectl prints manifests, YAML documents
// separated by "---", the comment lines heading the first. No Secret value
// is ever printed: each is shown as (sensitive).
func WriteYAML(w io.Writer, comments []string, objs []Object) error {
	for _, c := range comments {
		if _, err := fmt.Fprintf(w, "# %s\n", c); err != nil {
			return err
		}
	}
	for i, o := range objs {
		data, err := json.Marshal(o.apply)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", o.Ref, err)
		}
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			return fmt.Errorf("encoding %s: %w", o.Ref, err)
		}
		if doc["kind"] == "Secret" {
			for _, field := range []string{"data", "stringData"} {
				if values, ok := doc[field].(map[string]any); ok {
					for k := range values {
						values[k] = render.Sensitive
					}
				}
			}
		}
		y, err := yaml.Marshal(doc)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", o.Ref, err)
		}
		if i > 0 {
			if _, err := fmt.Fprint(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(y); err != nil {
			return err
		}
	}
	return nil
}

// JoinOptions says which member to join to which hub, and how.
type JoinOptions struct {
	// Cluster is the member's name in the topology.
	Cluster string
	// Member is a client of the member with the rights to create the
	// ServiceAccount and grant it Access.
	Member kubernetes.Interface
	// Hub is a client of the hub; HubName names it in messages.
	Hub          kubernetes.Interface
	HubName      string
	HubNamespace string
	// HubNamespaceExists skips reading (and creating) the hub namespace:
	// the controller, which runs in it and may not read Namespaces, knows
	// it is there.
	HubNamespaceExists bool
	Access             Access
	// Endpoint is where the hub reaches the member.
	Endpoint Endpoint
	// TokenTimeout bounds the wait for the token controller; zero means
	// DefaultTokenTimeout.
	TokenTimeout time.Duration
	// DryRun checks what it would change and changes nothing.
	DryRun bool
	// Progress receives a line per step; nil discards them.
	Progress io.Writer
}

// JoinResult is what Join did, or would do.
type JoinResult struct {
	Cluster      string `json:"cluster"`
	Server       string `json:"server"`
	ClusterAdmin bool   `json:"clusterAdmin"`
	// Member lists the member's objects in apply order, then any
	// left from an earlier join with other access, deleted.
	Member []Change `json:"member"`
	// Hub lists the hub's Namespace, when created, and the Secret.
	Hub       []Change `json:"hub"`
	HubSecret Ref      `json:"hubSecret"`
	SecretKey string   `json:"secretKey"`
	DryRun    bool     `json:"dryRun,omitempty"`
}

// live is what join and unjoin read of an existing object.
type live struct {
	exists bool
	labels map[string]string
	uid    types.UID
	rv     string
	// roleRef is a binding's: it cannot change in place.
	roleRef rbacv1.RoleRef
}

// notOurs says why join and unjoin leave l alone, "" when it is the
// cluster's.
func notOurs(l live, cluster string) string {
	switch v, ok := l.labels[LabelMembership]; {
	case !ok:
		return "not made by geofed join (no " + LabelMembership + " label)"
	case v != cluster:
		return fmt.Sprintf("made by geofed join for cluster %q (%s=%s)", v, LabelMembership, v)
	}
	return ""
}

// Join makes the member's ServiceAccount, token and RBAC by server-side
// apply, waits for the token, and stores a kubeconfig with it in the hub
// Secret. It reads everything first and refuses, changing nothing, when an
// object it would apply exists without the cluster's membership label. A
// second Join with the same options changes nothing; one with other Access
// deletes what the earlier one made that the new one does not.
func Join(ctx context.Context, o JoinOptions) (*JoinResult, error) {
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	hubName := "the hub"
	if o.HubName != "" {
		hubName = "hub " + o.HubName
	}
	secret := HubSecret(o.Cluster, o.HubNamespace, nil)
	res := &JoinResult{Cluster: o.Cluster, Server: o.Endpoint.Server, ClusterAdmin: o.Access.ClusterAdmin,
		HubSecret: secret.Ref, SecretKey: SecretKey, DryRun: o.DryRun}

	lives := map[Ref]live{}
	for _, ref := range memberRefs {
		l, err := getLive(ctx, o.Member, ref)
		if err != nil {
			return nil, fmt.Errorf("reading %s on cluster %s: %w", ref, o.Cluster, err)
		}
		lives[ref] = l
	}
	hubNS := live{exists: true}
	var err error
	if !o.HubNamespaceExists {
		if hubNS, err = getLive(ctx, o.Hub, Ref{Kind: "Namespace", Name: o.HubNamespace}); err != nil {
			return nil, fmt.Errorf("reading Namespace %s on %s: %w", o.HubNamespace, hubName, err)
		}
	}
	hubSecret := live{}
	if hubNS.exists {
		if hubSecret, err = getLive(ctx, o.Hub, secret.Ref); err != nil {
			return nil, fmt.Errorf("reading %s on %s: %w", secret.Ref, hubName, err)
		}
	}

	desired := MemberObjects(o.Cluster, o.Access)
	var refused []error
	for _, obj := range desired {
		if l := lives[obj.Ref]; l.exists {
			if why := notOurs(l, o.Cluster); why != "" {
				refused = append(refused, fmt.Errorf("%s on cluster %s: %s", obj.Ref, o.Cluster, why))
			}
		}
	}
	if hubSecret.exists {
		if why := notOurs(hubSecret, o.Cluster); why != "" {
			refused = append(refused, fmt.Errorf("%s on %s: %s", secret.Ref, hubName, why))
		}
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("refusing to change objects geofed join did not make for cluster %s (delete them, or unjoin the cluster they were made for), nothing was changed: %w",
			o.Cluster, errors.Join(refused...))
	}

	if o.DryRun {
		for _, obj := range desired {
			res.Member = append(res.Member, wouldApply(obj.Ref, lives[obj.Ref]))
		}
		for _, ref := range stale(desired, lives, o.Cluster) {
			res.Member = append(res.Member, Change{Ref: ref, Action: object.ActionDelete, Reason: "made by an earlier join with other access"})
		}
		if !hubNS.exists {
			res.Hub = append(res.Hub, Change{Ref: Ref{Kind: "Namespace", Name: o.HubNamespace}, Action: object.ActionCreate})
		}
		res.Hub = append(res.Hub, wouldApply(secret.Ref, hubSecret))
		return res, nil
	}

	fmt.Fprintf(progress, "Applying %d objects on cluster %s (server-side apply, field manager %s)...\n", len(desired), o.Cluster, FieldManager)
	// From the first write on, a failure says what is left, and how to
	// finish or undo it.
	left := func(err error) error {
		var applied []string
		for _, c := range res.Member {
			applied = append(applied, c.Ref.String())
		}
		if len(applied) == 0 {
			return err
		}
		return fmt.Errorf("%w; applied on cluster %s so far: %s (join again to finish, or unjoin to remove them)", err, o.Cluster, strings.Join(applied, ", "))
	}
	for _, obj := range desired {
		c, err := applyChange(ctx, o.Member, obj, lives[obj.Ref])
		if err != nil {
			return nil, left(fmt.Errorf("%s on cluster %s: %w", verbing(obj.Ref, lives[obj.Ref]), o.Cluster, err))
		}
		res.Member = append(res.Member, c)
	}
	// After the new access is in place, so it never lapses in between.
	for _, ref := range stale(desired, lives, o.Cluster) {
		if err := deleteObject(ctx, o.Member, ref, lives[ref].uid); err != nil && !apierrors.IsNotFound(err) {
			return nil, left(fmt.Errorf("deleting %s on cluster %s, made by an earlier join with other access: %w", ref, o.Cluster, err))
		}
		res.Member = append(res.Member, Change{Ref: ref, Action: object.ActionDelete, Reason: "made by an earlier join with other access"})
	}

	fmt.Fprintf(progress, "Waiting for the token controller to fill %s on cluster %s...\n", refTokenSecret, o.Cluster)
	token, ca, err := waitForToken(ctx, o.Member, o.Cluster, o.TokenTimeout)
	if err != nil {
		return nil, left(err)
	}
	endpoint := o.Endpoint
	if len(ca) > 0 {
		endpoint.CAData = ca
	}
	kubeconfig, err := Kubeconfig(o.Cluster, endpoint, token)
	if err != nil {
		return nil, left(err)
	}

	fmt.Fprintf(progress, "Storing the kubeconfig in %s on %s...\n", secret.Ref, hubName)
	if !hubNS.exists {
		_, err := o.Hub.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.HubNamespace}}, metav1.CreateOptions{FieldManager: FieldManager})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, left(fmt.Errorf("creating Namespace %s on %s: %w", o.HubNamespace, hubName, err))
		}
		res.Hub = append(res.Hub, Change{Ref: Ref{Kind: "Namespace", Name: o.HubNamespace}, Action: object.ActionCreate})
	}
	c, err := applyChange(ctx, o.Hub, HubSecret(o.Cluster, o.HubNamespace, kubeconfig), hubSecret)
	if err != nil {
		return nil, left(fmt.Errorf("%s on %s: %w", verbing(secret.Ref, hubSecret), hubName, err))
	}
	res.Hub = append(res.Hub, c)
	return res, nil
}

func verbing(ref Ref, l live) string {
	if l.exists {
		return "applying " + ref.String()
	}
	return "creating " + ref.String()
}

func wouldApply(ref Ref, l live) Change {
	if l.exists {
		return Change{Ref: ref, Action: object.ActionUpdate, Reason: "exists: applied again, changed only where it differs"}
	}
	return Change{Ref: ref, Action: object.ActionCreate}
}

// stale are the member's objects an earlier join made that desired does
// not have: the other access mode's.
func stale(desired []Object, lives map[Ref]live, cluster string) []Ref {
	want := map[Ref]bool{}
	for _, o := range desired {
		want[o.Ref] = true
	}
	var out []Ref
	for _, ref := range memberRefs {
		if l := lives[ref]; !want[ref] && l.exists && notOurs(l, cluster) == "" {
			out = append(out, ref)
		}
	}
	return out
}

// applyChange applies obj, first deleting a binding whose roleRef it
// changes (a roleRef cannot change in place), and says what changed.
func applyChange(ctx context.Context, c kubernetes.Interface, obj Object, l live) (Change, error) {
	action := object.ActionUpdate
	reason := ""
	if !l.exists {
		action = object.ActionCreate
	} else if want, ok := bindingRoleRef(obj); ok && want != l.roleRef {
		if err := deleteObject(ctx, c, obj.Ref, l.uid); err != nil && !apierrors.IsNotFound(err) {
			return Change{}, fmt.Errorf("deleting it to change its roleRef to %s %s: %w", want.Kind, want.Name, err)
		}
		action, reason = object.ActionReplace, fmt.Sprintf("roleRef %s %s → %s %s", l.roleRef.Kind, l.roleRef.Name, want.Kind, want.Name)
	}
	rv, err := applyObject(ctx, c, obj)
	if err != nil {
		return Change{}, err
	}
	if action == object.ActionUpdate && rv == l.rv {
		action = object.ActionNoop
	}
	return Change{Ref: obj.Ref, Action: action, Reason: reason}, nil
}

func bindingRoleRef(obj Object) (rbacv1.RoleRef, bool) {
	var ref *rbacv1ac.RoleRefApplyConfiguration
	switch ac := obj.apply.(type) {
	case *rbacv1ac.ClusterRoleBindingApplyConfiguration:
		ref = ac.RoleRef
	case *rbacv1ac.RoleBindingApplyConfiguration:
		ref = ac.RoleRef
	default:
		return rbacv1.RoleRef{}, false
	}
	return rbacv1.RoleRef{APIGroup: *ref.APIGroup, Kind: *ref.Kind, Name: *ref.Name}, true
}

// waitForToken waits until the token controller has filled the token
// Secret, and returns its token and ca.crt (which it leaves out when the
// controller manager has no --root-ca-file).
func waitForToken(ctx context.Context, c kubernetes.Interface, cluster string, timeout time.Duration) (token, ca []byte, err error) {
	if timeout <= 0 {
		timeout = DefaultTokenTimeout
	}
	var last error
	// Each GET runs under ctx, not the poll's deadline, so that its
	// error is the server's (or the network's), never the deadline's.
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		s, err := c.CoreV1().Secrets(Namespace).Get(ctx, TokenSecretName, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			// The token controller deletes a token Secret whose
			// ServiceAccount it cannot find.
			return false, fmt.Errorf("%s was deleted while waiting for its token: was %s deleted meanwhile?", refTokenSecret, refServiceAccount)
		case err != nil:
			last = err
			return false, nil
		}
		if len(s.Data[corev1.ServiceAccountTokenKey]) == 0 {
			return false, nil
		}
		token, ca = s.Data[corev1.ServiceAccountTokenKey], s.Data[corev1.ServiceAccountRootCAKey]
		return true, nil
	})
	if err != nil {
		if wait.Interrupted(err) && ctx.Err() == nil {
			why := "its kube-controller-manager's token controller (which needs --service-account-private-key-file) fills ServiceAccount token Secrets: is it running?"
			if last != nil {
				why = "last error: " + last.Error()
			}
			return nil, nil, fmt.Errorf("waiting for the token in %s on cluster %s: not filled after %s; %s", refTokenSecret, cluster, timeout, why)
		}
		return nil, nil, fmt.Errorf("waiting for the token in %s on cluster %s: %w", refTokenSecret, cluster, err)
	}
	return token, ca, nil
}

// UnjoinOptions says which member to unjoin from which hub.
type UnjoinOptions struct {
	Cluster      string
	Member       kubernetes.Interface
	Hub          kubernetes.Interface
	HubName      string
	HubNamespace string
	Progress     io.Writer
}

// UnjoinResult is what Unjoin did.
type UnjoinResult struct {
	Cluster string   `json:"cluster"`
	Member  []Change `json:"member"`
	Hub     []Change `json:"hub"`
	// MemberUnreachable says why the member could not be reached: its
	// objects are left as they were, listed in Member.
	MemberUnreachable string `json:"memberUnreachable,omitempty"`
}

// Left lists the member objects Unjoin did not delete, and why.
func (r *UnjoinResult) Left() []Change {
	var out []Change
	for _, c := range r.Member {
		if c.Action.IsProblem() {
			out = append(out, c)
		}
	}
	return out
}

// Unjoin deletes what Join made: on the member, each object of the names
// join uses that carries the cluster's membership label (others of the
// same name are left, and listed), and the hub Secret. Objects already gone
// are fine. An unreachable member does not stop the hub Secret's deletion:
// the control plane loses its credentials either way, and the result lists
// what is left on the member. The error, if any, says what failed; the
// result is returned with it.
func Unjoin(ctx context.Context, o UnjoinOptions) (*UnjoinResult, error) {
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	hubName := "the hub"
	if o.HubName != "" {
		hubName = "hub " + o.HubName
	}
	res := &UnjoinResult{Cluster: o.Cluster}
	var errs []error

	fmt.Fprintf(progress, "Deleting geofed's ServiceAccount and RBAC on cluster %s...\n", o.Cluster)
	for i, ref := range memberRefs {
		c, err := unjoinOne(ctx, o.Member, ref, o.Cluster)
		if err != nil && unreachable(err) {
			res.MemberUnreachable = err.Error()
			for _, ref := range memberRefs[i:] {
				res.Member = append(res.Member, Change{Ref: ref, Action: object.ActionAttention, Reason: "not deleted: the cluster could not be reached (if it exists)"})
			}
			errs = append(errs, fmt.Errorf("cluster %s could not be reached: %w", o.Cluster, err))
			break
		}
		if err != nil {
			res.Member = append(res.Member, Change{Ref: ref, Action: object.ActionError, Reason: err.Error()})
			errs = append(errs, fmt.Errorf("deleting %s on cluster %s: %w", ref, o.Cluster, err))
			continue
		}
		res.Member = append(res.Member, c)
	}

	secret := HubSecret(o.Cluster, o.HubNamespace, nil).Ref
	fmt.Fprintf(progress, "Deleting %s on %s...\n", secret, hubName)
	c, err := unjoinOne(ctx, o.Hub, secret, o.Cluster)
	if err != nil {
		res.Hub = append(res.Hub, Change{Ref: secret, Action: object.ActionError, Reason: err.Error()})
		errs = append(errs, fmt.Errorf("deleting %s on %s: %w", secret, hubName, err))
	} else {
		res.Hub = append(res.Hub, c)
	}
	return res, errors.Join(errs...)
}

func unjoinOne(ctx context.Context, c kubernetes.Interface, ref Ref, cluster string) (Change, error) {
	l, err := getLive(ctx, c, ref)
	if err != nil {
		return Change{}, err
	}
	if !l.exists {
		return Change{Ref: ref, Action: object.ActionNoop, Reason: "not there"}, nil
	}
	if why := notOurs(l, cluster); why != "" {
		return Change{Ref: ref, Action: object.ActionAttention, Reason: "not deleted: " + why}, nil
	}
	if err := deleteObject(ctx, c, ref, l.uid); err != nil {
		if apierrors.IsNotFound(err) {
			return Change{Ref: ref, Action: object.ActionNoop, Reason: "not there"}, nil
		}
		return Change{}, err
	}
	return Change{Ref: ref, Action: object.ActionDelete}, nil
}

// unreachable reports whether err is not an answer of the apiserver: the
// cluster could not be reached (refused, timed out, TLS, DNS).
func unreachable(err error) bool {
	var status apierrors.APIStatus
	return !errors.As(err, &status)
}

// getLive reads ref; a missing object is a live with exists false.
func getLive(ctx context.Context, c kubernetes.Interface, ref Ref) (live, error) {
	var (
		m       metav1.Object
		roleRef rbacv1.RoleRef
		err     error
	)
	opts := metav1.GetOptions{}
	switch ref.Kind {
	case "Namespace":
		var o *corev1.Namespace
		o, err = c.CoreV1().Namespaces().Get(ctx, ref.Name, opts)
		m = o
	case "ServiceAccount":
		var o *corev1.ServiceAccount
		o, err = c.CoreV1().ServiceAccounts(ref.Namespace).Get(ctx, ref.Name, opts)
		m = o
	case "Secret":
		var o *corev1.Secret
		o, err = c.CoreV1().Secrets(ref.Namespace).Get(ctx, ref.Name, opts)
		m = o
	case "ClusterRole":
		var o *rbacv1.ClusterRole
		o, err = c.RbacV1().ClusterRoles().Get(ctx, ref.Name, opts)
		m = o
	case "ClusterRoleBinding":
		var o *rbacv1.ClusterRoleBinding
		o, err = c.RbacV1().ClusterRoleBindings().Get(ctx, ref.Name, opts)
		if err == nil {
			m, roleRef = o, o.RoleRef
		}
	case "Role":
		var o *rbacv1.Role
		o, err = c.RbacV1().Roles(ref.Namespace).Get(ctx, ref.Name, opts)
		m = o
	case "RoleBinding":
		var o *rbacv1.RoleBinding
		o, err = c.RbacV1().RoleBindings(ref.Namespace).Get(ctx, ref.Name, opts)
		if err == nil {
			m, roleRef = o, o.RoleRef
		}
	default:
		return live{}, fmt.Errorf("%s: unknown kind", ref)
	}
	if apierrors.IsNotFound(err) {
		return live{}, nil
	}
	if err != nil {
		return live{}, err
	}
	return live{exists: true, labels: m.GetLabels(), uid: m.GetUID(), rv: m.GetResourceVersion(), roleRef: roleRef}, nil
}

// deleteObject deletes ref if it is still the object of that uid.
func deleteObject(ctx context.Context, c kubernetes.Interface, ref Ref, uid types.UID) error {
	opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}
	switch ref.Kind {
	case "ServiceAccount":
		return c.CoreV1().ServiceAccounts(ref.Namespace).Delete(ctx, ref.Name, opts)
	case "Secret":
		return c.CoreV1().Secrets(ref.Namespace).Delete(ctx, ref.Name, opts)
	case "ClusterRole":
		return c.RbacV1().ClusterRoles().Delete(ctx, ref.Name, opts)
	case "ClusterRoleBinding":
		return c.RbacV1().ClusterRoleBindings().Delete(ctx, ref.Name, opts)
	case "Role":
		return c.RbacV1().Roles(ref.Namespace).Delete(ctx, ref.Name, opts)
	case "RoleBinding":
		return c.RbacV1().RoleBindings(ref.Namespace).Delete(ctx, ref.Name, opts)
	}
	return fmt.Errorf("%s: unknown kind", ref)
}

// applyObject server-side applies obj, taking its fields from any other
// manager, and returns the resulting resourceVersion.
func applyObject(ctx context.Context, c kubernetes.Interface, obj Object) (string, error) {
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	var (
		m   metav1.Object
		err error
	)
	switch ac := obj.apply.(type) {
	case *corev1ac.ServiceAccountApplyConfiguration:
		m, err = nonNil(c.CoreV1().ServiceAccounts(*ac.Namespace).Apply(ctx, ac, opts))
	case *corev1ac.SecretApplyConfiguration:
		m, err = nonNil(c.CoreV1().Secrets(*ac.Namespace).Apply(ctx, ac, opts))
	case *rbacv1ac.ClusterRoleApplyConfiguration:
		m, err = nonNil(c.RbacV1().ClusterRoles().Apply(ctx, ac, opts))
	case *rbacv1ac.ClusterRoleBindingApplyConfiguration:
		m, err = nonNil(c.RbacV1().ClusterRoleBindings().Apply(ctx, ac, opts))
	case *rbacv1ac.RoleApplyConfiguration:
		m, err = nonNil(c.RbacV1().Roles(*ac.Namespace).Apply(ctx, ac, opts))
	case *rbacv1ac.RoleBindingApplyConfiguration:
		m, err = nonNil(c.RbacV1().RoleBindings(*ac.Namespace).Apply(ctx, ac, opts))
	default:
		return "", fmt.Errorf("%s: unknown kind", obj.Ref)
	}
	if err != nil {
		return "", err
	}
	return m.GetResourceVersion(), nil
}

func nonNil[T metav1.Object](o T, err error) (metav1.Object, error) {
	if err != nil {
		return nil, err
	}
	return o, nil
}

// WriteChanges prints one line per object join or unjoin changed,
// terraform-style.
func WriteChanges(w io.Writer, changes []Change) {
	for _, c := range changes {
		symbol := c.Action.Symbol()
		if symbol == "" {
			symbol = " "
		}
		line := fmt.Sprintf("  %s %s", symbol, c.Ref)
		switch {
		case c.Reason != "":
			line += " (" + c.Reason + ")"
		case c.Action == object.ActionNoop:
			line += " (unchanged)"
		}
		fmt.Fprintln(w, line)
	}
}
