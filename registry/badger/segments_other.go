//go:build !linux

package badger

import "os"

func allocate(f *os.File, off, n int64) error { return writeZeros(f, off, n) }

func fdatasync(f *os.File) error { return f.Sync() }

// setDirect reports that direct I/O is not used here.
func setDirect(*os.File) bool { return false }
