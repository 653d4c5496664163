package loadgen

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// ClockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100
// on every Linux architecture Go supports (the kernel fixes it for user
// space whatever its internal HZ).
const ClockTicks = 100

// CPUTime is the CPU time a process used: user and system.
type CPUTime struct {
	User, System time.Duration
}

// Total is user plus system time.
func (c CPUTime) Total() time.Duration { return c.User + c.System }

// Sub is c minus an earlier reading.
func (c CPUTime) Sub(earlier CPUTime) CPUTime {
	return CPUTime{User: c.User - earlier.User, System: c.System - earlier.System}
}

// ParseProcStat reads utime and stime (fields 14 and 15) from the content of
// /proc/PID/stat. The second field, the command name in parentheses, may
// hold spaces and parentheses itself, so fields are counted after its last
// ')'.
func ParseProcStat(data []byte) (CPUTime, error) {
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return CPUTime{}, fmt.Errorf("loadgen: /proc stat %q: no ')' after the command name", truncate(data))
	}
	// After ") " come field 3 (state) onwards: utime is field 14, the 12th
	// of these, stime the 13th.
	fields := bytes.Fields(data[end+1:])
	if len(fields) < 13 {
		return CPUTime{}, fmt.Errorf("loadgen: /proc stat %q: %d fields after the command name, want at least 13", truncate(data), len(fields))
	}
	ut, err := strconv.ParseUint(string(fields[11]), 10, 64)
	if err != nil {
		return CPUTime{}, fmt.Errorf("loadgen: /proc stat utime: %w", err)
	}
	st, err := strconv.ParseUint(string(fields[12]), 10, 64)
	if err != nil {
		return CPUTime{}, fmt.Errorf("loadgen: /proc stat stime: %w", err)
	}
	tick := time.Second / ClockTicks
	return CPUTime{User: time.Duration(ut) * tick, System: time.Duration(st) * tick}, nil
}

// ReadCPU returns the CPU time of process pid so far (from /proc: Linux only).
func ReadCPU(pid int) (CPUTime, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return CPUTime{}, fmt.Errorf("loadgen: CPU time of process %d: %w", pid, err)
	}
	return ParseProcStat(data)
}

// ReadCPUs returns the summed CPU time of several processes.
func ReadCPUs(pids []int) (CPUTime, error) {
	var sum CPUTime
	for _, p := range pids {
		c, err := ReadCPU(p)
		if err != nil {
			return CPUTime{}, err
		}
		sum.User += c.User
		sum.System += c.System
	}
	return sum, nil
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}
