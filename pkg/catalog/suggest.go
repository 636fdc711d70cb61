package catalog

import (
	"strings"
	"unicode/utf8"
)

// Suggest returns the candidate closest to input by edit distance
// (optimal-string-alignment Damerau-Levenshtein, so a swapped pair of
// letters costs one edit; case-insensitive), or "" if none is close enough
// to be a plausible typo: the distance must be at most max(2, len(input)/3)
// runes. Ties go to the candidate that sorts first, so the answer does not
// depend on the order of candidates.
func Suggest(input string, candidates []string) string {
	in := []rune(strings.ToLower(input))
	limit := max(2, len(in)/3)
	best, bestDist := "", limit+1
	for _, c := range candidates {
		// Lengths alone bound the distance from below; skip hopeless ones.
		if abs(utf8.RuneCountInString(c)-len(in)) > limit {
			continue
		}
		d := editDistance(in, []rune(strings.ToLower(c)))
		if d < bestDist || (d == bestDist && c < best) {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance between a and b:
// insertions, deletions, substitutions and adjacent transpositions cost 1.
func editDistance(a, b []rune) int {
	// Three rolling rows: the transposition rule looks two rows back.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
