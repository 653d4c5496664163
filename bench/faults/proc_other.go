//go:build !linux

package main

import "os/exec"

// setDeathSignal is Linux-only; elsewhere the children are stopped by the
// harness on its way out.
func setDeathSignal(cmd *exec.Cmd) {}
