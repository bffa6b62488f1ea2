// Package canonjson encodes JSON canonically: object keys sorted, no insignificant whitespace, numbers kept as
// written, HTML characters not escaped. Receipts and version documents are hashed in this form.
package canonjson

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Canonical re-encodes one JSON value canonically. Trailing data after the value is an error.
func Canonical(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after JSON value")
	}
	return encode(v)
}

// Marshal encodes v with encoding/json and then canonically, so struct fields come out sorted too.
func Marshal(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return Canonical(raw)
}

// encode writes a decoded value: encoding/json sorts map keys and writes no insignificant whitespace.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
