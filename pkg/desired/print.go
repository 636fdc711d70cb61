package desired

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/placement"
	"github.com/geofed-io/kubectl-geofed/pkg/render"
)

// printed is the JSON form of one cluster's desired state.
type printed struct {
	Cluster string           `json:"cluster"`
	Region  string           `json:"region"`
	Objects []map[string]any `json:"objects"`
}

// Write prints the desired state of every cluster (or only the one named)
// as render shows it: "yaml", multi-document YAML with each cluster's
// documents under a "# cluster: C (region R)" line, or "json",
// [{cluster, region, objects}]. Secret values are redacted.
func (s *State) Write(w io.Writer, format, cluster string) error {
	out := []printed{}
	for _, dc := range s.Clusters {
		if cluster != "" && dc.Name != cluster {
			continue
		}
		pc := printed{Cluster: dc.Name, Region: dc.Region, Objects: []map[string]any{}}
		for _, o := range dc.Objects {
			pc.Objects = append(pc.Objects, render.Redact(o.Object).Object)
		}
		out = append(out, pc)
	}
	if format == "json" {
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	return writeYAML(w, s, out)
}

func writeYAML(w io.Writer, s *State, clusters []printed) error {
	first := true
	for _, pc := range clusters {
		dc, _ := s.Cluster(pc.Cluster)
		for i, obj := range pc.Objects {
			b, err := yaml.Marshal(obj)
			if err != nil {
				return fmt.Errorf("encoding %s for cluster %s: %w", object.Describe(dc.Objects[i].Object), pc.Cluster, err)
			}
			var header string
			if !first {
				header = "---\n"
			}
			if i == 0 {
				header += fmt.Sprintf("# cluster: %s (region %s)\n", pc.Cluster, pc.Region)
			}
			first = false
			if _, err := w.Write(append([]byte(header), b...)); err != nil {
				return err
			}
		}
		if len(pc.Objects) == 0 {
			header := ""
			if !first {
				header = "---\n"
			}
			first = false
			if _, err := fmt.Fprintf(w, "%s# cluster: %s (region %s): no objects\n", header, pc.Cluster, pc.Region); err != nil {
				return err
			}
		}
	}
	return nil
}

// ExplainCapacity turns a placement error for unknown capacity into one
// that says which clusters could not be read, why, and how to preview
// anyway; other errors are returned as they are.
func ExplainCapacity(err error, unread map[string]string) error {
	var capErr *placement.CapacityUnknownError
	if !errors.As(err, &capErr) {
		return err
	}
	var why []string
	for _, c := range capErr.Clusters {
		if reason := unread[c]; reason != "" {
			why = append(why, c+": "+reason)
		}
	}
	msg := fmt.Sprintf("%v: give what-if figures with --capacity %s=N", err, strings.Join(capErr.Clusters, "=N,"))
	if len(why) > 0 {
		msg += "\n(could not read: " + strings.Join(why, "; ") + ")"
	}
	return errors.New(msg)
}
