package placement

import (
	"fmt"
	"math/big"
	"strings"
)

// header is the explanation's first line: the inputs in order, the
// bounds, and what each cluster gets, e.g.
// "12 replicas by weight (a 1, b 2), max 6 → a 4, b 8".
func (d *division) header(by string, order []*part, input func(*part) string) string {
	h := fmt.Sprintf("%d replicas by %s", d.total, by)
	if len(order) == 0 {
		return h + ": no selected cluster is reachable"
	}
	inputs := make([]string, len(order))
	results := make([]string, len(order))
	for i, p := range order {
		inputs[i] = p.Name + " " + input(p)
		results[i] = fmt.Sprintf("%s %d", p.Name, p.replicas)
	}
	h += " (" + strings.Join(inputs, ", ") + ")"
	if d.min > 0 {
		h += fmt.Sprintf(", min %d", d.min)
	}
	if d.hasMax {
		h += fmt.Sprintf(", max %d", d.max)
	}
	return h + " → " + strings.Join(results, ", ")
}

func weightInput(p *part) string { return p.weight.String() }

func distanceInput(p *part) string { return fmt.Sprintf("%.0f km", p.km) }

func costInput(withDistance bool) func(*part) string {
	return func(p *part) string {
		s := money(p.perReplica) + "/replica-hour"
		if withDistance {
			s += fmt.Sprintf(" %.0f km", p.km)
		}
		return s
	}
}

// costLine is what the placement costs, per cluster that runs replicas.
func (d *division) costLine(total float64) string {
	var parts []string
	for _, p := range d.parts {
		if p.usd != nil && p.replicas > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", p.Name, money(*p.usd)))
		}
	}
	s := money(total) + "/hour"
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

func (d *division) standby() string {
	var zero []string
	for _, p := range d.parts {
		if p.replicas == 0 {
			zero = append(zero, p.Name)
		}
	}
	if len(zero) == 0 {
		return ""
	}
	return "warm standby at 0 replicas: " + joinNames(zero)
}

// formatRat prints an exact share for people: the integer when it is one,
// else two decimals, marked "~" when those two decimals round it to a whole
// number (a share of 2.999 must not read as an exact 3).
func formatRat(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	s := strings.TrimRight(r.FloatString(2), "0")
	if strings.HasSuffix(s, ".") {
		return "~" + strings.TrimSuffix(s, ".")
	}
	return s
}

func names(parts []*part) []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = p.Name
	}
	return out
}

func joinNames(names []string) string { return strings.Join(names, ", ") }
