package gke

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// EmulatorHostEnv is the environment variable naming a GKE emulator, the
// convention of Google's emulators. Callers read it into ClientOptions.
const EmulatorHostEnv = "GKE_EMULATOR_HOST"

// CloudPlatformScope is the OAuth2 scope GKE control planes accept.
const CloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// ClientOptions configures NewClient and TokenSource.
type ClientOptions struct {
	// EmulatorHost is host:port of a GKE emulator, normally $GKE_EMULATOR_HOST.
	// When set, the client dials it in plaintext without credentials;
	// otherwise it reaches container.googleapis.com with Application
	// Default Credentials.
	EmulatorHost string
}

// Client reads clusters from the GKE API.
type Client struct {
	cm           *container.ClusterManagerClient
	emulatorHost string
}

// NewClient connects to the GKE API, or to the emulator opts names.
func NewClient(ctx context.Context, opts ClientOptions) (*Client, error) {
	var copts []option.ClientOption
	if opts.EmulatorHost != "" {
		copts = append(copts,
			option.WithEndpoint(opts.EmulatorHost),
			option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		)
	}
	cm, err := container.NewClusterManagerClient(ctx, copts...)
	if err != nil {
		if opts.EmulatorHost != "" {
			return nil, fmt.Errorf("connecting to the GKE emulator at %s: %w", opts.EmulatorHost, err)
		}
		return nil, fmt.Errorf("connecting to the GKE API: %w", err)
	}
	return &Client{cm: cm, emulatorHost: opts.EmulatorHost}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.cm.Close() }

// ListClusters returns every cluster of a project, in all locations, sorted
// by location and name. When GKE cannot reach some zones it returns the
// clusters it could list together with a *MissingZonesError, so a caller
// can warn and carry on.
func (c *Client) ListClusters(ctx context.Context, project string) ([]*containerpb.Cluster, error) {
	parent := "projects/" + project + "/locations/-"
	resp, err := c.cm.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: parent})
	if err != nil {
		return nil, c.apiError("listing GKE clusters in "+parent, err)
	}
	clusters := resp.GetClusters()
	for _, cl := range clusters {
		fillSelfLink(cl, project)
	}
	sort.Slice(clusters, func(i, j int) bool {
		a, b := clusters[i], clusters[j]
		if a.GetLocation() != b.GetLocation() {
			return a.GetLocation() < b.GetLocation()
		}
		return a.GetName() < b.GetName()
	})
	if zones := resp.GetMissingZones(); len(zones) > 0 {
		return clusters, &MissingZonesError{Project: project, Zones: zones}
	}
	return clusters, nil
}

// GetCluster returns one cluster, or nil and no error when it does not exist.
func (c *Client) GetCluster(ctx context.Context, project, location, name string) (*containerpb.Cluster, error) {
	rn := ResourceName(project, location, name)
	cl, err := c.cm.GetCluster(ctx, &containerpb.GetClusterRequest{Name: rn})
	if status.Code(err) == codes.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, c.apiError("getting GKE cluster "+rn, err)
	}
	fillSelfLink(cl, project)
	return cl, nil
}

// fillSelfLink records the project on a cluster the server returned without
// a SelfLink (GKE always sets one; an emulator may not), so Project works on
// every cluster this client returns.
func fillSelfLink(c *containerpb.Cluster, project string) {
	if c.GetSelfLink() == "" {
		c.SelfLink = selfLinkPrefix + ResourceName(project, c.GetLocation(), c.GetName())
	}
}

// MissingZonesError says ListClusters could not see some zones: clusters
// there are missing from its result.
type MissingZonesError struct {
	Project string
	Zones   []string
}

func (e *MissingZonesError) Error() string {
	return fmt.Sprintf("listing GKE clusters in project %s: GKE could not reach zones %s; clusters there are missing from the list",
		e.Project, strings.Join(e.Zones, ", "))
}

// apiError is a failed GKE call: what was being done, a hint for the codes
// people can act on, and the gRPC error itself, so status.FromError and
// status.Code still see the code.
type apiError struct {
	op   string
	hint string
	err  error
}

func (c *Client) apiError(op string, err error) error {
	e := &apiError{op: op, err: err}
	switch status.Code(err) {
	case codes.ResourceExhausted:
		e.hint = "GKE quota or rate limit exceeded (RESOURCE_EXHAUSTED); raise the quota in the Cloud console or retry later"
	case codes.PermissionDenied:
		e.hint = "permission denied (PERMISSION_DENIED); the credentials need GKE permissions on the project " +
			"(roles/container.viewer to plan, roles/container.admin to apply)"
	case codes.Unauthenticated:
		e.hint = "not authenticated (UNAUTHENTICATED); run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS"
	case codes.Unavailable:
		if c.emulatorHost != "" {
			e.hint = "the GKE emulator at " + c.emulatorHost + " is unavailable (UNAVAILABLE); is the lab running?"
		} else {
			e.hint = "the GKE API is unavailable (UNAVAILABLE); check the network and retry"
		}
	}
	return e
}

func (e *apiError) Error() string {
	msg := e.err.Error()
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(e.err, &se) && se.GRPCStatus() != nil {
		msg = se.GRPCStatus().Message()
	}
	if e.hint != "" {
		return e.op + ": " + e.hint + ": " + msg
	}
	return e.op + ": " + msg
}

func (e *apiError) Unwrap() error { return e.err }

// TokenSource returns the OAuth2 tokens RESTConfig presents to GKE control
// planes: Application Default Credentials with the cloud-platform scope.
// Under the emulator it returns nil and no error: the emulator's clusters
// authenticate with client certificates, and no Google credentials need to
// exist on the machine.
func TokenSource(ctx context.Context, opts ClientOptions) (oauth2.TokenSource, error) {
	if opts.EmulatorHost != "" {
		return nil, nil
	}
	ts, err := google.DefaultTokenSource(ctx, CloudPlatformScope)
	if err != nil {
		return nil, fmt.Errorf("finding Google Application Default Credentials: %w", err)
	}
	return ts, nil
}
