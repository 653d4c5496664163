package arbiter_test

// The relative links of the project's Markdown files, checked: every link
// to a file names one that exists, and every #anchor names a heading (or an
// explicit <a id>/<a name>) of the file it points to, spelled as GitHub
// spells a heading's anchor. A renamed heading or a moved file breaks a
// link without a word; this test says which link, in which file, at which
// line.

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

var (
	// [text](target) and [text](target "title"); images too.
	inlineLink = regexp.MustCompile(`\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)`)
	// [ref]: target
	refLink     = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s+<?(\S+?)>?(?:\s+.*)?$`)
	inlineCode  = regexp.MustCompile("`+[^`]*`+")
	htmlAnchor  = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)
	headingLine = regexp.MustCompile(`^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
)

// markdownFile is what the links of other files may point at in one file.
type markdownFile struct {
	anchors map[string]bool
	links   []mdLink
}

type mdLink struct {
	line   int
	target string
}

// githubSlug is the anchor GitHub gives a heading: lower case, punctuation
// dropped (letters, digits, '-', '_' and spaces kept), spaces as '-'.
func githubSlug(heading string) string {
	heading = inlineCode.ReplaceAllStringFunc(heading, func(s string) string { return strings.Trim(s, "`") })
	// A link in a heading: its text.
	heading = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`).ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

func readMarkdown(t *testing.T, path string) markdownFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	md := markdownFile{anchors: map[string]bool{}}
	seen := map[string]int{}
	fence := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		for _, m := range htmlAnchor.FindAllStringSubmatch(line, -1) {
			md.anchors[m[1]] = true
		}
		if m := headingLine.FindStringSubmatch(line); m != nil {
			slug := githubSlug(m[2])
			if k := seen[slug]; k > 0 {
				md.anchors[slug+"-"+strconv.Itoa(k)] = true
			} else {
				md.anchors[slug] = true
			}
			seen[slug]++
		}
		text := inlineCode.ReplaceAllString(line, "")
		for _, m := range inlineLink.FindAllStringSubmatch(text, -1) {
			md.links = append(md.links, mdLink{n, m[1]})
		}
		if m := refLink.FindStringSubmatch(text); m != nil {
			md.links = append(md.links, mdLink{n, m[1]})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return md
}

func TestMarkdownLinks(t *testing.T) {
	files := map[string]markdownFile{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".md") {
			files[filepath.ToSlash(path)] = readMarkdown(t, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no Markdown files found")
	}
	for path, md := range files {
		for _, l := range md.links {
			target := l.target
			if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			dest := path
			if file != "" {
				if strings.HasPrefix(file, "/") {
					dest = filepath.ToSlash(filepath.Clean(strings.TrimPrefix(file, "/")))
				} else {
					dest = filepath.ToSlash(filepath.Join(filepath.Dir(path), file))
				}
				if _, err := os.Stat(filepath.FromSlash(dest)); err != nil {
					t.Errorf("%s:%d: the link %q points to %s, which does not exist", path, l.line, target, dest)
					continue
				}
			}
			if anchor == "" {
				continue
			}
			destMD, ok := files[dest]
			if !ok {
				continue // an anchor in a file that is not Markdown (a line of code): not checked
			}
			if !destMD.anchors[anchor] {
				t.Errorf("%s:%d: the link %q names the anchor #%s, which %s has no heading for", path, l.line, l.target, anchor, dest)
			}
		}
	}
}
