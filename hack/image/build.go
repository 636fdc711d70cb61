package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// buildOptions say which static binary to build.
type buildOptions struct {
	Go       string // the go command
	Package  string
	Platform v1.Platform
	Version  string
	Commit   string
	Out      string
}

// goBuild builds a static binary for the platform. Everything that would
// make two builds of one commit differ is pinned here rather than taken
// from the caller's environment: no cgo, paths trimmed, no VCS stamp (a
// worktree and a clone differ there), the same ldflags on every
// architecture, the baseline instruction set of each, and no GOFLAGS.
func goBuild(ctx context.Context, o buildOptions) error {
	ldflags := fmt.Sprintf("-s -w -X main.version=%s -X main.commit=%s", o.Version, o.Commit)
	cmd := exec.CommandContext(ctx, o.Go, "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", o.Out, o.Package)
	cmd.Env = append(os.Environ(),
		"CGO_ENABLED=0",
		"GOOS="+o.Platform.OS,
		"GOARCH="+o.Platform.Architecture,
		"GOAMD64=v1",
		"GOARM64=v8.0",
		"GOFLAGS=",
	)
	if v, ok := strings.CutPrefix(o.Platform.Variant, "v"); ok && o.Platform.Architecture == "arm" {
		cmd.Env = append(cmd.Env, "GOARM="+v)
	}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s for %s: %w", o.Package, o.Platform.String(), err)
	}
	return nil
}
