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
