package receipts

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// The canonical form of a receipt is what internal/canonjson makes of it (keys sorted at every level, no
// insignificant whitespace, numbers as encoding/json writes them, no HTML escaping). Receipts are encoded on every
// call, and canonjson's generic route — encode, decode into maps, encode again — cost a tenth of a small call's
// CPU, so receipts take a direct route: mirrors of the receipt's types whose fields are declared in the order of
// their sorted JSON keys, which encoding/json then writes in one pass. Tests check that the mirrors have exactly
// the fields of the types they mirror and that the bytes equal canonjson's, also under fuzzing.

type canonBlob struct {
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

type canonHTTPLine struct {
	BytesIn  int64  `json:"bytes_in"`
	BytesOut int64  `json:"bytes_out"`
	Decision string `json:"decision"`
	Host     string `json:"host"`
	Method   string `json:"method"`
	MS       int64  `json:"ms"`
	Path     string `json:"path"`
	Reason   string `json:"reason,omitempty"`
	Status   int    `json:"status"`
}

type canonReceipt struct {
	Cost           float64           `json:"cost"`
	Error          string            `json:"error"`
	Fuel           *Fuel             `json:"fuel"` // limit, used: already in order
	HTTP           []canonHTTPLine   `json:"http"`
	ID             string            `json:"id"`
	IdempotencyKey string            `json:"idempotency_key"`
	Input          canonBlob         `json:"input"`
	Logs           int               `json:"logs"`
	Manifest       string            `json:"manifest"`
	Memory         Memory            `json:"memory"` // limit_bytes, peak_bytes: already in order
	Module         string            `json:"module"`
	Output         canonBlob         `json:"output"`
	Principal      string            `json:"principal"`
	Secrets        map[string]string `json:"secrets"`
	StartedAt      time.Time         `json:"started_at"`
	Status         string            `json:"status"`
	Tool           string            `json:"tool"`
	Version        string            `json:"version"`
	WallNS         int64             `json:"wall_ns"`
}

// valid replaces each byte of invalid UTF-8 with U+FFFD as the raw character: encoding/json would write the
// escape \ufffd, which canonjson's decode and re-encode turn into the raw character.
func valid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func canonBlobOf(b Blob) canonBlob { return canonBlob{Bytes: b.Bytes, SHA256: valid(b.SHA256)} }

// canonical encodes r, whose StartedAt is already UTC and whose HTTP and Secrets are not nil.
func (r *Receipt) canonical() ([]byte, error) {
	c := canonReceipt{
		Cost: r.Cost, Error: valid(r.Error), Fuel: r.Fuel, HTTP: make([]canonHTTPLine, len(r.HTTP)),
		ID: valid(r.ID), IdempotencyKey: valid(r.IdempotencyKey), Input: canonBlobOf(r.Input), Logs: r.Logs,
		Manifest: valid(r.Manifest), Memory: r.Memory, Module: valid(r.Module), Output: canonBlobOf(r.Output),
		Principal: valid(r.Principal), Secrets: r.Secrets, StartedAt: r.StartedAt, Status: valid(r.Status),
		Tool: valid(r.Tool), Version: valid(r.Version), WallNS: r.WallNS,
	}
	for i, h := range r.HTTP {
		c.HTTP[i] = canonHTTPLine{BytesIn: h.BytesIn, BytesOut: h.BytesOut, Decision: valid(h.Decision),
			Host: valid(h.Host), Method: valid(h.Method), MS: h.MS, Path: valid(h.Path), Reason: valid(h.Reason),
			Status: h.Status}
	}
	for k, v := range r.Secrets {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			c.Secrets = make(map[string]string, len(r.Secrets))
			for k, v := range r.Secrets {
				c.Secrets[valid(k)] = valid(v)
			}
			break
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&c); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
