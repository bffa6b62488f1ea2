//go:build !linux || race

package badger

import "os"

// dataSyncer syncs on the committer's own goroutine. On Linux outside the race detector's builds it is a thread
// of its own instead (syncer_linux.go).
type dataSyncer struct{}

func newDataSyncer() (*dataSyncer, error) { return &dataSyncer{}, nil }

func (*dataSyncer) sync(f *os.File) error { return fdatasync(f) }

func (*dataSyncer) close() {}

// priorityRaised is false: there is no thread to raise.
func (*dataSyncer) priorityRaised() bool { return false }

// forceHandover does nothing here: there is no thread; for tests.
func forceHandover(*dataSyncer, bool) {}
