package badger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The receipt log's segments hold the bytes of every receipt and event, in log order: they are both the
// write-ahead log that makes an Append durable and where the entries live for good (the receipts database only
// indexes them). The group committer writes each batch as one record at the end of the current segment and syncs
// it with fdatasync. A segment is allocated ahead of the records written into it, so that a sync writes data and
// not file metadata: on the machines measured that is several times cheaper, in time and CPU, than Badger's own
// synced commit, which msyncs its memtable file.
//
// Allocation alone is not enough for that: on ext4 (and XFS) allocated blocks start out "unwritten", and the first
// write to each converts it, a metadata change that makes the next fdatasync commit the file system's journal.
// So the committer also writes zeros ahead of its records, zeroChunk at a time, in the same write as the record
// that reaches past them: one journal commit per zeroChunk of log instead of one per batch. Measured here with
// 11 KB records, a sync into written blocks took about half the time and CPU of one into unwritten blocks.
//
// A segment is named after the index of the first leaf it holds, %016x.log. A record is
//
//	magic u32 | crc32c u32 (of everything after it) | payload length u32 | first leaf index u64 | entries u32 | payload
//
// and a payload is, per entry: id length u8, id, tool length u8, tool ("" for an event), value length u32, value.
// A segment ends at the first place that does not hold a whole, valid record continuing the indexes: its end of
// file once it is sealed (truncated to what it holds), or, in the segment being written after a crash, zeros
// where nothing was written or a record the crash tore, which was never acknowledged.

const (
	segMagic      = 0x54474c31 // "TGL1"
	segHeaderSize = 4 + 4 + 4 + 8 + 4
	segSuffix     = ".log"
	// maxReaders is how many segments stay open for reading.
	maxReaders = 64
)

// segmentBytes is how much a segment is allocated ahead; a bigger record gets a segment of its own size. A
// variable, so that tests can exercise rotation.
var segmentBytes int64 = 64 << 20

// maxRecordBuf is the largest record buffer the committer keeps for the next record.
const maxRecordBuf = 1 << 20

// zeroChunk is how far ahead of its records the committer writes zeros into a segment's allocation (see above).
const zeroChunk = 1 << 20

// handAllSyncs, when set (tests), makes every sync go to the sync thread, or none, instead of deciding by the
// scheduler's run queue (dataSyncer.sync).
var handAllSyncs *bool

// zeros is zeroChunk of zeros, written and never changed.
var zeros = make([]byte, zeroChunk)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// segEntry is one entry of a record.
type segEntry struct {
	id, tool string
	val      []byte
}

// entryPos is where an entry's value is: bytes [off, off+n) of the segment whose first leaf is seg.
type entryPos struct {
	seg    int64
	off, n uint32
}

const entryPosSize = 16

func (p entryPos) append(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(p.seg))
	b = binary.BigEndian.AppendUint32(b, p.off)
	return binary.BigEndian.AppendUint32(b, p.n)
}

func decodeEntryPos(b []byte) entryPos {
	return entryPos{seg: int64(binary.BigEndian.Uint64(b)), off: binary.BigEndian.Uint32(b[8:]),
		n: binary.BigEndian.Uint32(b[12:])}
}

// segments is the set of segment files. The committer appends; anyone reads.
type segments struct {
	dir string

	// The segment being written: committer only (and Open, Close).
	w     *os.File
	wSeg  int64  // its first leaf
	wOff  int64  // where the next record goes
	wSize int64  // what is allocated
	wZero int64  // where the zeros written ahead of the records end: blocks before it are written
	buf   []byte // the last record's memory, for the next
	sync  *dataSyncer

	mu      sync.Mutex
	firsts  []int64 // first leaf of every segment, ascending
	readers map[int64]*os.File
}

func segmentName(first int64) string { return fmt.Sprintf("%016x%s", first, segSuffix) }

func (s *segments) path(first int64) string { return filepath.Join(s.dir, segmentName(first)) }

