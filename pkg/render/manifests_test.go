package render

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/geofed-io/kubectl-geofed/pkg/object"
	"github.com/geofed-io/kubectl-geofed/pkg/topology"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// manifestsDir is the example shipped with the plugin.
const manifestsDir = "../../manifests"

// exampleRender is what the example topology puts on each cluster: the
// overlay the design's rule picks (relative to manifestsDir) and the
// replica share the design's division gives. Division is pkg/placement's
// job; the figures are written out here so this test fails when the
// example's selection or overlays change without the table:
//   - trainer: total 4 by locality near us-west1; only training-us is
//     selected (role=training), so it takes all 4;
//   - model-server: total 6 by weight, europe-west1 weighs 2 and us-east1 1,
//     min 1, max 5: serving-eu 4, serving-us 2.
var exampleRender = map[[2]string]struct {
	overlay  string
	replicas int32
}{
	{"trainer", "training-us"}:     {"apps/trainer/overlays/us-west1", 4},
	{"model-server", "serving-eu"}: {"apps/model-server/overlays/europe-west1", 4},
	{"model-server", "serving-us"}: {"apps/model-server/overlays/serving-us", 2},
}

// TestExampleManifests renders every workload of the example for every
// cluster it selects, and checks the result is kustomize's output of the
// chosen overlay with only the documented changes; the full output per
// cluster is also kept as a golden file.
func TestExampleManifests(t *testing.T) {
	top, err := topology.Load(filepath.Join(manifestsDir, "topology.yaml"))
	if err != nil {
		t.Fatalf("loading the example topology: %v", err)
	}
	fs := filesys.MakeFsOnDisk()

	seen := map[[2]string]bool{}
	for _, ref := range top.Clusters() {
		var golden bytes.Buffer
		fmt.Fprintf(&golden, "# cluster: %s (region %s)\n", ref.Cluster.Name, ref.Region)
		for i := range top.Spec.Workloads {
			w := &top.Spec.Workloads[i]
			selected, err := w.Placement.Selects(ref)
			if err != nil {
				t.Fatalf("workload %s: %v", w.Name, err)
			}
			if !selected {
				continue
			}
			pair := [2]string{w.Name, ref.Cluster.Name}
			seen[pair] = true
			want, ok := exampleRender[pair]
			if !ok {
				t.Errorf("the example places %s on %s, which exampleRender does not expect", w.Name, ref.Cluster.Name)
				continue
			}

			out, err := Workload(Options{
				FS:       fs,
				Topology: top.Metadata.Name,
				Workload: w.Name,
				Source:   top.SourceDir(w),
				Cluster:  ref.Cluster.Name,
				Region:   ref.Region,
			})
			if err != nil {
				t.Fatalf("Workload(): %v", err)
			}
			setReplicas(t, out.Objects, &want.replicas)
			overlay, err := filepath.Rel(manifestsDir, out.Overlay)
			if err != nil {
				t.Fatal(err)
			}
			if overlay != filepath.FromSlash(want.overlay) {
				t.Errorf("%s on %s: overlay %s, want %s", w.Name, ref.Cluster.Name, overlay, want.overlay)
			}

			expected := wantRendered(t, fs, filepath.Join(manifestsDir, want.overlay), top.Metadata.Name, w.Name, &want.replicas)
			object.Sort(expected)
			if diff := cmp.Diff(objectMaps(expected), objectMaps(out.Objects)); diff != "" {
				t.Errorf("%s on %s differs from kustomize output plus labels and replicas (-want +got):\n%s",
					w.Name, ref.Cluster.Name, diff)
			}

			fmt.Fprintf(&golden, "# workload: %s (overlay %s, replicas %d)\n", w.Name, filepath.ToSlash(overlay), want.replicas)
			for _, o := range out.Objects {
				y, err := yaml.Marshal(Redact(o).Object)
				if err != nil {
					t.Fatal(err)
				}
				golden.WriteString("---\n")
				golden.Write(y)
			}
		}
		checkGolden(t, filepath.Join("testdata", ref.Cluster.Name+".golden"), golden.Bytes())
	}

	for pair := range exampleRender {
		if !seen[pair] {
			t.Errorf("exampleRender expects %s on %s, which the example does not place there", pair[0], pair[1])
		}
	}
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs (-want +got):\n%s", path, cmp.Diff(string(want), string(got)))
	}
}

func TestExampleSecretIsRedactedInGolden(t *testing.T) {
	// The example's Secret exists to show redaction; its placeholder value
	// must not reach printed output.
	for _, cluster := range []string{"serving-eu", "serving-us"} {
		b, err := os.ReadFile(filepath.Join("testdata", cluster+".golden"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("token: (sensitive)")) {
			t.Errorf("%s.golden has no redacted token", cluster)
		}
		if bytes.Contains(b, []byte("cGxhY2Vob2xkZXItbm90LWEtcmVhbC10b2tlbg==")) {
			t.Errorf("%s.golden prints the Secret's value", cluster)
		}
	}
}
