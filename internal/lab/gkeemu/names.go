package gkeemu

import (
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/geofed-io/kubectl-geofed/pkg/catalog"
)

// Resource names of the v1 API. Every request takes either the modern name
// (or parent) or the deprecated project_id, zone and *_id fields; the name
// wins when both are set, as in GKE.

// parentRef is "projects/P/locations/L"; L may be "-" (all) in list calls.
type parentRef struct{ project, location string }

func (p parentRef) String() string {
	return "projects/" + p.project + "/locations/" + p.location
}

type clusterRef struct {
	parentRef
	cluster string
}

func (c clusterRef) String() string { return c.parentRef.String() + "/clusters/" + c.cluster }

type poolRef struct {
	clusterRef
	pool string
}

func (p poolRef) String() string { return p.clusterRef.String() + "/nodePools/" + p.pool }

type operationRef struct {
	parentRef
	op string
}

func (o operationRef) String() string { return o.parentRef.String() + "/operations/" + o.op }

// splitName matches name against a pattern like
// "projects/*/locations/*/clusters/*" and returns the wildcard segments.
func splitName(name, pattern string) ([]string, bool) {
	got, want := strings.Split(name, "/"), strings.Split(pattern, "/")
	if len(got) != len(want) {
		return nil, false
	}
	var vars []string
	for i, w := range want {
		switch {
		case w == "*" && got[i] != "":
			vars = append(vars, got[i])
		case w != got[i]:
			return nil, false
		}
	}
	return vars, true
}

func badName(field, name, pattern string) error {
	return status.Errorf(codes.InvalidArgument,
		"Invalid value for field %q: %q. Must be of the form %q.", field, name, pattern)
}

func missing(fields string) error {
	return status.Errorf(codes.InvalidArgument, "Required %s not specified.", fields)
}

func parseParent(parent, project, zone string) (parentRef, error) {
	const pattern = "projects/*/locations/*"
	if parent != "" {
		v, ok := splitName(parent, pattern)
		if !ok {
			return parentRef{}, badName("parent", parent, pattern)
		}
		return parentRef{v[0], v[1]}, nil
	}
	if project == "" || zone == "" {
		return parentRef{}, missing(`"parent" (or "project_id" and "zone")`)
	}
	return parentRef{project, zone}, nil
}

// parseCluster reads a cluster name from field ("name", or "parent" in node
// pool collection calls) or the deprecated fields.
func parseCluster(field, name, project, zone, cluster string) (clusterRef, error) {
	const pattern = "projects/*/locations/*/clusters/*"
	if name != "" {
		v, ok := splitName(name, pattern)
		if !ok {
			return clusterRef{}, badName(field, name, pattern)
		}
		return clusterRef{parentRef{v[0], v[1]}, v[2]}, nil
	}
	if project == "" || zone == "" || cluster == "" {
		return clusterRef{}, missing(fmt.Sprintf(`%q (or "project_id", "zone" and "cluster_id")`, field))
	}
	return clusterRef{parentRef{project, zone}, cluster}, nil
}

func parsePool(name, project, zone, cluster, pool string) (poolRef, error) {
	const pattern = "projects/*/locations/*/clusters/*/nodePools/*"
	if name != "" {
		v, ok := splitName(name, pattern)
		if !ok {
			return poolRef{}, badName("name", name, pattern)
		}
		return poolRef{clusterRef{parentRef{v[0], v[1]}, v[2]}, v[3]}, nil
	}
	if project == "" || zone == "" || cluster == "" || pool == "" {
		return poolRef{}, missing(`"name" (or "project_id", "zone", "cluster_id" and "node_pool_id")`)
	}
	return poolRef{clusterRef{parentRef{project, zone}, cluster}, pool}, nil
}

func parseOperation(name, project, zone, op string) (operationRef, error) {
	const pattern = "projects/*/locations/*/operations/*"
	if name != "" {
		v, ok := splitName(name, pattern)
		if !ok {
			return operationRef{}, badName("name", name, pattern)
		}
		return operationRef{parentRef{v[0], v[1]}, v[2]}, nil
	}
	if project == "" || zone == "" || op == "" {
		return operationRef{}, missing(`"name" (or "project_id", "zone" and "operation_id")`)
	}
	return operationRef{parentRef{project, zone}, op}, nil
}

// place is a validated GKE location: a region, or a zone and its region.
type place struct {
	region string
	zone   string // "" for a region
}

// resolveLocation checks that loc is a catalogued region or zone.
func resolveLocation(loc string) (place, error) {
	if _, ok := catalog.LookupRegion(loc); ok {
		return place{region: loc}, nil
	}
	if region, ok := catalog.RegionOfZone(loc); ok {
		return place{region: region, zone: loc}, nil
	}
	return place{}, status.Errorf(codes.InvalidArgument, "Location %q does not exist.", loc)
}

func notFound(ref fmt.Stringer) error {
	return status.Errorf(codes.NotFound, "Not found: %s.", ref)
}
