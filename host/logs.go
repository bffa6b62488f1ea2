package host

import (
	"strings"
	"sync"
	"unicode/utf8"
)

// Log capture defaults, used by NewLogRecorder for arguments ≤ 0.
const (
	// DefaultMaxLogLines is how many log lines of one call are kept.
	DefaultMaxLogLines = 100
	// DefaultMaxLogLineBytes is how many bytes of one log line are kept; the rest is cut at a UTF-8 boundary.
	DefaultMaxLogLineBytes = 1024
)

// LogLine is one guest log line as kept for a call's result.
type LogLine struct {
	Level   string `json:"level"` // "trace", "debug", "info", "warn" or "error"
	Message string `json:"message"`
}

// LogRecorder captures the log lines of one call with caps: it keeps the first MaxLines lines, each cut to
// MaxLineBytes, and counts every line, kept or not. It is safe for concurrent use; the zero value is not usable,
// make one with NewLogRecorder.
type LogRecorder struct {
	maxLines, maxLineBytes int

	mu    sync.Mutex
	lines []LogLine
	count int
}

// NewLogRecorder returns a recorder that keeps at most maxLines lines of at most maxLineBytes bytes each.
// Arguments ≤ 0 take DefaultMaxLogLines and DefaultMaxLogLineBytes.
func NewLogRecorder(maxLines, maxLineBytes int) *LogRecorder {
	if maxLines <= 0 {
		maxLines = DefaultMaxLogLines
	}
	if maxLineBytes <= 0 {
		maxLineBytes = DefaultMaxLogLineBytes
	}
	return &LogRecorder{maxLines: maxLines, maxLineBytes: maxLineBytes}
}

// Log records one line. Invalid UTF-8 is replaced, so a line is always safe to put in JSON.
func (r *LogRecorder) Log(level, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.count++
	if len(r.lines) >= r.maxLines {
		return
	}
	r.lines = append(r.lines, LogLine{Level: level, Message: Truncate(message, r.maxLineBytes)})
}

// Lines returns a copy of the kept lines, oldest first.
func (r *LogRecorder) Lines() []LogLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lines) == 0 {
		return nil
	}
	return append([]LogLine(nil), r.lines...)
}

// Count returns how many lines were logged, including those over the cap.
func (r *LogRecorder) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}

// Truncate returns s as valid UTF-8 of at most max bytes, cut at a rune boundary.
func Truncate(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
