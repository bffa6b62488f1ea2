//go:build !linux

package badger

import "os"

func allocate(f *os.File, off, n int64) error { return writeZeros(f, off, n) }

func fdatasync(f *os.File) error { return f.Sync() }
