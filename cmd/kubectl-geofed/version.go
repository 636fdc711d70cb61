package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"
)

// Set by the linker: -X main.version=v0.1.0 -X main.commit=abc123.
var (
	version = "dev"
	commit  = ""
)

// VersionInfo is what `kubectl geofed version` reports.
type VersionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// VersionOptions holds the flags of the version command.
type VersionOptions struct {
	printFlags
	genericiooptions.IOStreams
}

// NewVersionCommand prints the plugin version.
func NewVersionCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &VersionOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the plugin version, commit and Go version",
		Example: `  kubectl geofed version
  kubectl geofed version -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	o.printFlags.add(cmd, "", "Output format: json or yaml", "json", "yaml")
	return cmd
}

// Validate checks the output format.
func (o *VersionOptions) Validate() error {
	return o.printFlags.validate("", "json", "yaml")
}

// Run prints the version.
func (o *VersionOptions) Run() error {
	info := buildVersion()
	switch o.Output {
	case "json":
		b, err := json.MarshalIndent(info, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(o.Out, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(info)
		if err != nil {
			return err
		}
		_, err = o.Out.Write(b)
		return err
	}
	_, err := fmt.Fprintf(o.Out, "kubectl-geofed %s (commit %s, %s, %s)\n", info.Version, info.Commit, info.GoVersion, info.Platform)
	return err
}

func buildVersion() VersionInfo {
	info := VersionInfo{Version: version, Commit: commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info.Commit == "" {
		info.Commit = "unknown"
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					info.Commit = s.Value
				}
			}
		}
	}
	return info
}

// userAgent names this binary and its version to the clusters it calls.
func userAgent() string { return "kubectl-geofed/" + version }
