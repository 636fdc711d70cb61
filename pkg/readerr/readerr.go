// Package readerr says what a failed read of a cluster's live objects means:
// never that the objects are not there. A LIST that answers 500, times out,
// is throttled (429) or forbidden (403), or a kind whose API group discovery
// could not read (an aggregated API server down), is a read that failed; a
// plan that took it for "nothing there" would prune what still exists.
// Argo CD's ApplicationSet deleted every application after a brief API
// error that way (argo-cd#18780). Only the server saying so — 404 for a
// named object, or discovery that read every group and found no such kind —
// is absence.
package readerr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// Error is a read of one kind on one cluster that failed.
type Error struct {
	// Cluster is the cluster read; "" when the caller names it.
	Cluster string
	// Kind is what was read; its Version is the one asked for.
	Kind schema.GroupVersionKind
	Err  error
}

// Error reads "cluster web-eu: reading Deployments (apps/v1): 500 Internal
// Server Error: ...".
func (e *Error) Error() string {
	s := fmt.Sprintf("reading %s (%s): %s", Plural(e.Kind.Kind), e.Kind.GroupVersion(), Describe(e.Err))
	if e.Cluster != "" {
		s = "cluster " + e.Cluster + ": " + s
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Brief names the read that failed without its cause, "reading Deployments
// (apps/v1) failed", for lines that point at the error given in full
// elsewhere; an err that is no *Error is given whole.
func Brief(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return fmt.Sprintf("reading %s (%s) failed", Plural(e.Kind.Kind), e.Kind.GroupVersion())
	}
	return err.Error()
}

// Describe is err in one line that says which kind of failure it was: the
// HTTP status and the server's message for an API error, "timed out" for a
// deadline, the groups for a discovery failure.
func Describe(err error) string {
	var (
		status apierrors.APIStatus
		disco  *discovery.ErrGroupDiscoveryFailed
		netErr net.Error
	)
	switch {
	case err == nil:
		return "no error"
	case errors.As(err, &disco):
		var parts []string
		for gv, gerr := range disco.Groups {
			parts = append(parts, fmt.Sprintf("%s: %v", gvString(gv), gerr))
		}
		slices.Sort(parts)
		return "discovery of its API group failed (" + strings.Join(parts, "; ") + ")"
	case errors.As(err, &status) && status.Status().Code != 0:
		st := status.Status()
		msg := st.Message
		if msg == "" {
			msg = string(st.Reason)
		}
		return fmt.Sprintf("%d %s: %s", st.Code, http.StatusText(int(st.Code)), msg)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timed out: " + err.Error()
	}
	return err.Error()
}

// Discovery is what Mapping needs besides the mapper: the cached discovery
// the mapper reads, which remembers the groups it could not read.
type Discovery interface {
	ServerGroupsAndResourcesWithContext(ctx context.Context) ([]*metav1.APIGroup, []*metav1.APIResourceList, error)
}

// Mapping resolves a kind on a cluster. It returns served false, with no
// error, only when discovery read every group and none serves the kind (a
// CRD this plan creates, say): nothing of it can be live. A kind whose
// group discovery could not read, or a mapper that failed otherwise, is an
// *Error: whether the kind is served, and what of it lives there, is not
// known.
func Mapping(ctx context.Context, mapper meta.RESTMapper, disco Discovery, gvk schema.GroupVersionKind) (m *meta.RESTMapping, served bool, err error) {
	m, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err == nil {
		return m, true, nil
	}
	if !meta.IsNoMatchError(err) {
		return nil, false, &Error{Kind: gvk, Err: err}
	}
	if disco == nil {
		return nil, false, nil
	}
	if gerr := groupFailed(ctx, disco, gvk.Group); gerr != nil {
		return nil, false, &Error{Kind: gvk, Err: gerr}
	}
	return nil, false, nil
}

// groupFailed returns why discovery could not read group, or nil when it
// read it (or group is not among the failed ones).
func groupFailed(ctx context.Context, disco Discovery, group string) error {
	_, _, err := disco.ServerGroupsAndResourcesWithContext(ctx)
	if err == nil {
		return nil
	}
	var failed *discovery.ErrGroupDiscoveryFailed
	if !errors.As(err, &failed) {
		// Discovery failed as a whole: no group is known to be absent.
		return err
	}
	mine := map[schema.GroupVersion]error{}
	for gv, gerr := range failed.Groups {
		if gv.Group == group {
			mine[gv] = gerr
		}
	}
	if len(mine) == 0 {
		return nil
	}
	return &discovery.ErrGroupDiscoveryFailed{Groups: mine}
}

func gvString(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return gv.Version
	}
	return gv.String()
}

// Plural is a kind as a person says many of them: "Deployments",
// "NetworkPolicies", "Ingresses".
func Plural(kind string) string {
	switch {
	case kind == "":
		return "objects"
	case strings.HasSuffix(kind, "ss"), strings.HasSuffix(kind, "x"), strings.HasSuffix(kind, "ch"), strings.HasSuffix(kind, "sh"):
		return kind + "es"
	case strings.HasSuffix(kind, "s"):
		return kind // Endpoints
	case strings.HasSuffix(kind, "y") && len(kind) > 1 && !strings.ContainsAny(kind[len(kind)-2:len(kind)-1], "aeiou"):
		return kind[:len(kind)-1] + "ies"
	}
	return kind + "s"
}
