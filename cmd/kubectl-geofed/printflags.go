package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// printFlags are -o and colour, the same for every command that prints:
// the flag and its completion, its check, and whether the output takes
// colour, decided once.
type printFlags struct {
	// Output is the -o format; "" is the text for people, for the
	// commands that have one.
	Output string
	// Color: standard output is a terminal and NO_COLOR is not set.
	Color bool
}

// add registers -o with its default and usage, completing formats.
func (f *printFlags) add(cmd *cobra.Command, def, usage string, formats ...string) {
	cmd.Flags().StringVarP(&f.Output, "output", "o", def, usage)
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
}

// complete decides colour for the stream the command prints on.
func (f *printFlags) complete(out io.Writer) {
	f.Color = isTerminal(out) && os.Getenv("NO_COLOR") == ""
}

// validate checks -o against the command's formats, in the order the error
// names them; "" among them accepts the text for people.
func (f *printFlags) validate(formats ...string) error {
	if slices.Contains(formats, f.Output) {
		return nil
	}
	var named []string
	for _, s := range formats {
		if s != "" {
			named = append(named, s)
		}
	}
	list := named[len(named)-1]
	if len(named) > 1 {
		list = strings.Join(named[:len(named)-1], ", ") + " or " + list
	}
	return fmt.Errorf("--output must be %s, not %q", list, f.Output)
}

// isTerminal reports whether a stream (o.In, o.Out) is a terminal.
func isTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
