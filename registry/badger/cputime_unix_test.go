//go:build unix

package badger

import (
	"syscall"
	"time"
)

// cpuTime is the process's user and system CPU time so far. (The bench package has the same as ProcessCPU, but
// it imports this package, so this package's tests cannot import it.)
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
