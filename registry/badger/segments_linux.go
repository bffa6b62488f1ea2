package badger

import (
	"errors"
	"os"
	"syscall"
)

// allocate gives f the n bytes of disk from off, so that writes there change no file metadata beyond the extent
// state. Where the file system cannot allocate, it writes zeros.
func allocate(f *os.File, off, n int64) error {
	err := syscall.Fallocate(int(f.Fd()), 0, off, n)
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return writeZeros(f, off, n)
	}
	return err
}

// fdatasync syncs f's data, and its metadata only where reading the data back needs it.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// setDirect turns on direct I/O for f, the segment being written, and reports whether it could: not every file
// system has it (tmpfs does not).
func setDirect(f *os.File) bool {
	fd := f.Fd()
	flags, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
	if e != 0 {
		return false
	}
	_, _, e = syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_SETFL, flags|syscall.O_DIRECT)
	return e == 0
}
