package gke

import (
	"context"
	"fmt"

	"cloud.google.com/go/container/apiv1/containerpb"
)

// DeleteCluster asks GKE to delete a cluster and returns the long-running
// operation; WaitOperation waits for it. Only destroy calls it, for the
// clusters a person named and confirmed.
func (c *Client) DeleteCluster(ctx context.Context, project, location, name string) (*containerpb.Operation, error) {
	full := fmt.Sprintf("%s/clusters/%s", parentName(project, location), name)
	op, err := c.cm.DeleteCluster(ctx, &containerpb.DeleteClusterRequest{Name: full})
	if err != nil {
		return nil, c.apiError(fmt.Sprintf("deleting GKE cluster %s", full), err)
	}
	return op, nil
}
