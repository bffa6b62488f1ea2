package conformance_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toolgate/toolgate/host"
	"github.com/toolgate/toolgate/plugins/conformance"
	"github.com/toolgate/toolgate/plugins/pluginstest"
	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/runtime"
	"github.com/toolgate/toolgate/runtime/fuel"
)

// want is what one input must give, in every build.
type want struct {
	status string
	output []byte // compared when status is ok
	err    string // compared when status is not ok (and not a trap, whose message is the guest runtime's)
	logs   []host.LogLine
}

type testCase struct {
	name   string
	input  []byte
	config map[string]string
	want   want
	// cmd: the case runs in the WASI-command builds too (the command exists there, or the case is decided
	// before the guest runs).
	cmd bool
	// cmdOnly: the case runs in the WASI-command builds only.
	cmdOnly bool
}

func ok(out string) want { return want{status: receipts.StatusOK, output: []byte(out)} }

func toolErr(msg string) want { return want{status: receipts.StatusToolError, err: msg} }

// pattern is the output of "big n".
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

const mib = 1 << 20

func cases() []testCase {
	name := "Zoë \"Q\" \\ \n\t\x01 😀 <&>/"
	greeting := `{"greeting":"Hello, Zoë \"Q\" \\ \n\t\u0001 😀 <&>/!","length":` + fmt.Sprint(len(name)) + `}`
	bigEcho := bytes.Repeat([]byte("0123456789abcdef"), mib/16)[:mib-len("echo ")]
	return []testCase{
		{name: "echo", input: []byte("echo hello, world"), want: ok("hello, world"), cmd: true},
		{name: "echo/no argument", input: []byte("echo"), want: ok(""), cmd: true},
		{name: "echo/newline separator", input: []byte("echo\nline one\nline two\n"), want: ok("line one\nline two\n"), cmd: true},
		{name: "echo/invalid UTF-8 passes through", input: []byte("echo \xff\xfe\x00\xc0\xafok"), want: ok("\xff\xfe\x00\xc0\xafok"), cmd: true},
		{name: "echo/1 MiB input", input: append([]byte("echo "), bigEcho...), want: ok(string(bigEcho)), cmd: true},
		{name: "input over 1 MiB", input: make([]byte, mib+1),
			want: want{status: receipts.StatusInputTooLarge, err: fmt.Sprintf("input is %d bytes, over the limit of %d", mib+1, mib)}, cmd: true},
		{name: "empty input", input: nil, want: toolErr(`unknown command ""`), cmd: true},
		{name: "unknown command", input: []byte("frobnicate now"), want: toolErr(`unknown command "frobnicate"`), cmd: true},
		{name: "upper/multi-byte", input: []byte("upper héllo wörld àéîõü ÿ ß ÷ ✓ 😀 ǆ"),
			want: ok("HÉLLO WÖRLD ÀÉÎÕÜ ÿ ß ÷ ✓ 😀 ǆ"), cmd: true},
		{name: "upper/invalid UTF-8", input: []byte("upper abc\xff"), want: toolErr("upper: input is not valid UTF-8"), cmd: true},
		{name: "upper/overlong", input: []byte("upper \xc0\xaf"), want: toolErr("upper: input is not valid UTF-8"), cmd: true},
		{name: "upper/surrogate", input: []byte("upper \xed\xa0\x80"), want: toolErr("upper: input is not valid UTF-8"), cmd: true},
		{name: "upper/truncated", input: []byte("upper \xe2\x9c"), want: toolErr("upper: input is not valid UTF-8"), cmd: true},
		{name: "upper/past U+10FFFF", input: []byte("upper \xf4\x90\x80\x80"), want: toolErr("upper: input is not valid UTF-8"), cmd: true},
		{name: "json", input: []byte(`json {"name":"Ada"}`), want: ok(`{"greeting":"Hello, Ada!","length":3}`), cmd: true},
		{name: "json/escapes and other fields", cmd: true,
			input: []byte(`json  { "id": 7, "tags": ["a", {"name": 1}], "ok": true, "n": null, "x": -1.5e3,` +
				` "name" : "Zo\u00eb \"Q\" \\ \n\t\u0001 \ud83d\ude00 <&>\/" }`),
			want: ok(greeting)},
		{name: "json/not JSON", input: []byte(`json not json`), want: toolErr(`json: want an object with a string "name"`), cmd: true},
		{name: "json/name not a string", input: []byte(`json {"name":1}`), want: toolErr(`json: want an object with a string "name"`), cmd: true},
		{name: "json/not an object", input: []byte(`json ["name"]`), want: toolErr(`json: want an object with a string "name"`), cmd: true},
		{name: "json/no name", input: []byte(`json {}`), want: toolErr(`json: want an object with a string "name"`), cmd: true},
		{name: "error", input: []byte("error refund declined: insufficient funds"), want: toolErr("refund declined: insufficient funds"), cmd: true},
		{name: "error/multi-byte", input: []byte("error échec ✗ 😀"), want: toolErr("échec ✗ 😀"), cmd: true},
		{name: "error/no message", input: []byte("error"), want: toolErr("error"), cmd: true},
		{name: "config", input: []byte("config greeting"), config: map[string]string{"greeting": "Grüß dich", "other": "x"},
			want: ok("Grüß dich")},
		{name: "config/missing", input: []byte("config missing"), config: map[string]string{"greeting": "hi"},
			want: toolErr("config: missing is not set")},
		{name: "config/in a command", input: []byte("config greeting"), want: toolErr(`unknown command "config"`), cmd: true, cmdOnly: true},
		{name: "log", input: []byte("log starting\nhalfway ✓\ndone\nagain"), want: want{status: receipts.StatusOK, output: []byte("4"),
			logs: []host.LogLine{{Level: "info", Message: "starting"}, {Level: "warn", Message: "halfway ✓"},
				{Level: "error", Message: "done"}, {Level: "info", Message: "again"}}}},
		{name: "log/none", input: []byte("log"), want: ok("0")},
		{name: "big/zero", input: []byte("big 0"), want: ok(""), cmd: true},
		{name: "big/at the output cap", input: []byte(fmt.Sprint("big ", mib)), want: ok(string(pattern(mib))), cmd: true},
		{name: "big/over the output cap", input: []byte(fmt.Sprint("big ", mib+1)), want: want{status: receipts.StatusOutputLimit}, cmd: true},
		{name: "big/not a number", input: []byte("big lots"), want: toolErr("big: want a decimal size"), cmd: true},
		{name: "trap", input: []byte("trap"), want: want{status: receipts.StatusTrap}, cmd: true},
	}
}

