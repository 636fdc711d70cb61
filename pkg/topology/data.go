package topology

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// DataScheme starts a Cloud Storage URL: gs://bucket/prefix.
const DataScheme = "gs://"

// IsDataURL reports whether s names data in Cloud Storage rather than a
// region.
func IsDataURL(s string) bool { return strings.HasPrefix(s, DataScheme) }

// BucketOf is the bucket of a gs://bucket/prefix URL.
func BucketOf(url string) string {
	rest := strings.TrimPrefix(url, DataScheme)
	bucket, _, _ := strings.Cut(rest, "/")
	return bucket
}

// DataUse is one gs:// URL a workload names, with where the file names it.
type DataUse struct {
	Workload string
	URL      string
	// Field is the field path, e.g. spec.workloads[0].placement.data[1].
	Field string
	// Place is file:line of the field, or the file when the line is
	// unknown.
	Place string
}

// DataUses lists every gs:// URL the topology's workloads name, in file
// order: replicas.near first, then data.
func (t *Topology) DataUses() []DataUse {
	var out []DataUse
	for i, w := range t.Spec.Workloads {
		p := field.NewPath("spec", "workloads").Index(i).Child("placement")
		add := func(url string, path *field.Path) {
			out = append(out, DataUse{Workload: w.Name, URL: url, Field: path.String(), Place: place(t.Path, t.lines.line(path.String()))})
		}
		if r := w.Placement.Replicas; r != nil && IsDataURL(r.Near) {
			add(r.Near, p.Child("replicas", "near"))
		}
		for j, url := range w.Placement.Data {
			add(url, p.Child("data").Index(j))
		}
	}
	return out
}

// checkDataURL says what is wrong with a gs://bucket/prefix URL, "" when
// nothing is. Bucket names follow Cloud Storage's rules for names without
// dots (3 to 63 lower-case letters, digits, - and _, starting and ending
// with a letter or digit), or with dots (up to 222, each dot-separated
// part at most 63).
func checkDataURL(url string) string {
	if !IsDataURL(url) {
		return fmt.Sprintf("%q is not a Cloud Storage URL (want gs://bucket/prefix)", url)
	}
	bucket := BucketOf(url)
	if bucket == "" {
		return fmt.Sprintf("%q names no bucket (want gs://bucket/prefix)", url)
	}
	limit := 63
	if strings.Contains(bucket, ".") {
		limit = 222
	}
	if len(bucket) < 3 || len(bucket) > limit {
		return fmt.Sprintf("bucket name %q must be 3 to %d characters", bucket, limit)
	}
	for _, part := range strings.Split(bucket, ".") {
		if len(part) == 0 || len(part) > 63 {
			return fmt.Sprintf("bucket name %q: each dot-separated part must be 1 to 63 characters", bucket)
		}
	}
	for _, r := range bucket {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Sprintf("bucket name %q: only lower-case letters, digits, -, _ and . are allowed", bucket)
		}
	}
	isAlnum := func(b byte) bool { return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' }
	if !isAlnum(bucket[0]) || !isAlnum(bucket[len(bucket)-1]) {
		return fmt.Sprintf("bucket name %q must start and end with a letter or digit", bucket)
	}
	return ""
}
