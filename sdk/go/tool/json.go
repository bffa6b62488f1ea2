package tool

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Secret returns the placeholder for secret name, "{{secret:NAME}}", to put in a Request's header values or
// body. The tool never sees the secret's value: the network door substitutes it for a granted destination.
func Secret(name string) string { return "{{secret:" + name + "}}" }

// MarshalJSON is json.Marshal without HTML escaping (<, > and & stay as they are), the encoding every Toolgate
// kit writes.
func MarshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON is json.Unmarshal.
func UnmarshalJSON(b []byte, v any) error { return json.Unmarshal(b, v) }

// ValidUTF8 reports whether b is valid UTF-8.
func ValidUTF8(b []byte) bool { return utf8.Valid(b) }