// openSegments lists the segments in dir, creating it if needed.
func openSegments(dir string) (*segments, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	s := &segments{dir: dir, readers: map[int64]*os.File{}, wSeg: -1}
	for _, de := range des {
		name := de.Name()
		if !strings.HasSuffix(name, segSuffix) {
			continue
		}
		first, err := strconv.ParseInt(strings.TrimSuffix(name, segSuffix), 16, 64)
		if err != nil || segmentName(first) != name {
			return nil, fmt.Errorf("log segment[%s]: unexpected name: %w", name, ErrCorrupt)
		}
		s.firsts = append(s.firsts, first)
	}
	slices.Sort(s.firsts)
	if s.sync, err = newDataSyncer(); err != nil {
		return nil, err
	}
	if handAllSyncs != nil {
		forceHandover(s.sync, *handAllSyncs)
	}
	return s, nil
}

// segPoint is a place in the segments: a segment (by its first leaf) and an offset in it.
type segPoint struct {
	seg, off int64
}

// replay calls fn with every entry from leaf from on, in order, reading from at — where the database says the
// record holding its last indexed leaf, or the one after it, starts — and returns the index after the last.
// Records must continue each other's indexes, segments each other's; only the last segment may end in something
// other than its end of file (zeros or a torn record), and it is then cut to its valid end, so that appends go on
// from there. Records before at are not read: damage there does not stop the store, and an audit finds it.
func (s *segments) replay(from int64, at segPoint, fn func(index int64, e segEntry, pos entryPos, rec recordSpan) error) (int64, error) {
	i, found := slices.BinarySearch(s.firsts, at.seg)
	switch {
	case len(s.firsts) == 0 && from == 0:
		return 0, nil
	case !found:
		return 0, fmt.Errorf("log segment[%d], where the database's last indexed leaf is, is missing: %w", at.seg, ErrCorrupt)
	}
	next := int64(-1) // the leaf the next record must start at, once known
	for ; i < len(s.firsts); i++ {
		first := s.firsts[i]
		b, err := os.ReadFile(s.path(first))
		if err != nil {
			return 0, fmt.Errorf("log segment[%d]: %w", first, err)
		}
		off := 0
		if first == at.seg {
			if at.off > int64(len(b)) {
				return 0, fmt.Errorf("log segment[%d] is shorter than the database's replay point %d: %w", first, at.off, ErrCorrupt)
			}
			off = int(at.off)
		} else if next >= 0 && first != next {
			return 0, fmt.Errorf("log segment[%d] starts at leaf %d, want %d: %w", first, first, next, ErrCorrupt)
		}
		for {
			rfirst, entries, n, ok := parseRecord(b[off:])
			if !ok {
				break
			}
			if next < 0 && rfirst > from || next >= 0 && rfirst != next {
				return 0, fmt.Errorf("log segment[%d] offset %d: record of leaf %d, want %d: %w", first, off, rfirst, max(next, from), ErrCorrupt)
			}
			pos, index := off+segHeaderSize, rfirst
			for k, e := range entries {
				pos += 1 + len(e.id) + 1 + len(e.tool) + 4
				if index >= from {
					rec := recordSpan{off: int64(off), end: int64(off + n), last: k == len(entries)-1}
					if err := fn(index, e, entryPos{seg: first, off: uint32(pos), n: uint32(len(e.val))}, rec); err != nil {
						return 0, err
					}
				}
				pos += len(e.val)
				index++
			}
			next = index
			off += n
		}
		last := i == len(s.firsts)-1
		if !last && off != len(b) && !allZero(b[off:]) {
			return 0, fmt.Errorf("log segment[%d]: unreadable record at offset %d before the last segment: %w", first, off, ErrCorrupt)
		}
		if next < 0 {
			next = max(first, from) // an empty tail: the next record, here or in the next segment, starts at from
		}
		if last {
			if err := s.resume(first, int64(off), int64(len(b))); err != nil {
				return 0, err
			}
		}
	}
	if next < from {
		return 0, fmt.Errorf("log segments end at leaf %d, the database indexes up to %d: %w", next, from, ErrCorrupt)
	}
	return next, nil
}

