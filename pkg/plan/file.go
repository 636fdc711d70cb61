package plan

import (
	"encoding/json"
	"fmt"
	"os"
)

// Save writes p as plan --out saves it: the versioned JSON form, mode
// 0600 — a plan names clusters and objects; it never holds a Secret's value
// or hash, but it is nobody else's business either.
func Save(path string, p *Plan) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding plan: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("saving the plan: %w", err)
	}
	return nil
}

// Load reads a plan saved with `plan --out`. It refuses a plan of
// another format version: field meanings may differ.
func Load(path string) (*Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the saved plan: %w", err)
	}
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("reading the saved plan %s: not a plan saved with plan --out: %w", path, err)
	}
	if p.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("the saved plan %s has format %q; this kubectl-geofed applies %q plans: plan again with this version", path, p.FormatVersion, FormatVersion)
	}
	return &p, nil
}
