package catalog

import "testing"

func TestSuggest(t *testing.T) {
	tests := []struct {
		name       string
		input      string
		candidates []string
		want       string
	}{
		{"region transposition", "us-wset1", RegionNames(), "us-west1"},
		{"region missing digit", "europe-west", RegionNames(), "europe-west1"},
		{"region wrong case", "US-CENTRAL1", RegionNames(), "us-central1"},
		{"machine transposition", "a2-hihggpu-1g", MachineNames(), "a2-highgpu-1g"},
		{"machine substitution", "e2-standrd-8", MachineNames(), "e2-standard-8"},
		{"accelerator", "nvidia-tesla-a10", AcceleratorNames(), "nvidia-tesla-a100"},
		{"nothing close", "zzzz", RegionNames(), ""},
		{"nothing close to machines", "zzzz", MachineNames(), ""},
		{"far from everything", "mars-north1", RegionNames(), ""},
		{"empty candidates", "us-west1", nil, ""},
		{"exact match", "us-west1", RegionNames(), "us-west1"},
		// "ab" is one edit from both; the one that sorts first wins,
		// whatever the order given.
		{"tie sorted order", "ab", []string{"ac", "aa"}, "aa"},
		{"tie reverse order", "ab", []string{"aa", "ac"}, "aa"},
		// Short inputs still allow two edits.
		{"short input limit", "ab", []string{"xyab"}, "xyab"},
		{"short input over limit", "ab", []string{"xyzab"}, ""},
		// Long inputs allow len/3 edits: 12 runes allow 4, not 5.
		{"long input limit", "abcdefghijkl", []string{"abcdefghwxyz"}, "abcdefghwxyz"},
		{"long input over limit", "abcdefghijkl", []string{"abcdefgvwxyz"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Suggest(tt.input, tt.candidates); got != tt.want {
				t.Errorf("Suggest(%q) = %q, want %q", tt.input, got, tt.want)
			}
		})
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"abc", "abc", 0},
		{"abc", "acb", 1}, // adjacent transposition
		{"kitten", "sitting", 3},
		{"ca", "abc", 3}, // optimal string alignment, not full Damerau (which gives 2)
		{"zürich", "zurich", 1},
	}
	for _, tt := range tests {
		if got := editDistance([]rune(tt.a), []rune(tt.b)); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := editDistance([]rune(tt.b), []rune(tt.a)); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d (reversed)", tt.b, tt.a, got, tt.want)
		}
	}
}
