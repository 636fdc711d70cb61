package topology

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// boundedCase is an input the loader must parse or refuse within its
// bounds; want is a part of the first error, or "" for a valid file.
type boundedCase struct {
	name string
	data []byte
	want string
}

const header = "apiVersion: geofed.io/v1alpha1\nkind: Topology\nmetadata: {name: demo}\n"

// oneCluster is a valid spec head for cases that add to it.
const oneCluster = header + "spec:\n  regions:\n  - name: us-west1\n    clusters:\n    - {name: a, kubeconfig: {context: a}, labels: {role: serving}}\n"

// repeat joins n copies of item(i) with sep.
func repeat(n int, sep string, item func(i int) string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = item(i)
	}
	return strings.Join(parts, sep)
}

// laughs is a "billion laughs": level i is a list of width aliases to
// level i-1, under the unknown key x (or inside spec when at says so).
func laughs(levels, width int) string {
	var b strings.Builder
	b.WriteString("x0: &l0 [lol]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "x%d: &l%d [%s]\n", i, i, repeat(width, ", ", func(int) string { return fmt.Sprintf("*l%d", i-1) }))
	}
	return b.String()
}

// generatedCases are worst cases written to be expensive: each level of
// aliases multiplies, the nesting is deep, the file is as large as allowed
// and as dense as YAML gets, or it breaks every rule many times over.
func generatedCases() []boundedCase {
	const mib = 1 << 20
	fill := func(prefix string, item func(i int) string, size int) []byte {
		var b strings.Builder
		b.WriteString(prefix)
		for i := 0; b.Len() < size; i++ {
			b.WriteString(item(i))
		}
		return []byte(b.String()[:size])
	}
	return []boundedCase{
		{name: "laughs 9x10 aside", data: []byte(header + laughs(9, 10) + "spec: {regions: []}\n"), want: "alias *l"},
		{name: "laughs 30x30 aside", data: []byte(header + laughs(30, 30) + "spec: {regions: []}\n"), want: "alias *l"},
		{name: "laughs as labels", data: []byte(header + "x: &v [" + repeat(100, ", ", func(i int) string { return fmt.Sprint(i) }) + "]\n" +
			"spec:\n  regions:\n  - name: us-west1\n    clusters:\n    - name: a\n      kubeconfig: {context: a}\n      labels: &m {" +
			repeat(500, ", ", func(i int) string { return fmt.Sprintf("k%d: *v", i) }) + "}\n" +
			"    - {name: b, kubeconfig: {context: b}, labels: *m}\n"), want: "alias *m stands for 51001 values"},
		{name: "nested anchors doubling", data: []byte(header + "a0: &a0 {k: v}\n" +
			repeat(64, "", func(i int) string { return fmt.Sprintf("a%d: &a%d [*a%d, *a%d]\n", i+1, i+1, i, i) }) +
			"spec: {regions: *a64}\n"), want: "alias *a"},
		{name: "wide aliases", data: []byte(header + "x: &w [" + repeat(1000, ",", func(int) string { return "a" }) + "]\n" +
			"spec:\n  regions: [" + repeat(2000, ",", func(int) string { return "*w" }) + "]\n"), want: "alias *w stands for 1001 values"},
		{name: "regions aliased", data: []byte(header + "r: &r {name: us-west1, clusters: [{name: a, kubeconfig: {context: a}}]}\n" +
			"spec:\n  regions: [" + repeat(20000, ",", func(int) string { return "*r" }) + "]\n"), want: "alias *r stands for 12 values"},
		{name: "merge laughs", data: []byte(header + "m0: &m0 {name: a}\n" +
			repeat(8, "", func(i int) string {
				return fmt.Sprintf("m%d: &m%d {<<: [%s]}\n", i+1, i+1, repeat(10, ", ", func(int) string { return fmt.Sprintf("*m%d", i) }))
			}) + "spec: {regions: [{name: us-west1, clusters: [{<<: *m8, kubeconfig: {context: a}}]}]}\n"), want: "alias *m"},
		{name: "list holds itself", data: []byte(header + "spec:\n  regions: &r [{name: us-west1, clusters: *r}]\n"), want: "anchor &r (line 5) is used inside itself"},
		{name: "mapping holds itself deep", data: []byte(header + "x: &x {a: {b: {c: [*x]}}}\nspec: {regions: []}\n"), want: "anchor &x (line 4) is used inside itself"},
		{name: "deep lists", data: []byte(header + "x: " + strings.Repeat("[", 9000) + strings.Repeat("]", 9000) + "\nspec: {regions: []}\n"), want: `unknown field "x"`},
		{name: "deeper than YAML allows", data: []byte(header + "x: " + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "\nspec: {regions: []}\n"), want: "invalid YAML"},
		{name: "deep mappings", data: []byte(header + "spec:\n" + repeat(1000, "", func(i int) string { return strings.Repeat(" ", i+1) + "a:\n" })), want: `unknown field "a"`},
		{name: "deep mappings flow", data: []byte(header + "spec: " + strings.Repeat("{a: ", 9000) + "b" + strings.Repeat("}", 9000) + "\n"), want: `unknown field "a"`},
		{name: "over 1 MiB", data: fill(oneCluster+"# ", func(int) string { return "padding " }, mib+1), want: "larger than 1 MiB"},
		{name: "1 MiB of comment", data: fill(oneCluster+"# ", func(int) string { return "padding " }, mib), want: ""},
		{name: "1 MiB dense list", data: append(fill(header+"x: [", func(int) string { return "a," }, mib-2), "]\n"...), want: "more than 100000 values"},
		{name: "1 MiB dense mapping", data: append(fill(header+"x: {", func(int) string { return "a," }, mib-2), "}\n"...), want: "more than 100000 values"},
		{name: "many labels", data: []byte(header + "spec:\n  regions:\n  - name: us-west1\n    clusters:\n    - name: a\n      kubeconfig: {context: a}\n      labels:\n" +
			repeat(45000, "", func(i int) string { return fmt.Sprintf("        k%d: v\n", i) })), want: ""},
		{name: "many clusters", data: []byte(header + "spec:\n  regions:\n  - name: us-west1\n    clusters:\n" +
			repeat(12000, "", func(i int) string { return fmt.Sprintf("    - {name: c%d, kubeconfig: {context: c%d}}\n", i, i) })), want: ""},
		{name: "empty regions", data: append(fill(header+"spec:\n  regions: [", func(int) string { return "{}," }, mib-2), "]\n"...), want: "more than 100000 values"},
		{name: "many errors", data: []byte(header + "spec:\n  regions: [" + repeat(20000, ",", func(int) string { return "{}" }) + "]\n"), want: "problems; the first 100 found follow"},
		{name: "many unknown machine types", data: []byte(header + "spec:\n  regions:\n  - name: us-west1\n    clusters:\n    - name: a\n      gke:\n        project: p\n        nodePools:\n" +
			repeat(5000, "", func(i int) string { return fmt.Sprintf("        - {name: p%d, machineType: e2-standrd-%d}\n", i, i) })), want: "problems; the first 100 found follow"},
		{name: "many unknown cluster names", data: []byte(header + "spec:\n  regions:\n  - name: us-west1\n    clusters:\n" +
			repeat(3000, "", func(i int) string { return fmt.Sprintf("    - {name: cluster-%d, kubeconfig: {context: c%d}}\n", i, i) }) +
			"  workloads:\n  - name: w\n    source: s\n    placement:\n      clusters:\n" +
			repeat(5000, "", func(i int) string { return fmt.Sprintf("      - clustr-%d\n", i) })), want: "problems; the first 100 found follow"},
		{name: "selectors by clusters", data: []byte(header + "spec:\n  regions:\n  - name: us-west1\n    clusters:\n" +
			repeat(3000, "", func(i int) string {
				return fmt.Sprintf("    - {name: c%d, kubeconfig: {context: c%d}, labels: {n: x%d}}\n", i, i, i)
			}) +
			"  workloads:\n" +
			repeat(3000, "", func(i int) string {
				return fmt.Sprintf("  - {name: w%d, source: s, placement: {clusterSelector: {matchLabels: {n: x%d}}}}\n", i, 3000-i)
			})), want: "this file's selectors and clusters take more than 200000 checks"},
		{name: "one selector many workloads", data: []byte(header + "spec:\n  regions:\n  - name: us-west1\n    clusters:\n" +
			repeat(3000, "", func(i int) string { return fmt.Sprintf("    - {name: c%d, kubeconfig: {context: c%d}}\n", i, i) }) +
			"  workloads:\n" +
			repeat(3000, "", func(i int) string {
				return fmt.Sprintf("  - {name: w%d, source: s, placement: {clusterSelector: {matchLabels: {geofed.io/cluster: c2999}}}}\n", i)
			})), want: ""},
	}
}

