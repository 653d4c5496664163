//go:build !linux

package main

import "os/exec"

// setDeathSignal is Linux-only; elsewhere the children are stopped by the
// harness on its way out.
func setDeathSignal(cmd *exec.Cmd) {}

// procState is not known outside Linux: a stop is not verified there.
func procState(pid int) (byte, error) { return 0, errStateUnknown }
