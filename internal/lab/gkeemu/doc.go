// Package gkeemu is the lab's GKE emulator: an in-process implementation of
// the google.container.v1.ClusterManager gRPC service that the real
// cloud.google.com/go/container/apiv1 client talks to (pkg/gke dials it when
// GKE_EMULATOR_HOST is set, the convention of Google's emulators).
//
// Creating a cluster returns a long-running operation whose work is done by a
// Provisioner: in tests and the demo that is the lab (NewLabProvisioner),
// which starts a real control plane with KWOK nodes shaped like the node
// pools, so the cluster's endpoint, CA and credentials are real. Each node
// is what plan predicts of its pool (gke.NodeShape): GKE's allocatable,
// labels and taints, GPU taint included (nodeshape.Made decides it, as GKE
// does, from the pools the cluster has), so that a prediction made before a
// cluster exists is what plan counts once it does.
//
// The emulator keeps GKE's API shape and its observable behaviour where a
// client depends on it: resource names (the modern name/parent fields and the
// deprecated project_id/zone/cluster_id ones), operation and cluster status
// transitions, gRPC codes and messages of the errors GKE returns, and two
// details clients get wrong easily:
//
//   - Operation.name is the operation's id ("operation-7"), not a resource
//     name: poll it with GetOperation on
//     "projects/P/locations/" + op.location + "/operations/" + op.name.
//   - nodePool.initialNodeCount keeps its creation-time value after a
//     resize; cluster.currentNodeCount is the current total.
//
// Where the lab cannot be GKE it says so in the code:
//
//   - A regional cluster without explicit locations gets ONE zone (the
//     region's first), not GKE's three, to keep the lab small; node counts
//     are per zone, as in GKE.
//   - Cluster.endpoint is "127.0.0.1:PORT" rather than a bare IP, because
//     lab apiservers listen on random loopback ports; clients prefix https://.
//   - Clusters authenticate with the legacy client certificate fields of
//     masterAuth (clientCertificate, clientKey), which GKE fills only when
//     issueClientCertificate was requested; the emulator always fills them.
//   - The cluster autoscaler (autoscaler.go) is a small one: it adds nodes
//     to an autoscaled pool for unschedulable pods that fit the pool's node
//     shape and removes nodes idle for a while, within [minNodeCount,
//     maxNodeCount], with an Autoscalable provisioner (the lab's) only.
//   - Cluster names are unique across the whole emulator, not only within a
//     project and location, because the lab names control planes by them.
//   - A node's capacity is its machine type's vCPUs and memory; a GKE
//     node's memory capacity is a little less, the kernel's share.
//   - UpdateNodePool that recreates nodes drains every old node first,
//     then recreates them all (GKE with maxSurge 0), as lab node groups are
//     one shape each.
//
// Tests inject faults through the Server's Go API: regional quotas
// (SetQuota), failed operations (FailNextOperation) and apiservers going
// dark while GKE still reports the cluster RUNNING (SetDark).
package gkeemu