// rt is the runtime every build runs in, with the runtime's default limits (1 MiB input and output).
var (
	rtOnce sync.Once
	rt     *runtime.Runtime
	rtErr  error
)

func testRuntime(t *testing.T) *runtime.Runtime {
	t.Helper()
	rtOnce.Do(func() { rt, rtErr = runtime.New(context.Background(), runtime.Config{}) })
	if rtErr != nil {
		t.Fatal(rtErr)
	}
	return rt
}

// load loads a build's module into the shared runtime, or skips (fails under CI=true) when it is not built.
func load(t *testing.T, b conformance.Build) string {
	t.Helper()
	return loadInto(t, testRuntime(t), b)
}

func loadInto(t *testing.T, r *runtime.Runtime, b conformance.Build) string {
	t.Helper()
	wasm := pluginstest.Built(t, b.Name)
	info, err := r.Load(context.Background(), wasm)
	if err != nil {
		t.Fatalf("load %s: %v", b.Name, err)
	}
	if info.ABI != b.ABI {
		t.Fatalf("%s: inferred ABI %q, want %q", b.Name, info.ABI, b.ABI)
	}
	return info.Digest
}

func invoke(t *testing.T, digest string, input []byte, config map[string]string) runtime.Result {
	t.Helper()
	return invokeIn(t, testRuntime(t), digest, input, config)
}

func invokeIn(t *testing.T, r *runtime.Runtime, digest string, input []byte, config map[string]string) runtime.Result {
	t.Helper()
	res, err := r.Invoke(context.Background(), runtime.Call{Module: digest, Input: input, Config: config,
		Limits: runtime.Limits{Timeout: time.Minute}})
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	return res
}

// TestConformance runs every case in every build and checks the receipt-relevant Result fields: status, output
// (and so the output digest and size), error message, log lines and count, and that no build touched the
// network door or claimed secrets it had no business with.
func TestConformance(t *testing.T) {
	runCases(t, testRuntime(t))
}

