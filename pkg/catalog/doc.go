// Package catalog is the built-in catalogue of GCP and GKE facts the plugin
// relies on without calling any API: regions with their zones and
// coordinates (topology validation, distance-ordered placement), machine
// types with their vCPUs, memory and built-in GPUs, and accelerator types
// (the lab's GKE emulator sizes its nodes from these), with the rules for
// which machine types take which accelerators and the zones that offer
// them (CheckAccelerators: topology validation and the emulator refuse the
// same node pools). It also offers the "did you mean" suggestion used when
// a name is not in the catalogue.
//
// The catalogue is a snapshot of public GCP documentation; it is data, not a
// live view, so a region or machine type GCP adds later is reported as
// unknown until it is added here.
package catalog
