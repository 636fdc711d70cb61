package view

import (
	"bytes"
	"fmt"
	"io"

	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/plan"
)

// Write prints a plan in one of the forms every command that shows a plan
// offers: "json", "yaml" (the JSON form's fields, as YAML), or the text for
// people ("").
func Write(w io.Writer, p *plan.Plan, format string, text TextOptions) error {
	switch format {
	case "json":
		return JSON(w, p)
	case "yaml":
		var buf bytes.Buffer
		if err := JSON(&buf, p); err != nil {
			return err
		}
		y, err := yaml.JSONToYAML(buf.Bytes())
		if err != nil {
			return fmt.Errorf("encoding plan as YAML: %w", err)
		}
		_, err = w.Write(y)
		return err
	case "":
		return Text(w, p, text)
	}
	return fmt.Errorf("no plan format %q: json, yaml or text", format)
}
