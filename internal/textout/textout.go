// Package textout prints the indented, symbol-marked lines plan's and
// status's text views share, in terraform's colours when asked: one
// printer, so the two views line up and colour the same symbol the same.
package textout

import (
	"fmt"
	"io"
	"strings"
)

// ANSI colours.
const (
	Reset  = "\x1b[0m"
	Bold   = "\x1b[1m"
	Green  = "\x1b[32m"
	Yellow = "\x1b[33m"
	Red    = "\x1b[31m"
	Cyan   = "\x1b[36m"
)

// Printer writes lines to W, in colour when Color; the first write error
// is kept in Err and every later write is skipped.
type Printer struct {
	W     io.Writer
	Color bool
	Err   error
}

// Line prints text at an indent (two spaces a step) after a one-column
// mark; at indent 0 with no mark, flush left.
func (p *Printer) Line(indent int, symbol, text string) {
	if p.Err != nil {
		return
	}
	if symbol == "" {
		symbol = " "
	}
	if indent == 0 && symbol == " " {
		_, p.Err = fmt.Fprintf(p.W, "%s\n", text)
		return
	}
	_, p.Err = fmt.Fprintf(p.W, "%s%s %s\n", strings.Repeat("  ", indent), symbol, text)
}

// Blank prints an empty line.
func (p *Printer) Blank() {
	if p.Err == nil {
		_, p.Err = fmt.Fprintln(p.W)
	}
}

// Paint wraps s in an ANSI colour when the printer is in colour.
func (p *Printer) Paint(code, s string) string {
	if !p.Color || s == "" {
		return s
	}
	return code + s + Reset
}

// Bold is s in bold.
func (p *Printer) Bold(s string) string { return p.Paint(Bold, s) }

// Sym colours a change or state symbol the way terraform does: + green,
// ~ and -/+ yellow, - and ! red.
func (p *Printer) Sym(s string) string {
	switch s {
	case "+":
		return p.Paint(Green, s)
	case "~", "-/+":
		return p.Paint(Yellow, s)
	case "-", "!":
		return p.Paint(Red, s)
	}
	return s
}
