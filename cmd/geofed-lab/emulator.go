package main

import (
	"context"
	"io"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/gkeemu"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labd"
	"github.com/geofed-io/kubectl-geofed/pkg/gke"
)

// gkeEmulator runs the GKE emulator beside the lab: clusters created through
// it become lab clusters, and GKE_EMULATOR_HOST in the env file points the
// real Go client (and kubectl geofed) at it.
func gkeEmulator(log io.Writer) labd.Addon {
	return func(ctx context.Context, l *lab.Lab) (map[string]string, error) {
		_, addr, err := gkeemu.Start(ctx, gkeemu.Options{Provisioner: gkeemu.NewLabProvisioner(l), Log: log})
		if err != nil {
			return nil, err
		}
		return map[string]string{gke.EmulatorHostEnv: addr}, nil
	}
}
