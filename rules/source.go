package rules

import (
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// srcFile is one rule file's text, kept to map positions inside scalars
// (an expression's error column) back to the file.
type srcFile struct {
	path  string
	lines [][]rune
}

func newSrcFile(path string, data []byte) *srcFile {
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	parts := strings.Split(text, "\n")
	f := &srcFile{path: path, lines: make([][]rune, len(parts))}
	for i, p := range parts {
		f.lines[i] = []rune(p)
	}
	return f
}

// rawPos is a 0-based place in a srcFile; col == len(line) is the line end.
type rawPos struct{ line, col int }

func (f *srcFile) at(p rawPos) (rune, bool) {
	if p.line < 0 || p.line >= len(f.lines) {
		return 0, false
	}
	l := f.lines[p.line]
	if p.col < len(l) {
		return l[p.col], true
	}
	return '\n', true
}

func (f *srcFile) next(p rawPos) rawPos {
	if p.line >= 0 && p.line < len(f.lines) && p.col < len(f.lines[p.line]) {
		return rawPos{p.line, p.col + 1}
	}
	return rawPos{p.line + 1, 0}
}

// scalarPos maps the rune offset off in scalar n's decoded value to its
// place in the file. It walks the value and the text side by side: every
// non-space rune of the value is found in the text in order, skipping the
// quotes, escapes, indentation and line breaks that the value does not
// hold; that covers plain, single- and double-quoted scalars and literal
// and folded block scalars. When the text cannot be followed it falls
// back to the scalar's start.
func (f *srcFile) scalarPos(n *yaml.Node, off int) Pos {
	start := Pos{File: f.path, Line: n.Line, Col: n.Column}
	if f == nil || off <= 0 || n.Line < 1 || n.Line > len(f.lines) {
		return start
	}
	val := []rune(n.Value)
	if off > len(val) {
		off = len(val)
	}
	p := rawPos{n.Line - 1, n.Column - 1}
	switch n.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		p = rawPos{n.Line, 0}
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		p.col++
	}
	const maxScan = 1 << 16
	for i := 0; i <= off; i++ {
		if i == len(val) {
			break
		}
		r := val[i]
		if unicode.IsSpace(r) {
			if i == off {
				break
			}
			if c, ok := f.at(p); ok && unicode.IsSpace(c) {
				p = f.next(p)
			}
			continue
		}
		found := false
		for steps := 0; steps < maxScan; steps++ {
			c, ok := f.at(p)
			if !ok {
				return start
			}
			if c == r {
				found = true
				break
			}
			if c == '\\' && n.Style == yaml.DoubleQuotedStyle {
				q := f.next(p)
				if c2, ok := f.at(q); ok && c2 != r && !unicode.IsSpace(c2) {
					// an escape that stands for r (\t, \u00e9, ...)
					found = true
					break
				}
			}
			p = f.next(p)
		}
		if !found {
			return start
		}
		if i == off {
			break
		}
		if c, _ := f.at(p); c == '\\' && n.Style == yaml.DoubleQuotedStyle && r != '\\' {
			p = f.skipEscape(p)
		} else {
			p = f.next(p)
		}
	}
	return Pos{File: f.path, Line: p.line + 1, Col: p.col + 1}
}

// skipEscape moves past a double-quoted escape sequence starting at p.
func (f *srcFile) skipEscape(p rawPos) rawPos {
	p = f.next(p) // the backslash
	c, _ := f.at(p)
	n := 1
	switch c {
	case 'x':
		n = 3
	case 'u':
		n = 5
	case 'U':
		n = 9
	}
	for i := 0; i < n; i++ {
		p = f.next(p)
	}
	return p
}
