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

// Load reads a plan saved with `plan --out` to be executed as want. It
// refuses a plan of another format version (field meanings may differ)
// and a plan of another mode: a destroy plan is never applied, nor an
// apply plan destroyed.
func Load(path string, want Mode) (*Plan, error) {
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
	switch p.Mode {
	case ModeApply, ModeDestroy:
	default:
		return nil, fmt.Errorf("the saved plan %s has mode %q; this kubectl-geofed knows apply and destroy plans", path, p.Mode)
	}
	if p.Mode != want {
		return nil, fmt.Errorf("the saved plan %s was made for %s; %s executes only plans made for it: %s", path, p.Mode, want, remedy(want))
	}
	return &p, nil
}

// remedy says how to get a plan of mode m.
func remedy(m Mode) string {
	if m == ModeDestroy {
		return "run destroy -f with the topology, which plans the destroy itself"
	}
	return "make one with plan -f TOPOLOGY --out FILE"
}
