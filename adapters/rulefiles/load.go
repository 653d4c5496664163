package rulefiles

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/arbiterhq/arbiter/rules"
)

// Load reads every *.yaml and *.yml file under dir, recursively, and
// compiles them into one Ruleset with rules.Compile; paths in errors are
// relative to dir. Symbolic links to files and directories are followed,
// each file is read once, hidden files and directories (a Kubernetes
// ConfigMap's ..data) are skipped, and a link to a missing rule file is an
// error. Problems in the
// rules come back as rules.Errors (use errors.As); a directory without a
// rule file is rules.ErrNoRuleFiles (errors.Is); anything else is an I/O
// error.
func Load(dir string) (*rules.Ruleset, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("rules: %s is not a directory", dir)
	}
	rs, err := LoadFS(os.DirFS(dir))
	if errors.Is(err, rules.ErrNoRuleFiles) {
		return nil, fmt.Errorf("%w under %s", rules.ErrNoRuleFiles, dir)
	}
	return rs, err
}

// ReadDir reads the rule files of dir as Load does (the same files, the
// same errors), without compiling them: what Arbiter keeps of a ruleset it
// serves (rules.Compile of them gives the same version).
func ReadDir(dir string) ([]rules.File, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("rules: %s is not a directory", dir)
	}
	return readFS(os.DirFS(dir))
}

// ReadFS is ReadDir on a file system.
func ReadFS(fsys fs.FS) ([]rules.File, error) { return readFS(fsys) }

// LoadFS is Load on a file system (e.g. the embedded examples); paths in
// errors are relative to its root.
func LoadFS(fsys fs.FS) (*rules.Ruleset, error) {
	files, err := readFS(fsys)
	if err != nil {
		return nil, err
	}
	return rules.Compile(files)
}

// readFS reads the rule files under the root of fsys, in path order.
func readFS(fsys fs.FS) ([]rules.File, error) {
	paths, err := ruleFiles(fsys)
	if err != nil {
		return nil, err
	}
	files := make([]rules.File, 0, len(paths))
	for _, p := range paths {
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("rules: reading %s: %w", p, err)
		}
		files = append(files, rules.File{Path: p, Data: data})
	}
	return files, nil
}

// ruleFiles lists the *.yaml and *.yml files under the root of fsys,
// sorted, skipping hidden files and directories (.git, and the ..data and
// ..<timestamp> directories of a Kubernetes ConfigMap volume, whose files
// are also linked from the top). Symbolic links are followed, to files and
// to directories, and every file and directory is read once, by the first
// path that leads to it (so a link cycle ends, and a link to a directory
// beside that directory reads it once). A link to a rule file that is
// missing is an error: a deleted target must not drop rules in silence.
func ruleFiles(fsys fs.FS) ([]string, error) {
	var paths []string
	var dirs, files []fs.FileInfo
	seen := func(list *[]fs.FileInfo, fi fs.FileInfo) bool {
		for _, x := range *list {
			if os.SameFile(x, fi) {
				return true
			}
		}
		*list = append(*list, fi)
		return false
	}
	isRuleFile := func(name string) bool {
		ext := path.Ext(name)
		return ext == ".yaml" || ext == ".yml"
	}
	var walk func(root string) error
	walk = func(root string) error {
		return fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if p != root && strings.HasPrefix(name, ".") {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			isLink := d.Type()&fs.ModeSymlink != 0
			if !d.IsDir() && !isLink {
				if !isRuleFile(name) {
					return nil
				}
				if fi, err := d.Info(); err == nil && seen(&files, fi) {
					return nil
				}
				paths = append(paths, p)
				return nil
			}
			fi, err := fs.Stat(fsys, p) // follows a link
			if err != nil {
				if isLink && isRuleFile(name) {
					return fmt.Errorf("%s links to a file that does not exist", p)
				}
				if isLink {
					return nil // a dangling link to something else
				}
				return err
			}
			switch {
			case fi.IsDir() && isLink:
				return walk(p) // which skips it when it was read already
			case fi.IsDir() && seen(&dirs, fi):
				return fs.SkipDir
			case fi.IsDir():
				return nil
			case isRuleFile(name) && !seen(&files, fi):
				paths = append(paths, p)
			}
			return nil
		})
	}
	if err := walk("."); err != nil {
		return nil, fmt.Errorf("rules: reading the rules directory: %w", err)
	}
	sort.Strings(paths)
	return paths, nil
}
