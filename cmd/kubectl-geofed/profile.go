package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"
)

// profiling is kubectl's --profile and --profile-output: a pprof profile of
// one run, for a user (or the benchmark) to see where a slow plan spends
// its time and memory.
type profiling struct {
	name, output string
	file         *os.File
}

// profiles are the kinds --profile accepts besides none: cpu is sampled
// while the command runs, the others are written when it ends.
var profiles = []string{"cpu", "heap", "allocs", "goroutine", "threadcreate", "block", "mutex"}

func addProfilingFlags(cmd *cobra.Command) *profiling {
	p := &profiling{name: "none", output: "profile.pprof"}
	cmd.PersistentFlags().StringVar(&p.name, "profile", p.name, "Name of profile to capture. One of (none|cpu|heap|allocs|goroutine|threadcreate|block|mutex)")
	cmd.PersistentFlags().StringVar(&p.output, "profile-output", p.output, "Name of the file to write the profile to")
	return p
}

// start begins a CPU profile, or turns on the sampling a block or mutex
// profile needs.
func (p *profiling) start() error {
	switch p.name {
	case "none":
		return nil
	case "cpu":
		f, err := os.Create(p.output)
		if err != nil {
			return fmt.Errorf("creating the CPU profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("starting the CPU profile: %w", err)
		}
		p.file = f
	case "block":
		runtime.SetBlockProfileRate(1)
	case "mutex":
		runtime.SetMutexProfileFraction(1)
	default:
		if pprof.Lookup(p.name) == nil {
			return fmt.Errorf("--profile %q: want one of none, %s", p.name, strings.Join(profiles, ", "))
		}
	}
	return nil
}

// stop writes the profile. It runs after the command, whatever its result.
func (p *profiling) stop() error {
	switch p.name {
	case "none":
		return nil
	case "cpu":
		if p.file == nil {
			return nil
		}
		pprof.StopCPUProfile()
		return p.file.Close()
	}
	prof := pprof.Lookup(p.name)
	if prof == nil {
		return nil
	}
	if p.name == "heap" {
		// What is live at the end, not garbage waiting to be collected.
		runtime.GC()
	}
	f, err := os.Create(p.output)
	if err != nil {
		return fmt.Errorf("creating the %s profile: %w", p.name, err)
	}
	return errors.Join(prof.WriteTo(f, 0), f.Close())
}
