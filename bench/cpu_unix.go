//go:build unix

package bench

import (
	"syscall"
	"time"
)

// ProcessCPU returns the user plus system CPU time this process has used so far, on every thread: the garbage
// collector's background work included. On a shared machine it is steadier than wall time, which also counts the
// time the process waited for a core. ok is false where the platform does not say.
func ProcessCPU() (cpu time.Duration, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
