// Package object is the vocabulary every other package shares about the
// Kubernetes objects geofed applies: how an object is identified (Key), the
// order objects are applied and pruned in (tiers), the labels and
// annotations that mark them as geofed's, the field manager, and the
// actions a plan assigns to objects and GKE clusters alike. It sits at the
// bottom of the package graph and defines each of these exactly once.
package object
