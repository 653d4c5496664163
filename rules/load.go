package rules

import (
	"errors"
	"io/fs"
	"strings"
)

// Error is one problem in the rule files: where, what, and where it can,
// what to write instead.
type Error struct {
	Pos  Pos
	Msg  string
	Hint string // e.g. "did you mean profile.ltv?"; may be empty
}

// Error formats the problem as file:line:col: message (hint).
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.File)
	if e.Pos.Line > 0 {
		b.WriteString(":")
		b.WriteString(itoa(e.Pos.Line))
		b.WriteString(":")
		b.WriteString(itoa(e.Pos.Col))
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}

// Errors is every problem found in one load, in file and line order.
type Errors []*Error

// Error lists the problems, one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// ErrNotBuilt is returned by the stubs until the compiler lands.
var ErrNotBuilt = errors.New("rules: compiler not built yet")

// Load reads every *.yaml file under dir, recursively, and compiles them
// into one Ruleset. Problems in the rules come back as Errors (use
// errors.As); anything else is an I/O error.
func Load(dir string) (*Ruleset, error) { return nil, ErrNotBuilt }

// LoadFS is Load on a file system; paths in errors are relative to its root.
func LoadFS(fsys fs.FS) (*Ruleset, error) { return nil, ErrNotBuilt }
