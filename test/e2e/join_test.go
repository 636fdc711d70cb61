package e2e

import (
	"os"
	"strings"
	"testing"

	"github.com/pmezard/go-difflib/difflib"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
)

// TestJoin joins lab clusters to the commented seed topology: --dry-run
// prints the new file (its comments and formatting untouched, only the new
// cluster's lines added) and writes nothing; join writes exactly that and
// prints the new cluster's plan; plan then places the workloads there.
func TestJoin(t *testing.T) {
	e := newEnv(t, gpuNodes("serving-us", "us-east1", 1), gpuNodes("lab-east", "us-east1", 1), gpuNodes("lab-central", "us-central1", 1))
	before, err := os.ReadFile(e.topology)
	if err != nil {
		t.Fatal(err)
	}
	// Paths in messages are the test's temp dir: golden files name the
	// file as the user would, relative to it.
	rel := strings.NewReplacer(e.dir+string(os.PathSeparator), "")

	// 1. --dry-run: the new file on stdout, the file on disk untouched.
	r := e.run("join", "lab-east", "--region", "us-east1", "--label", "role=serving", "-f", e.topology, "--dry-run")
	if r.code != 0 {
		t.Fatalf("join --dry-run: exit %d\n%s", r.code, r.stderr)
	}
	golden(t, "join-dry-run.golden", r.stdout)
	onlyAddedLines(t, string(before), r.stdout, 5)
	dryRun := r.stdout
	if now, _ := os.ReadFile(e.topology); string(now) != string(before) {
		t.Fatal("join --dry-run changed the topology file")
	}

	// 2. join: writes what the dry run printed, shows the new cluster's
	// plan alone.
	r = e.run("join", "lab-east", "--region", "us-east1", "--label", "role=serving", "-f", e.topology)
	if r.code != 0 {
		t.Fatalf("join: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	golden(t, "join-plan.golden", rel.Replace(r.stdout))
	written, err := os.ReadFile(e.topology)
	if err != nil {
		t.Fatal(err)
	}
	if string(written) != dryRun {
		t.Errorf("join wrote something else than --dry-run printed:\n%s", written)
	}

	// 3. plan places model-server's share on it and plans its objects.
	r = e.run("plan", "-f", e.topology, "-o", "json")
	if r.code != 0 {
		t.Fatalf("plan after join: exit %d\n%s", r.code, r.stderr)
	}
	p := decodePlan(t, r.stdout)
	c := findCluster(t, p, "lab-east")
	if c.Region != "us-east1" || c.Mode != "joined" || c.Unreachable != "" || c.Error != "" {
		t.Errorf("lab-east in the plan: region %s, mode %s, unreachable %q, error %q", c.Region, c.Mode, c.Unreachable, c.Error)
	}
	var deployments int
	for _, o := range c.Objects {
		if o.Action != object.ActionCreate {
			t.Errorf("lab-east: %s is %s, want create: nothing was applied there", o, o.Action)
		}
		if o.Kind == "Deployment" && o.Name == "model-server" {
			deployments++
		}
	}
	if deployments != 1 {
		t.Errorf("lab-east gets %d model-server Deployments, want 1:\n%v", deployments, changed(c))
	}
	var placed bool
	for _, pl := range p.Placements {
		for _, s := range pl.Shares {
			placed = placed || pl.Workload == "model-server" && s.Cluster == "lab-east" && s.Replicas != nil && *s.Replicas > 0
		}
	}
	if !placed {
		t.Errorf("model-server places no replicas on lab-east: %+v", p.Placements)
	}

	// 4. The same context again is refused, naming where it is.
	r = e.run("join", "lab-east", "--region", "us-east1", "--name", "another", "-f", e.topology)
	if want := "error: context \"lab-east\" is already joined as cluster lab-east (" + e.topology + ":87)\n"; r.code != 1 || r.stderr != want {
		t.Errorf("joining lab-east again: exit %d, stderr %q; want 1, %q", r.code, r.stderr, want)
	}

	// 5. -o json: the plan of the new cluster alone, in a region the file
	// did not have; the message goes to stderr.
	r = e.run("join", "lab-central", "--region", "us-central1", "--label", "role=serving", "-f", e.topology, "-o", "json")
	if r.code != 0 {
		t.Fatalf("join -o json: exit %d\n%s", r.code, r.stderr)
	}
	if want := "Cluster lab-central (context lab-central) joined the new region us-central1 at " + e.topology + ":94.\n"; r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
	p = decodePlan(t, r.stdout)
	if len(p.Regions) != 1 || p.Regions[0].Name != "us-central1" || len(p.Regions[0].Clusters) != 1 || p.Regions[0].Clusters[0].Name != "lab-central" {
		t.Fatalf("join -o json plans %+v, want lab-central alone", p.Regions)
	}
	if p.Summary.ObjectsToCreate != len(p.Regions[0].Clusters[0].Objects) || p.Summary.ObjectsToCreate == 0 {
		t.Errorf("summary %+v for %d objects to create", p.Summary, len(p.Regions[0].Clusters[0].Objects))
	}
	after, err := os.ReadFile(e.topology)
	if err != nil {
		t.Fatal(err)
	}
	onlyAddedLines(t, string(written), string(after), 7)
}

// onlyAddedLines fails unless after is before with n lines inserted, and
// nothing else changed: every byte of every other line, comments and blank
// lines included.
func onlyAddedLines(t *testing.T, before, after string, n int) {
	t.Helper()
	a, b := strings.SplitAfter(before, "\n"), strings.SplitAfter(after, "\n")
	added := 0
	for _, op := range difflib.NewMatcher(a, b).GetOpCodes() {
		switch op.Tag {
		case 'e':
		case 'i':
			added += op.J2 - op.J1
		default:
			t.Errorf("lines %d-%d changed or went: %q", op.I1+1, op.I2, a[op.I1:op.I2])
		}
	}
	if added != n {
		t.Errorf("%d lines added, want %d:\n%s", added, n, after)
	}
}
