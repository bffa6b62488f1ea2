//go:build !linux || race

package badger

import "os"

// dataSyncer syncs on the committer's own goroutine. On Linux outside the race detector's builds it is a thread
// of its own instead (syncer_linux.go).
type dataSyncer struct{}

func newDataSyncer() (*dataSyncer, error) { return &dataSyncer{}, nil }

func (*dataSyncer) sync(f *os.File) error { return fdatasync(f) }

func (*dataSyncer) writeSync(f *os.File, b []byte, off int64) error {
	if _, err := f.WriteAt(b, off); err != nil {
		return err
	}
	return fdatasync(f)
}

func (*dataSyncer) close() {}
