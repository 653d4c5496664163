package exprenv

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// levenshtein is the edit distance between a and b, counted in runes,
// where swapping two neighbours counts as one edit (optimal string
// alignment): "lvt" is one edit from "ltv".
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) == 0 {
		return len(rb)
	}
	if len(rb) == 0 {
		return len(ra)
	}
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// Closest returns the candidate nearest to name, or "" when none is close
// enough to be a likely typo: the same name but for case, '_' and '-'
// (dryrun, DRY-RUN for dry_run), else one within an edit distance of 1 for
// names up to 4 runes, 2 up to 8, 3 beyond. Ties go to the alphabetically
// first candidate, so the hint is stable. It is the one "did you mean"
// of Arbiter: the rule files' hints and the JSON decoder's unknown fields.
func Closest(name string, candidates []string) string {
	if name == "" {
		return ""
	}
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	norm := strings.NewReplacer("_", "", "-", "")
	nn := norm.Replace(strings.ToLower(name))
	for _, c := range sorted {
		if c != name && norm.Replace(strings.ToLower(c)) == nn {
			return c
		}
	}
	n := utf8.RuneCountInString(name)
	limit := 3
	switch {
	case n <= 4:
		limit = 1
	case n <= 8:
		limit = 2
	}
	lower := strings.ToLower(name)
	best, bestD := "", limit+1
	for _, c := range sorted {
		// The distance is at least the difference in length: a long
		// name (from a request body, say) is never compared rune by rune.
		if c == name || abs(utf8.RuneCountInString(c)-n) > limit {
			continue
		}
		if d := levenshtein(lower, strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// DidYouMean formats a hint for name among candidates, with an optional
// prefix ("profile.") on the suggestion: "did you mean `profile.ltv`?";
// "" when nothing is close. It is the one "did you mean" of the rules,
// used for expressions here and for the rule files' keys and ids in rules.
func DidYouMean(name string, candidates []string, prefix string) string {
	if c := Closest(name, candidates); c != "" {
		return "did you mean `" + prefix + c + "`?"
	}
	return ""
}
