package htmlview

import (
	"math"
	"sort"
)

// Label metrics in map units. The map's text is sans-serif at labelFont; a
// character is taken as charWidth wide, which holds for lower-case names
// and digits — a label is a little too wide rather than clipped.
const (
	labelFont   = 12.0
	charWidth   = 7.2
	lineHeight  = 14.0
	labelPad    = 4.0
	pinRadius   = 5.0
	pinGap      = 9.0 // from a pin to its label
	labelMargin = 3.0 // kept clear around every label
	// A label that finds no room beside its pin may move out by up to
	// labelColumns steps of labelStep, and up or down by labelRows lines.
	labelColumns = 30
	labelStep    = 16.0
	labelRows    = 24
)

// marker is a region on the map: its pin, and a label with one line per
// cluster placed next to it where it covers no other label or pin.
type marker struct {
	Region string
	// State is the worst of its clusters': "bad", "change" or "ok".
	State string
	X, Y  string
	// The label's box.
	BX, BY, BW, BH string
	Title          textLine
	Lines          []textLine
	// The leader runs from the pin to the nearest point of its label.
	LX1, LY1 string
	LX2, LY2 string
	// The pin, and the label's box where the layout put it.
	x, y  float64
	label box
}

// textLine is one line of a label: its position and its coloured parts.
type textLine struct {
	X, Y    string
	Cluster string
	Spans   []span
}

// span is a piece of text with the class that colours it.
type span struct {
	Text  string
	Class string
}

func (l textLine) chars() int {
	n := 0
	for i, s := range l.Spans {
		if i > 0 {
			n++ // the space between spans
		}
		n += len([]rune(s.Text))
	}
	return n
}

// box is a rectangle in map units.
type box struct{ x, y, w, h float64 }

func (a box) overlaps(b box) bool {
	return a.x < b.x+b.w && b.x < a.x+a.w && a.y < b.y+b.h && b.y < a.y+a.h
}

func (a box) grow(d float64) box { return box{a.x - d, a.y - d, a.w + 2*d, a.h + 2*d} }

func (a box) inside(b box) bool {
	return a.x >= b.x && a.y >= b.y && a.x+a.w <= b.x+b.w && a.y+a.h <= b.y+b.h
}

// layoutMarkers places every marker's label, in order, at the free place
// nearest its pin: beside it on the right or the left if that is free,
// else further out or a few rows up or down, never over another label or
// pin and never off the map. A leader joins every label to its pin. When
// nothing is free (dozens of regions in one corner) the label goes beside
// its pin regardless. The same markers always get the same layout.
func layoutMarkers(ms []marker) {
	frame := box{1, 1, mapWidth - 2, mapHeight - 2}
	var pins []box
	for _, m := range ms {
		pins = append(pins, box{m.x - pinRadius, m.y - pinRadius, 2 * pinRadius, 2 * pinRadius})
	}
	var placed []box
	for i := range ms {
		m := &ms[i]
		width := float64(m.Title.chars())
		for _, l := range m.Lines {
			width = math.Max(width, float64(l.chars()))
		}
		w := width*charWidth + 2*labelPad
		h := float64(1+len(m.Lines))*lineHeight + 2*labelPad
		free := func(b box) bool {
			if !b.inside(frame) {
				return false
			}
			g := b.grow(labelMargin)
			for _, p := range placed {
				if g.overlaps(p) {
					return false
				}
			}
			for _, p := range pins {
				if g.overlaps(p) {
					return false
				}
			}
			return true
		}
		chosen := box{m.x + pinGap, m.y - h/2, w, h}
		if !free(chosen) {
			found := false
			for _, c := range candidates(m.x, m.y, w, h) {
				if free(c) {
					chosen, found = c, true
					break
				}
			}
			if !found {
				chosen.x = math.Min(math.Max(chosen.x, frame.x), frame.x+frame.w-w)
				chosen.y = math.Min(math.Max(chosen.y, frame.y), frame.y+frame.h-h)
			}
		}
		placed = append(placed, chosen)
		m.label = chosen
		m.BX, m.BY, m.BW, m.BH = num(chosen.x), num(chosen.y), num(chosen.w), num(chosen.h)
		m.Title.X = num(chosen.x + labelPad)
		// Baselines sit a quarter of the font above each line's bottom.
		base := lineHeight - labelFont/4
		m.Title.Y = num(chosen.y + labelPad + base)
		for j := range m.Lines {
			m.Lines[j].X = num(chosen.x + labelPad)
			m.Lines[j].Y = num(chosen.y + labelPad + float64(j+1)*lineHeight + base)
		}
		lx := math.Min(math.Max(m.x, chosen.x), chosen.x+chosen.w)
		ly := math.Min(math.Max(m.y, chosen.y), chosen.y+chosen.h)
		m.LX1, m.LY1, m.LX2, m.LY2 = num(m.x), num(m.y), num(lx), num(ly)
	}
}

// candidates are the places a w×h label of the pin at (x, y) may take,
// nearest first: left of or right of the pin, moved out by labelStep
// columns and up or down by rows of lineHeight.
func candidates(x, y, w, h float64) []box {
	var out []box
	for col := 0; col <= labelColumns; col++ {
		dx := pinGap + float64(col)*labelStep
		for row := -labelRows; row <= labelRows; row++ {
			top := y - h/2 + float64(row)*lineHeight
			out = append(out, box{x + dx, top, w, h}, box{x - dx - w, top, w, h})
		}
	}
	dist := func(b box) float64 {
		nx := math.Min(math.Max(x, b.x), b.x+b.w)
		ny := math.Min(math.Max(y, b.y), b.y+b.h)
		return math.Hypot(nx-x, ny-y)
	}
	// Stable: at equal distance, the order above (right before left,
	// nearer rows first) decides.
	sort.SliceStable(out, func(i, j int) bool { return dist(out[i]) < dist(out[j]) })
	return out
}
