package loadtest

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat: USER_HZ, which
// the kernel fixes at 100 for every user-space ABI on Linux.
const userHZ = 100

// ProcStats is the CPU time and resident memory of a process.
type ProcStats struct {
	// CPU is user plus system time.
	CPU time.Duration
	// RSS is the resident set size (VmRSS) in bytes.
	RSS int64
}

// ReadProcStats reads the stats of process pid from /proc/<pid>/stat and
// /proc/<pid>/status; pid 0 means this process.
func ReadProcStats(pid int) (ProcStats, error) {
	dir := "/proc/self"
	if pid != 0 {
		dir = "/proc/" + strconv.Itoa(pid)
	}
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return ProcStats{}, fmt.Errorf("loadtest: %w", err)
	}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return ProcStats{}, fmt.Errorf("loadtest: %w", err)
	}
	return parseProcStats(stat, status)
}

// parseProcStats decodes utime and stime (fields 14 and 15 of stat, see
// proc(5)) and VmRSS of status.
func parseProcStats(stat, status []byte) (ProcStats, error) {
	// The command name (field 2) is in parentheses and may hold spaces
	// or parentheses: fields are counted after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return ProcStats{}, fmt.Errorf("loadtest: malformed /proc stat")
	}
	f := bytes.Fields(stat[i+1:])
	// f[0] is field 3 (state): utime is field 14, f[11].
	if len(f) < 13 {
		return ProcStats{}, fmt.Errorf("loadtest: /proc stat has %d fields after the name", len(f))
	}
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return ProcStats{}, fmt.Errorf("loadtest: malformed CPU times in /proc stat")
	}
	ps := ProcStats{CPU: time.Duration(ut+st) * time.Second / userHZ}
	for line := range bytes.SplitSeq(status, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		kb := bytes.Fields(rest)
		if len(kb) == 0 {
			break
		}
		n, err := strconv.ParseInt(string(kb[0]), 10, 64)
		if err != nil {
			return ProcStats{}, fmt.Errorf("loadtest: malformed VmRSS in /proc status")
		}
		ps.RSS = n * 1024
		return ps, nil
	}
	return ProcStats{}, fmt.Errorf("loadtest: no VmRSS in /proc status")
}

// selfCPU returns this process's user plus system time, with the
// microsecond resolution of getrusage(2).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