// TestConformance_Instrumented runs every case again on modules rewritten by the fuel instrumenter (with a
// budget no case exhausts): metering must not change what any build of any language does.
func TestConformance_Instrumented(t *testing.T) {
	if testing.Short() {
		t.Skip("instruments and recompiles every build")
	}
	opts := fuel.DefaultOptions()
	opts.InitialFuel = 1 << 62
	ctx := context.Background()
	r, err := runtime.New(ctx, runtime.Config{Transform: func(wasm []byte) ([]byte, error) {
		out, _, err := fuel.Instrument(wasm, opts)
		return out, err
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	runCases(t, r)
}

func runCases(t *testing.T, r *runtime.Runtime) {
	for _, b := range conformance.Builds {
		t.Run(b.Name, func(t *testing.T) {
			digest := loadInto(t, r, b)
			for _, tc := range cases() {
				if b.ABI == runtime.ABIWASICommand && !tc.cmd || b.ABI != runtime.ABIWASICommand && tc.cmdOnly {
					continue
				}
				t.Run(tc.name, func(t *testing.T) {
					res := invokeIn(t, r, digest, tc.input, tc.config)
					check(t, b, tc.want, res)
				})
			}
		})
	}
}

func check(t *testing.T, b conformance.Build, w want, res runtime.Result) {
	t.Helper()
	wantStatus := w.status
	if wantStatus == receipts.StatusTrap && b.GoPanics {
		wantStatus = receipts.StatusToolError
	}
	if res.Status != wantStatus {
		t.Fatalf("status: got %s (%q), want %s", res.Status, res.Error, wantStatus)
	}
	switch {
	case res.Status == receipts.StatusOK:
		if res.Error != "" {
			t.Errorf("error: got %q, want none", res.Error)
		}
		if !bytes.Equal(res.Output, w.output) {
			t.Errorf("output: got %q, want %q", short(res.Output), short(w.output))
		}
		if got, want := receipts.BlobOf(res.Output), receipts.BlobOf(w.output); got != want {
			t.Errorf("output blob: got %+v, want %+v", got, want)
		}
	case w.status == receipts.StatusTrap:
		if b.GoPanics && !strings.HasPrefix(res.Error, "panic: trap") {
			t.Errorf("error: got %q, want a Go panic", res.Error)
		}
		if res.Error == "" {
			t.Error("error: got none, want the trap's description")
		}
	case w.status == receipts.StatusOutputLimit:
		if !strings.Contains(res.Error, "over the limit of 1048576") {
			t.Errorf("error: got %q, want the output limit", res.Error)
		}
	default:
		if res.Error != w.err {
			t.Errorf("error: got %q, want %q", res.Error, w.err)
		}
	}
	if res.Status != receipts.StatusOK && res.Output != nil {
		t.Errorf("output: got %d bytes on a failed call, want none", len(res.Output))
	}
	if !equalLogs(res.Logs, w.logs) || res.LogCount != len(w.logs) {
		t.Errorf("logs: got %+v (count %d), want %+v", res.Logs, res.LogCount, w.logs)
	}
	if len(res.HTTP) != 0 || len(res.Secrets) != 0 {
		t.Errorf("doors: got http %+v, secrets %v; want none", res.HTTP, res.Secrets)
	}
	// Fuel differs from language to language; where the runtime meters it, it stays within its limit.
	if res.Fuel != nil && res.Fuel.Limit > 0 && res.Fuel.Used > res.Fuel.Limit {
		t.Errorf("fuel: used %d over the limit of %d", res.Fuel.Used, res.Fuel.Limit)
	}
}

func equalLogs(a, b []host.LogLine) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func short(b []byte) string {
	if len(b) > 64 {
		return fmt.Sprintf("%s… (%d bytes)", b[:64], len(b))
	}
	return string(b)
}

// TestConformance_HTTP sends "http URL" through the network door of every Extism build, to a loopback server
// with no grant: the door must refuse it before it reaches the server and record one denied line for the host
// in the result. The call then ends as a trap (the extism-sdk engine), or a tool_error, or the guest gets the
// door's 403 and outputs it. TestConformance_HTTPGranted is the allowed counterpart.
func TestConformance_HTTP(t *testing.T) {
	var hits sync.Map
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store(r.URL.Path, r.Header.Get("Authorization"))
		fmt.Fprint(w, "pong")
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	url := "http://" + ln.Addr().String() + "/ping"

	for _, b := range conformance.Builds {
		if b.ABI != runtime.ABIExtism {
			continue
		}
		t.Run(b.Name, func(t *testing.T) {
			// A policy that allows requests but grants none: what the door refuses is the destination.
			res, err := testRuntime(t).Invoke(context.Background(), runtime.Call{Module: load(t, b),
				Input: []byte("http " + url), Policy: host.Policy{MaxRequests: 4}, Limits: runtime.Limits{Timeout: time.Minute}})
			if err != nil {
				t.Fatalf("invoke: %v", err)
			}
			switch res.Status {
			case receipts.StatusTrap, receipts.StatusToolError:
				if !strings.Contains(res.Error, "denied") {
					t.Errorf("error: got %q, want it to say the request was denied", res.Error)
				}
			case receipts.StatusOK:
				// An engine may hand the guest the door's failure response instead (host.FailureResponse).
				if !strings.HasPrefix(string(res.Output), "403\n") {
					t.Errorf("output: got %q, want the door's 403", res.Output)
				}
			default:
				t.Fatalf("status: got %s (%q), want trap, tool_error, or ok with a 403", res.Status, res.Error)
			}
			if len(res.HTTP) != 1 || res.HTTP[0].Decision != "denied" || res.HTTP[0].Host != "127.0.0.1" ||
				res.HTTP[0].Path != "/ping" {
				t.Errorf("http lines: got %+v, want one denied line for 127.0.0.1/ping", res.HTTP)
			}
		})
	}
	hits.Range(func(k, v any) bool {
		t.Errorf("the loopback server was reached: %v (Authorization %q)", k, v)
		return true
	})
}

// TestConformance_FreshSandbox checks that nothing of one call is seen by the next in any build: the same input
// gives the same result twice, and an error leaves nothing behind for a following success.
func TestConformance_FreshSandbox(t *testing.T) {
	for _, b := range conformance.Builds {
		t.Run(b.Name, func(t *testing.T) {
			digest := load(t, b)
			for i := 0; i < 2; i++ {
				if res := invoke(t, digest, []byte("error first"), nil); res.Status != receipts.StatusToolError {
					t.Fatalf("error call: got %s", res.Status)
				}
				res := invoke(t, digest, []byte("echo again"), nil)
				if res.Status != receipts.StatusOK || string(res.Output) != "again" || res.Error != "" {
					t.Fatalf("echo after an error: got %s %q %q", res.Status, res.Output, res.Error)
				}
			}
		})
	}
}

// TestConformance_HTTPGranted sends "http URL" to a loopback server through a door that allows loopback egress,
// under a policy that grants the server's address and binds secret TOKEN to it: the request must reach the
// server with the secret substituted, the guest must see "200\n" and the body with the secret's value masked
// back to its placeholder, and the result must record one allowed line and the secret's use. The extism-sdk
// engine cannot send through the door (it can only use http.DefaultClient) and still denies; for it the test
// checks that denial and says so.
func TestConformance_HTTPGranted(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		fmt.Fprint(w, "pong "+r.Header.Get("Authorization"))
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port

	door, err := host.NewDoor(host.DoorConfig{AllowPrivateEgress: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	defer door.Close()
	ctx := context.Background()
	r, err := runtime.New(ctx, runtime.Config{Door: door})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	policy := host.Policy{
		HTTP:        []host.HTTPGrant{{Host: "127.0.0.1", Scheme: "http", Ports: []int{port}, Methods: []string{"GET"}}},
		Secrets:     []host.SecretGrant{{Name: "TOKEN", Hosts: []string{"127.0.0.1"}}},
		MaxRequests: 4,
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/ping", port)

	for _, b := range conformance.Builds {
		if b.ABI != runtime.ABIExtism {
			continue
		}
		t.Run(b.Name, func(t *testing.T) {
			info, err := r.Load(ctx, pluginstest.Built(t, b.Name))
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			seen = nil
			mu.Unlock()
			res, err := r.Invoke(ctx, runtime.Call{Module: info.Digest, Input: []byte("http " + url), Policy: policy,
				Secrets: host.SecretMap{"TOKEN": []byte("s3cret-value")}, Limits: runtime.Limits{Timeout: time.Minute}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != receipts.StatusOK && len(res.HTTP) == 1 && res.HTTP[0].Decision == "denied" {
				if len(seen) != 0 {
					t.Errorf("denied, yet the server saw %q", seen)
				}
				t.Fatalf("the native engine did not send through the door: %s (%s)", res.Status, res.Error)
			}
			if res.Status != receipts.StatusOK {
				t.Fatalf("status: got %s (%q), want ok; http %+v", res.Status, res.Error, res.HTTP)
			}
			if want := "200\npong Bearer {{secret:TOKEN}}"; string(res.Output) != want {
				t.Errorf("output: got %q, want %q (the secret masked in the response)", res.Output, want)
			}
			if want := []string{"GET /ping Bearer s3cret-value"}; fmt.Sprint(seen) != fmt.Sprint(want) {
				t.Errorf("server saw %q, want %q", seen, want)
			}
			if len(res.HTTP) != 1 || res.HTTP[0].Decision != "allowed" || res.HTTP[0].Status != 200 {
				t.Errorf("http lines: got %+v, want one allowed line with status 200", res.HTTP)
			}
			if res.Secrets["TOKEN"] != "127.0.0.1" {
				t.Errorf("secrets: got %v, want TOKEN sent to 127.0.0.1", res.Secrets)
			}
		})
	}
}
