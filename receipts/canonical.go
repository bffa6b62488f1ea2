package receipts

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// The canonical form of a receipt is what internal/canonjson makes of it (keys sorted at every level, no
// insignificant whitespace, numbers as encoding/json writes them, no HTML escaping, invalid UTF-8 replaced by
// U+FFFD). Receipts are encoded on every call, and canonjson's generic route — encode, decode into maps, encode
// again — cost a tenth of a small call's CPU; even encoding/json's reflection on a mirror struct cost several
// microseconds. So receipts are written by hand, field by field in key order, with encoding/json's own rules
// for strings and numbers. Tests check that the fields written are exactly the receipt's, and that the bytes
// equal canonjson's, also under fuzzing.

var errBadFloat = errors.New("json: unsupported value: NaN or infinite number")

// canonical encodes r with started, r.StartedAt in UTC, as its start: Canonical neither changes r nor copies it.
// A nil HTTP or Secrets is written as [] or {}, as their empty values would be.
func (r *Receipt) canonical(started time.Time) ([]byte, error) {
	b := make([]byte, 0, 1024+len(r.Error)+160*len(r.HTTP)+64*len(r.Secrets)) // a receipt is 600-900 bytes
	b = append(b, `{"cost":`...)
	var err error
	if b, err = appendFloat(b, r.Cost); err != nil {
		return nil, err
	}
	b = appendField(b, "error", r.Error)
	b = append(b, `,"fuel":`...)
	if r.Fuel == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"limit":`...)
		b = strconv.AppendUint(b, r.Fuel.Limit, 10)
		b = append(b, `,"used":`...)
		b = strconv.AppendUint(b, r.Fuel.Used, 10)
		b = append(b, '}')
	}
	b = append(b, `,"http":[`...)
	for i, h := range r.HTTP {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"bytes_in":`...)
		b = strconv.AppendInt(b, h.BytesIn, 10)
		b = append(b, `,"bytes_out":`...)
		b = strconv.AppendInt(b, h.BytesOut, 10)
		b = appendField(b, "decision", h.Decision)
		b = appendField(b, "host", h.Host)
		b = appendField(b, "method", h.Method)
		b = append(b, `,"ms":`...)
		b = strconv.AppendInt(b, h.MS, 10)
		b = appendField(b, "path", h.Path)
		if h.Reason != "" {
			b = appendField(b, "reason", h.Reason)
		}
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(h.Status), 10)
		b = append(b, '}')
	}
	b = append(b, ']')
	b = appendField(b, "id", r.ID)
	b = appendField(b, "idempotency_key", r.IdempotencyKey)
	b = append(b, `,"input":`...)
	b = appendBlob(b, r.Input)
	b = append(b, `,"logs":`...)
	b = strconv.AppendInt(b, int64(r.Logs), 10)
	b = appendField(b, "manifest", r.Manifest)
	b = append(b, `,"memory":{"limit_bytes":`...)
	b = strconv.AppendUint(b, r.Memory.LimitBytes, 10)
	b = append(b, `,"peak_bytes":`...)
	b = strconv.AppendUint(b, r.Memory.PeakBytes, 10)
	b = append(b, '}')
	b = appendField(b, "module", r.Module)
	b = append(b, `,"output":`...)
	b = appendBlob(b, r.Output)
	b = appendField(b, "principal", r.Principal)
	b = append(b, `,"secrets":{`...)
	b = appendStringMap(b, r.Secrets)
	b = append(b, `},"started_at":`...)
	if y := started.Year(); y < 0 || y > 9999 { // what time.Time.MarshalJSON refuses
		return nil, fmt.Errorf("started_at: year %d outside of [0,9999]", y)
	}
	b = append(started.AppendFormat(append(b, '"'), time.RFC3339Nano), '"')
	b = appendField(b, "status", r.Status)
	b = appendField(b, "tool", r.Tool)
	b = appendField(b, "version", r.Version)
	b = append(b, `,"wall_ns":`...)
	b = strconv.AppendInt(b, r.WallNS, 10)
	return append(b, '}'), nil
}

// appendField appends ,"key":"value".
func appendField(b []byte, key, val string) []byte {
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":`...)
	return appendString(b, val)
}

func appendBlob(b []byte, bl Blob) []byte {
	b = append(b, `{"bytes":`...)
	b = strconv.AppendInt(b, bl.Bytes, 10)
	b = appendField(b, "sha256", bl.SHA256)
	return append(b, '}')
}

// appendStringMap writes a map's members in key order. Keys that become equal once their invalid UTF-8 is
// replaced keep the value of the last in byte order, as decoding the encoding/json form of the map would.
func appendStringMap(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	clean := true
	for k := range m {
		keys = append(keys, k)
		clean = clean && utf8.ValidString(k)
	}
	slices.Sort(keys)
	if !clean {
		merged := make(map[string]string, len(m))
		for _, k := range keys {
			merged[validUTF8(k)] = m[k]
		}
		return appendStringMap(b, merged)
	}
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return b
}

// validUTF8 replaces each byte of invalid UTF-8 with U+FFFD.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return string(b)
}

const hexDigits = "0123456789abcdef"

// plainASCII marks the ASCII bytes a JSON string holds as they are: not a control character, '"' or '\\'.
var plainASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString writes s as encoding/json does with HTML escaping off, except that a byte of invalid UTF-8
// becomes the character U+FFFD, not its escape: the form canonjson's decode and re-encode leave.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if plainASCII[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = utf8.AppendRune(b, utf8.RuneError)
		case c == '\u2028' || c == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendFloat writes f as encoding/json does: like ES6's number to string, 'f' format except for very small or
// big magnitudes.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, errBadFloat
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 → e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}
