package main

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the child die with the harness (Linux).
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
