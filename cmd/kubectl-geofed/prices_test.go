package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPriceCatalogFlag(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "rates.txt")
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(good, []byte("date 2027-01-15\nmachine n1-standard-4 us-central1 0.19 0.04\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("date 2027-01-15\nmachine n1-standrd-4 us-central1 0.19 0.04\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file    string
		wantErr string
	}{
		{file: ""},
		{file: good},
		{file: bad, wantErr: bad + `:2: machine: unknown type "n1-standrd-4" (did you mean "n1-standard-4"?)`},
		{file: filepath.Join(dir, "missing.txt"), wantErr: "reading --price-catalog: open " + filepath.Join(dir, "missing.txt")},
	}
	for _, tt := range tests {
		f := priceFlags{PriceCatalog: tt.file}
		err := f.load()
		if tt.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("load(%q) error = %v, want %q", tt.file, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("load(%q): %v", tt.file, err)
		}
		if len(f.Prices.Origins) != 1+min(len(tt.file), 1) {
			t.Errorf("load(%q) origins = %+v", tt.file, f.Prices.Origins)
		}
		if tt.file == good {
			if got, err := f.Prices.Node("n1-standard-8", nil, "us-central1", true); err != nil || got != 0.08 {
				t.Errorf("n1-standard-8 spot = %v, %v; want 0.08 from the file", got, err)
			}
		}
	}
}
