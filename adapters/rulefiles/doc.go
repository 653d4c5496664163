// Package rulefiles is the rule files on disk. It reads a rules directory
// (Load: symbolic links to files and directories, Kubernetes ConfigMap
// volumes, link cycles) and compiles it with rules.Compile; it holds the
// ruleset in force (Reloader), compiling off the request path, swapping
// the result in atomically and keeping the last good ruleset when a
// reload fails (recording the failure); and it watches the directory
// (recursively, with fsnotify) to reload on change.
package rulefiles
