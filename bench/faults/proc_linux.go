package main

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// setDeathSignal makes the child die with the harness (Linux).
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// procState is the state letter of a process in /proc/PID/stat (R, S, T
// for stopped, Z for a zombie, ...).
func procState(pid int) (byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return statState(string(b))
}
