package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/geofed-io/kubectl-geofed/internal/lab"
	"github.com/geofed-io/kubectl-geofed/internal/lab/gcsemu"
	"github.com/geofed-io/kubectl-geofed/internal/lab/labd"
)

// storageEmulator runs the lab's Cloud Storage beside the lab:
// STORAGE_EMULATOR_HOST in the env file points Google's clients (and
// kubectl geofed, reading where a bucket is) at it.
func storageEmulator() labd.Addon {
	return func(ctx context.Context, _ *lab.Lab) (map[string]string, error) {
		s, err := gcsemu.Start(ctx, gcsemu.Options{})
		if err != nil {
			return nil, err
		}
		return map[string]string{gcsemu.EmulatorHostEnv: s.Host}, nil
	}
}

// emulatorHost is the running lab's Cloud Storage address.
func emulatorHost(dir string) (string, error) {
	s, err := labd.ReadState(dir)
	if err != nil {
		return "", err
	}
	host := s.Env[gcsemu.EmulatorHostEnv]
	if host == "" {
		return "", errors.New("the lab in " + dir + " serves no Cloud Storage (started by an older geofed-lab?): restart it with geofed-lab down and up")
	}
	return host, nil
}

func newBucketCommand(dir *string, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bucket",
		Short: "Manage the buckets of the lab's Cloud Storage",
		Long: `The lab serves Cloud Storage's JSON API on loopback (fake-gcs-server, keeping
each bucket's location); the env file exports STORAGE_EMULATOR_HOST, which
Google's clients and kubectl geofed read. A workload whose placement names
gs://BUCKET/prefix is placed near the bucket's location.`,
		Args: cobra.NoArgs,
	}
	var location string
	create := &cobra.Command{
		Use:   "create NAME --location LOCATION",
		Short: "Create a bucket in a location",
		Long: `Create a bucket through Google's Go client, as a user would. LOCATION is a
region (europe-west4), a dual-region (EUR4, NAM4, ASIA1) or a multi-region
(US, EU, ASIA).`,
		Example: `  geofed-lab bucket create ckpt-eu --location europe-west4
  geofed-lab bucket create corpus --location US`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if location == "" {
				return errors.New("--location is required: a region, a dual-region or US, EU, ASIA")
			}
			host, err := emulatorHost(*dir)
			if err != nil {
				return err
			}
			if err := gcsemu.CreateBucket(cmd.Context(), host, args[0], location); err != nil {
				return err
			}
			_, err = fmt.Fprintf(streams.Out, "bucket %s created in %s\n", args[0], location)
			return err
		},
	}
	create.Flags().StringVar(&location, "location", "", "where the bucket is: a region, a dual-region, or US, EU, ASIA")
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an empty bucket",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			host, err := emulatorHost(*dir)
			if err != nil {
				return err
			}
			if err := gcsemu.DeleteBucket(cmd.Context(), host, args[0]); err != nil {
				return err
			}
			_, err = fmt.Fprintf(streams.Out, "bucket %s deleted\n", args[0])
			return err
		},
	}
	cmd.AddCommand(create, del)
	return cmd
}
