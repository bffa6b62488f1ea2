// Package spec holds the conformance behaviours that do not touch the host (plugins/conformance/README.md),
// shared by the Go conformance tool and its WASI-command variant.
package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// Split splits an input into its command (up to the first space or newline) and argument (the rest).
func Split(in []byte) (cmd string, arg []byte) {
	i := bytes.IndexAny(in, " \n")
	if i < 0 {
		return string(in), nil
	}
	return string(in[:i]), in[i+1:]
}

// Upper maps a–z and U+00E0–U+00FE (but U+00F7) to their capitals; arg must be valid UTF-8.
func Upper(arg []byte) ([]byte, error) {
	if !utf8.Valid(arg) {
		return nil, errors.New("upper: input is not valid UTF-8")
	}
	out := []rune(string(arg))
	for i, r := range out {
		if r >= 'a' && r <= 'z' || r >= 0xE0 && r <= 0xFE && r != 0xF7 {
			out[i] = r - 0x20
		}
	}
	return []byte(string(out)), nil
}

// Greeting is the json command's output.
type Greeting struct {
	Greeting string `json:"greeting"`
	Length   int    `json:"length"`
}

// ErrJSON is the json command's error.
var ErrJSON = errors.New(`json: want an object with a string "name"`)

// Greet reads {"name": "…"} and greets the name.
func Greet(arg []byte) (Greeting, error) {
	var in map[string]json.RawMessage
	if err := json.Unmarshal(arg, &in); err != nil || in == nil {
		return Greeting{}, ErrJSON
	}
	var name string
	if raw, ok := in["name"]; !ok || json.Unmarshal(raw, &name) != nil || raw[0] != '"' {
		return Greeting{}, ErrJSON
	}
	return Greeting{Greeting: "Hello, " + name + "!", Length: len(name)}, nil
}

// Marshal is json.Marshal without HTML escaping, as every kit writes JSON.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Big returns n bytes of a, b, …, z, a, … for the decimal size in arg.
func Big(arg []byte) ([]byte, error) {
	n, err := strconv.Atoi(string(arg))
	if err != nil || len(arg) == 0 || len(arg) > 9 || arg[0] < '0' || arg[0] > '9' {
		return nil, errors.New("big: want a decimal size")
	}
	out := make([]byte, n)
	for i := range out {
		out[i] = byte('a' + i%26)
	}
	return out, nil
}

// ErrorMessage is the error command's message.
func ErrorMessage(arg []byte) string {
	if len(arg) == 0 {
		return "error"
	}
	return string(arg)
}