// boundedCases is every file under testdata, the bombs among them, and
// the generated worst cases.
func boundedCases(t testing.TB) []boundedCase {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []boundedCase
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, boundedCase{name: file, data: data, want: "-"})
	}
	return append(cases, generatedCases()...)
}

// TestParseBounded: whatever the input, the loader's work stays within
// its bounds, counted rather than timed (BenchmarkParseBounded times the
// same inputs): the values the file stands for once aliases are expanded,
// the nodes the decoder walks, the selector matches the validator tries,
// and the errors it reports.
func TestParseBounded(t *testing.T) {
	opts := Options{IsDir: func(string) bool { return true }}
	for _, tc := range boundedCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.data) > maxFileSize && !strings.Contains(tc.name, "over") {
				t.Fatalf("generated %d bytes, more than the file size limit", len(tc.data))
			}
			top, errs, w := opts.parse(tc.name, tc.data)
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Fatalf("want a topology, got:\n%v", firstLines(errs, 3))
			case tc.want != "" && tc.want != "-" && !strings.Contains(errs.Error(), tc.want):
				t.Fatalf("want an error with %q, got:\n%v", tc.want, firstLines(errs, 3))
			case len(errs) > 0 && top != nil:
				t.Fatal("got a topology along with errors")
			}
			if len(errs) > maxErrors+1 {
				t.Errorf("%d errors, want at most %d and a line saying how many more", len(errs), maxErrors)
			}
			if w.visits > 0 && w.values > maxValues {
				t.Errorf("decoded a file that stands for %d values, more than %d", w.values, maxValues)
			}
			if w.visits > w.values {
				t.Errorf("decoder walked %d nodes, more than the %d values counted before decoding", w.visits, w.values)
			}
			if w.selectorChecks > maxSelectorChecks {
				t.Errorf("%d selector checks, more than %d", w.selectorChecks, maxSelectorChecks)
			}
		})
	}
}

// BenchmarkParseBounded times every input of TestParseBounded; run it by
// hand to see that none costs more than a moment.
func BenchmarkParseBounded(b *testing.B) {
	opts := Options{IsDir: func(string) bool { return true }}
	for _, tc := range boundedCases(b) {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.data)))
			for b.Loop() {
				_, _ = opts.Parse(tc.name, tc.data)
			}
		})
	}
}

func firstLines(errs ErrorList, n int) error {
	if len(errs) > n {
		errs = errs[:n]
	}
	if len(errs) == 0 {
		return errors.New("no error")
	}
	return errs
}