// recordSpan is where an entry's record is in its segment, and whether the entry is its record's last.
type recordSpan struct {
	off, end int64
	last     bool
}

// resume makes the last segment the one being written, from off, cutting what follows (zeros, a torn record,
// unused allocation).
func (s *segments) resume(first, off, size int64) error {
	f, err := os.OpenFile(s.path(first), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if size != off {
		if err := f.Truncate(off); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	s.w, s.wSeg, s.wOff, s.wSize, s.wZero = f, first, off, off, off
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// parseRecord reads one record from the start of b; ok is false if there is no whole, valid one.
func parseRecord(b []byte) (first int64, entries []segEntry, n int, ok bool) {
	if len(b) < segHeaderSize || binary.BigEndian.Uint32(b) != segMagic {
		return 0, nil, 0, false
	}
	plen := int(binary.BigEndian.Uint32(b[8:]))
	if len(b)-segHeaderSize < plen {
		return 0, nil, 0, false
	}
	n = segHeaderSize + plen
	if crc32.Checksum(b[8:n], crcTable) != binary.BigEndian.Uint32(b[4:]) {
		return 0, nil, 0, false
	}
	first = int64(binary.BigEndian.Uint64(b[12:]))
	count := int(binary.BigEndian.Uint32(b[20:]))
	p := b[segHeaderSize:n]
	for range count {
		var e segEntry
		var ok bool
		if e.id, p, ok = cutString8(p); !ok {
			return 0, nil, 0, false
		}
		if e.tool, p, ok = cutString8(p); !ok {
			return 0, nil, 0, false
		}
		if len(p) < 4 || len(p)-4 < int(binary.BigEndian.Uint32(p)) {
			return 0, nil, 0, false
		}
		vlen := int(binary.BigEndian.Uint32(p))
		e.val, p = p[4:4+vlen:4+vlen], p[4+vlen:]
		entries = append(entries, e)
	}
	if len(p) != 0 || first < 0 {
		return 0, nil, 0, false
	}
	return first, entries, n, true
}

func cutString8(p []byte) (string, []byte, bool) {
	if len(p) < 1 || len(p)-1 < int(p[0]) {
		return "", nil, false
	}
	n := int(p[0])
	return string(p[1 : 1+n]), p[1+n:], true
}

// encodeRecord builds the record of entries numbered from first, and the offset of each value in it, in buf's
// memory if it is big enough.
func encodeRecord(buf []byte, first int64, batch []*appendReq) ([]byte, []int) {
	n := segHeaderSize
	for _, r := range batch {
		n += 1 + len(r.id) + 1 + len(r.tool) + 4 + len(r.val)
	}
	offs := make([]int, len(batch))
	b := buf[:0]
	if cap(b) < n {
		b = make([]byte, 0, n)
	}
	b = b[:segHeaderSize]
	for i, r := range batch {
		b = append(b, byte(len(r.id)))
		b = append(b, r.id...)
		b = append(b, byte(len(r.tool)))
		b = append(b, r.tool...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(r.val)))
		offs[i] = len(b)
		b = append(b, r.val...)
	}
	binary.BigEndian.PutUint32(b, segMagic)
	binary.BigEndian.PutUint32(b[8:], uint32(n-segHeaderSize))
	binary.BigEndian.PutUint64(b[12:], uint64(first))
	binary.BigEndian.PutUint32(b[20:], uint32(len(batch)))
	binary.BigEndian.PutUint32(b[4:], crc32.Checksum(b[8:], crcTable))
	return b, offs
}

// append writes the record of batch, numbered from first, syncs it, and sets each request's position.
// Committer only.
func (s *segments) append(first int64, batch []*appendReq) error {
	rec, offs := encodeRecord(s.buf, first, batch)
	if cap(rec) <= maxRecordBuf {
		s.buf = rec // reused by the next record: the file has the bytes once written
	}
	need := int64(len(rec))
	switch {
	case s.w != nil && s.wOff+need <= s.wSize:
	case s.w != nil && s.wOff+need <= max(segmentBytes, s.wSize):
		// Room left in this segment's allotment: allocate it.
		if err := allocate(s.w, s.wOff, max(segmentBytes, s.wSize)-s.wOff); err != nil {
			return fmt.Errorf("log segment allocate: %w", err)
		}
		s.wSize = max(segmentBytes, s.wSize)
	default:
		if err := s.rotate(first, need); err != nil {
			return err
		}
	}
	if _, err := s.w.WriteAt(rec, s.wOff); err != nil {
		return fmt.Errorf("log segment write: %w", err)
	}
	if end := s.wOff + need; end > s.wZero {
		// Zeros from the record's end to the next zeroChunk boundary, synced with the record.
		z := min(s.wSize, (end+zeroChunk)&^(zeroChunk-1))
		if err := writeZeros(s.w, end, z-end); err != nil {
			return fmt.Errorf("log segment write: %w", err)
		}
		s.wZero = z
	}
	if err := s.sync.sync(s.w); err != nil {
		return fmt.Errorf("log segment sync: %w", err)
	}
	for i, r := range batch {
		r.pos = entryPos{seg: s.wSeg, off: uint32(s.wOff) + uint32(offs[i]), n: uint32(len(r.val))}
		r.rec = recordSpan{off: s.wOff, end: s.wOff + need, last: i == len(batch)-1}
	}
	s.wOff += need
	return nil
}

// rotate seals the segment being written and starts one for leaves from first.
func (s *segments) rotate(first, need int64) error {
	size := max(segmentBytes, need)
	f, err := os.OpenFile(s.path(first), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("log segment: %w", err)
	}
	if err := allocate(f, 0, size); err != nil {
		f.Close()
		return fmt.Errorf("log segment allocate: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		return err
	}
	if err := s.seal(); err != nil {
		f.Close()
		return err
	}
	s.w, s.wSeg, s.wOff, s.wSize, s.wZero = f, first, 0, size, 0
	s.mu.Lock()
	s.firsts = append(s.firsts, first)
	s.mu.Unlock()
	return nil
}

// seal truncates the segment being written to what it holds, syncs it and closes it.
func (s *segments) seal() error {
	if s.w == nil {
		return nil
	}
	f := s.w
	s.w = nil
	err := f.Truncate(s.wOff)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// read returns the bytes at pos; nil, nil when the segment does not hold them (it is missing or shorter).
// Reads hold the lock, so that a reader is not closed under them; they are few and short.
func (s *segments) read(pos entryPos) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.reader(pos.seg)
	if f == nil || err != nil {
		return nil, err
	}
	b := make([]byte, pos.n)
	if n, err := f.ReadAt(b, int64(pos.off)); n < len(b) {
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return nil, err
	}
	return b, nil
}

// reader returns an open segment; s.mu is held.
func (s *segments) reader(first int64) (*os.File, error) {
	if f, ok := s.readers[first]; ok {
		return f, nil
	}
	f, err := os.Open(s.path(first))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(s.readers) >= maxReaders {
		for k, old := range s.readers { // any will do: reads cluster on recent segments
			old.Close()
			delete(s.readers, k)
			break
		}
	}
	s.readers[first] = f
	return f, nil
}

// close seals the segment being written and closes the readers.
func (s *segments) close() error {
	errs := []error{s.seal()}
	s.sync.close()
	s.mu.Lock()
	for k, f := range s.readers {
		errs = append(errs, f.Close())
		delete(s.readers, k)
	}
	s.mu.Unlock()
	return errors.Join(errs...)
}

// writeZeros writes n zeros into f from off.
func writeZeros(f *os.File, off, n int64) error {
	for done := int64(0); done < n; done += zeroChunk {
		if _, err := f.WriteAt(zeros[:min(zeroChunk, n-done)], off+done); err != nil {
			return err
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}
