package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTailFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, content string
		n             int
		want          string
	}{
		{"last lines", "a\nb\nc\nd\n", 2, "c\nd"},
		{"fewer than n", "a\nb\n", 5, "a\nb"},
		{"latest run only", "=== run 1\nold error\n=== run 2\nnew\n", 10, "=== run 2\nnew"},
		{"latest run, cut", "=== run 1\nx\n=== run 2\n1\n2\n3\n", 2, "2\n3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tailFile(write(tt.name, tt.content), tt.n); got != tt.want {
				t.Errorf("tailFile = %q, want %q", got, tt.want)
			}
		})
	}
	if got := tailFile(filepath.Join(dir, "missing"), 3); !strings.HasPrefix(got, "(cannot read log") {
		t.Errorf("tailFile of a missing file = %q", got)
	}
}
