// Package gke is geofed's view of Google Kubernetes Engine: the cluster spec
// a topology asks for (Desired), how it differs from what the GKE API reports
// (Diff, Orphans), the client that reads the API — the real one with
// Application Default Credentials, or the lab's emulator when
// GKE_EMULATOR_HOST is set — and the rest.Config that reaches a cluster's
// control plane.
//
// Changes are plain data (ClusterChange) so the plan package can print, save
// and reload them; this package never prints.
package gke
