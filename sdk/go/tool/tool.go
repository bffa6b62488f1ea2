//go:build wasip1

// Package tool is the Go kit for writing a Toolgate tool: an Extism-ABI plugin built with the standard Go
// toolchain (Go 1.24+):
//
//	//go:wasmexport run
//	func run() int32 {
//		var in struct{ Name string }
//		if err := tool.InputJSON(&in); err != nil {
//			return tool.Fail("want {\"name\": …}")
//		}
//		tool.OutputString("Hello, " + in.Name + "!")
//		return 0
//	}
//
//	func main() {}
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o tool.wasm .
//
// (-buildmode=c-shared makes a reactor module whose _initialize the host calls once; without it the Go runtime
// is not initialized when an export is called and the call traps.) The kit builds on github.com/extism/go-pdk,
// which it re-exports nothing of: a tool needs only this package. Each call runs in a fresh sandbox, so package
// state never carries over from one call to the next.
package tool

import (
	"fmt"

	"github.com/extism/go-pdk"
)

// Input returns the call's input bytes.
func Input() []byte { return pdk.Input() }

// InputString returns the call's input as a string (the bytes as they are; see ValidUTF8).
func InputString() string { return string(pdk.Input()) }

// InputJSON decodes the call's input, a JSON document, into v.
func InputJSON(v any) error { return UnmarshalJSON(pdk.Input(), v) }

// Output sets the call's output. The last call wins.
func Output(b []byte) { pdk.Output(b) }

// OutputString sets the call's output to the UTF-8 bytes of s.
func OutputString(s string) { pdk.Output([]byte(s)) }

// OutputJSON sets the call's output to v as compact JSON, without HTML escaping and without a trailing newline.
func OutputJSON(v any) error {
	b, err := MarshalJSON(v)
	if err != nil {
		return err
	}
	pdk.Output(b)
	return nil
}

// Fail sets msg as the call's error message and returns 1, so an export can end with `return tool.Fail("…")`.
// The call's status is then tool_error, and the caller sees msg.
func Fail(msg string) int32 {
	pdk.SetErrorString(msg)
	return 1
}

// Failf is Fail with a format.
func Failf(format string, args ...any) int32 { return Fail(fmt.Sprintf(format, args...)) }

// Config returns the value of a config key from the tool's version document ("config"), and whether it is set.
// An empty value reads as not set (the ABI does not tell them apart).
func Config(key string) (string, bool) { return pdk.GetConfig(key) }

// Level is a log level.
type Level int

// Log levels. Toolgate keeps Info and above.
const (
	Debug Level = iota
	Info
	Warn
	Error
)

// Log writes one log line. Toolgate keeps the first lines of a call (a cap per call) and counts all of them in
// the receipt.
func Log(level Level, msg string) {
	l := pdk.LogInfo
	switch level {
	case Debug:
		l = pdk.LogDebug
	case Warn:
		l = pdk.LogWarn
	case Error:
		l = pdk.LogError
	}
	pdk.Log(l, msg)
}

// Logf is Log with a format.
func Logf(level Level, format string, args ...any) { Log(level, fmt.Sprintf(format, args...)) }

// Request is an HTTP request sent through Toolgate's network door.
type Request struct {
	Method string            // default GET
	URL    string            // absolute; https unless the grant says http
	Header map[string]string // values may hold Secret placeholders
	Body   []byte            // may hold Secret placeholders
}

// Response is what the door returns.
type Response struct {
	Status int
	Body   []byte
}

// Send sends req through the network door. The door lets it out only to a destination the version's grants
// allow, fills in the {{secret:NAME}} placeholders granted for that host, and masks the secrets' values in the
// response before the tool sees it. Every attempt, allowed or refused, is a line of the call's receipt; a refused
// request ends the call (today with status trap).
func Send(req Request) Response {
	m := pdk.MethodGet
	switch req.Method {
	case "", "GET":
	case "HEAD":
		m = pdk.MethodHead
	case "POST":
		m = pdk.MethodPost
	case "PUT":
		m = pdk.MethodPut
	case "PATCH":
		m = pdk.MethodPatch
	case "DELETE":
		m = pdk.MethodDelete
	case "OPTIONS":
		m = pdk.MethodOptions
	default:
		panic("tool: unsupported HTTP method " + req.Method)
	}
	r := pdk.NewHTTPRequest(m, req.URL)
	for k, v := range req.Header {
		r.SetHeader(k, v)
	}
	if len(req.Body) > 0 {
		r.SetBody(req.Body)
	}
	resp := r.Send()
	return Response{Status: int(resp.Status()), Body: resp.Body()}
}
