package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toolgate/toolgate/host"
	"github.com/toolgate/toolgate/plugins"
	"github.com/toolgate/toolgate/plugins/pluginstest"
	"github.com/toolgate/toolgate/receipts"
)

// The tests share one Runtime with a disk cache in a temporary directory that the restart test reopens.
// Compiling a Go plugin takes a second or two, so TestMain starts loading the built ones in the background.
var (
	testCacheDir string
	testRT       *Runtime
	coldLoads    sync.Map // plugin name → time.Duration of its first (uncached) Load
	preloading   sync.WaitGroup
)

// preload loads the built Go plugins concurrently; a test's Load of the same bytes waits for it.
func preload() {
	for _, name := range []string{"hello", "wc"} {
		b, err := os.ReadFile(filepath.Join(pluginstest.Dir(), name+".wasm"))
		if err != nil {
			continue // not built: the tests that need it skip
		}
		preloading.Add(1)
		go func() {
			defer preloading.Done()
			start := time.Now()
			if _, err := testRT.Load(context.Background(), b); err == nil {
				coldLoads.Store(name, time.Since(start))
			}
		}()
	}
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "toolgate-runtime-test-")
	if err != nil {
		panic(err)
	}
	testCacheDir = dir
	testRT, err = New(context.Background(), Config{CacheDir: dir})
	if err != nil {
		panic(err)
	}
	flag.Parse()
	// Fuzz workers need no Go plugins, and benchmarks must not share the machine with a background compile.
	if flag.Lookup("test.fuzz").Value.String() == "" && flag.Lookup("test.bench").Value.String() == "" {
		preload()
	}
	code := m.Run()
	_ = testRT.Close(context.Background())
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// load loads b into the shared runtime and returns its digest.
func load(t testing.TB, b []byte) string {
	t.Helper()
	info, err := testRT.Load(context.Background(), b)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return info.Digest
}

// small limits keep the failing cases fast.
var small = Limits{MemoryBytes: 16 << 20, Timeout: 200 * time.Millisecond, MaxInputBytes: 1 << 16, MaxOutputBytes: 1 << 16}

func le64s(vals ...uint64) []byte {
	var b []byte
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

type invokeCase struct {
	name       string
	module     []byte // nil: skipped (an unbuilt plugin)
	abi        ABI
	entry      string
	input      string
	config     map[string]string
	limits     Limits
	wantStatus string
	wantOutput *string // nil: not checked
	wantError  string  // substring of Result.Error
	notRun     bool    // the guest must not have been instantiated
}

func str(s string) *string { return &s }

func runCases(t *testing.T, cases []invokeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			digest := load(t, tc.module)
			lim := tc.limits
			if lim == (Limits{}) {
				lim = small
			}
			capBytes := fillLimits(lim, testRT.cfg.DefaultLimits).MemoryBytes
			before := testRT.sandboxes.Load()
			res, err := testRT.Invoke(context.Background(), Call{
				Module: digest, ABI: tc.abi, Entry: tc.entry, Input: []byte(tc.input), Config: tc.config, Limits: lim,
			})
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if res.Status != tc.wantStatus {
				t.Fatalf("status: got %s (%q), want %s", res.Status, res.Error, tc.wantStatus)
			}
			if tc.wantOutput != nil && string(res.Output) != *tc.wantOutput {
				t.Errorf("output: got %q, want %q", res.Output, *tc.wantOutput)
			}
			if !strings.Contains(res.Error, tc.wantError) {
				t.Errorf("error: got %q, want it to contain %q", res.Error, tc.wantError)
			}
			if (res.Status == receipts.StatusOK) != (res.Error == "") {
				t.Errorf("error %q with status %s: want an error exactly when the call failed", res.Error, res.Status)
			}
			if res.Status != receipts.StatusOK && res.Output != nil {
				t.Errorf("output %q with status %s: want none", res.Output, res.Status)
			}
			if ran := testRT.sandboxes.Load() != before; ran == tc.notRun {
				t.Errorf("sandbox started: got %v, want %v", ran, !tc.notRun)
			}
			if tc.notRun {
				return
			}
			if res.PeakMemoryBytes == 0 || res.PeakMemoryBytes > capBytes {
				t.Errorf("peak memory: got %d, want in (0, %d]", res.PeakMemoryBytes, capBytes)
			}
			if res.Wall <= 0 {
				t.Errorf("wall: got %s, want > 0", res.Wall)
			}
		})
	}
}

func TestRuntime_Invoke_WAT(t *testing.T) {
	w := plugins.WAT
	big := strings.Repeat("x", 100)
	runCases(t, []invokeCase{
		{name: "echo", module: w("echo"), input: "hello, sandbox", wantStatus: receipts.StatusOK, wantOutput: str("hello, sandbox")},
		{name: "echo empty", module: w("echo"), input: "", wantStatus: receipts.StatusOK, wantOutput: str("")},
		{name: "echo odd length", module: w("echo"), input: "0123456789abc", wantStatus: receipts.StatusOK, wantOutput: str("0123456789abc")},
		{name: "fail", module: w("fail"), wantStatus: receipts.StatusToolError, wantError: "refund declined: insufficient funds"},
		{name: "trap", module: w("trap"), wantStatus: receipts.StatusTrap, wantError: "unreachable"},
		{name: "loop times out", module: w("loop"), limits: Limits{Timeout: 50 * time.Millisecond},
			wantStatus: receipts.StatusTimeout, wantError: "timeout of 50ms"},
		{name: "grow hits the memory cap", module: w("grow"), limits: Limits{MemoryBytes: 4 << 20},
			wantStatus: receipts.StatusMemoryLimit, wantError: "memory limit of 4194304 bytes"},
		{name: "memory minimum over the cap", module: w("grow"), limits: Limits{MemoryBytes: 32 << 10},
			wantStatus: receipts.StatusMemoryLimit, wantError: "to start", notRun: true},
		// wazero grows the call stack to ~100 MB before it overflows: ~0.1 s alone, more under load.
		{name: "recursion", module: w("recurse"), limits: Limits{Timeout: 10 * time.Second},
			wantStatus: receipts.StatusTrap, wantError: "stack overflow"},
		// The door's refusal is an answer the guest may ignore, as this one does (TestRuntime_Invoke_HTTPDenied).
		{name: "http denied", module: w("http"), wantStatus: receipts.StatusOK, wantOutput: str("")},
		{name: "every extism import links", module: w("abi_all"), wantStatus: receipts.StatusOK, wantOutput: str("")},
		{name: "fresh sandbox", module: w("counter"), wantStatus: receipts.StatusOK, wantOutput: str(string(le64s(1, 1)))},
		{name: "input over the cap", module: w("echo"), input: big, limits: Limits{MaxInputBytes: 99},
			wantStatus: receipts.StatusInputTooLarge, wantError: "100 bytes", notRun: true},
		{name: "input at the cap", module: w("echo"), input: big, limits: Limits{MaxInputBytes: 100},
			wantStatus: receipts.StatusOK, wantOutput: str(big)},
		{name: "output over the cap", module: w("echo"), input: big, limits: Limits{MaxOutputBytes: 99},
			wantStatus: receipts.StatusOutputLimit, wantError: "over the limit of 99"},
		{name: "input larger than memory", module: w("echo"), input: strings.Repeat("y", 2<<20),
			limits:     Limits{MemoryBytes: 2 << 20, MaxInputBytes: 4 << 20, MaxOutputBytes: 4 << 20},
			wantStatus: receipts.StatusMemoryLimit, wantError: "input does not fit"},
		{name: "cmd echo", module: w("cmd_echo"), input: "via stdin", wantStatus: receipts.StatusOK, wantOutput: str("via stdin")},
		{name: "cmd echo large", module: w("cmd_echo"), input: big + big + big, wantStatus: receipts.StatusOK, wantOutput: str(big + big + big)},
		{name: "cmd exit code and stderr", module: w("cmd_exit"), wantStatus: receipts.StatusToolError, wantError: "boom: bad input"},
		{name: "cmd output over the cap", module: w("cmd_echo"), input: big, limits: Limits{MaxOutputBytes: 10},
			wantStatus: receipts.StatusOutputLimit, wantError: "limit of 10 bytes"},
		{name: "cmd memory minimum over the cap", module: w("cmd_echo"), limits: Limits{MemoryBytes: 32 << 10},
			wantStatus: receipts.StatusMemoryLimit, notRun: true},
		{name: "explicit extism abi", module: w("echo"), abi: ABIExtism, entry: "run", input: "x", wantStatus: receipts.StatusOK, wantOutput: str("x")},
	})
}

// built returns the Go plugin, or nil after skipping t.
func built(t testing.TB, name string) []byte { return pluginstest.Built(t, name) }

func TestRuntime_Invoke_GoHello(t *testing.T) {
	hello := built(t, "hello")
	lim := Limits{MemoryBytes: 32 << 20, Timeout: 2 * time.Second}
	runCases(t, []invokeCase{
		{name: "run", module: hello, input: `{"name":"Ada"}`, limits: lim,
			wantStatus: receipts.StatusOK, wantOutput: str(`{"greeting":"Hello, Ada!"}`)},
		{name: "run with config greeting", module: hello, input: `{"name":"Ada"}`, config: map[string]string{"greeting": "Bonjour"}, limits: lim,
			wantStatus: receipts.StatusOK, wantOutput: str(`{"greeting":"Bonjour, Ada!"}`)},
		{name: "run invalid json", module: hello, input: `{"name":`, limits: lim,
			wantStatus: receipts.StatusToolError, wantError: "invalid input"},
		{name: "echo", module: hello, entry: "echo", input: "bytes \x00\xff back", limits: lim,
			wantStatus: receipts.StatusOK, wantOutput: str("bytes \x00\xff back")},
		{name: "fail", module: hello, entry: "fail", limits: lim,
			wantStatus: receipts.StatusToolError, wantError: "refund declined: insufficient funds"},
		{name: "trap", module: hello, entry: "trap", limits: lim,
			wantStatus: receipts.StatusTrap, wantError: "panic: boom"},
		{name: "grow within the cap", module: hello, entry: "grow", input: "4", limits: lim,
			wantStatus: receipts.StatusOK, wantOutput: str("4")},
		{name: "grow past the cap", module: hello, entry: "grow", input: "64", limits: lim,
			wantStatus: receipts.StatusMemoryLimit},
		{name: "spin times out", module: hello, entry: "spin", limits: Limits{MemoryBytes: 32 << 20, Timeout: 100 * time.Millisecond},
			wantStatus: receipts.StatusTimeout},
		{name: "fresh sandbox", module: hello, entry: "count", limits: lim, wantStatus: receipts.StatusOK, wantOutput: str("1")},
		{name: "memory minimum over the cap", module: hello, limits: Limits{MemoryBytes: 1 << 20},
			wantStatus: receipts.StatusMemoryLimit, notRun: true},
	})
}

func TestRuntime_Invoke_Logs(t *testing.T) {
	digest := load(t, built(t, "hello"))
	res, err := testRT.Invoke(context.Background(), Call{Module: digest, Entry: "log"})
	if err != nil {
		t.Fatal(err)
	}
	want := []LogLine{{Level: "info", Message: "starting"}, {Level: "warn", Message: "halfway"}, {Level: "error", Message: "done"}}
	if res.Status != receipts.StatusOK || string(res.Output) != "ok" {
		t.Fatalf("got %s %q %q, want ok \"ok\"", res.Status, res.Output, res.Error)
	}
	if fmt.Sprint(res.Logs) != fmt.Sprint(want) || res.LogCount != 3 {
		t.Errorf("logs: got %v (count %d), want %v (count 3)", res.Logs, res.LogCount, want)
	}
}

// TestRuntime_Invoke_HTTPDenied: a runtime without a door refuses every request and records it; the guest gets
// the door's failure response, not a trap.
func TestRuntime_Invoke_HTTPDenied(t *testing.T) {
	digest := load(t, plugins.WAT("http"))
	for _, tc := range []struct {
		name   string
		policy host.Policy
		reason string
	}{
		{"no requests allowed", host.Policy{}, "request cap of 0 reached"},
		{"no grant", host.Policy{MaxRequests: 2}, "host example.com is not granted"},
		{"no door for a grant", host.Policy{MaxRequests: 2, HTTP: []host.HTTPGrant{{Host: "example.com"}}},
			"host example.com is not granted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := testRT.Invoke(context.Background(), Call{Module: digest, Limits: small, Policy: tc.policy})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != receipts.StatusOK {
				t.Errorf("status: got %s (%q), want ok", res.Status, res.Error)
			}
			for i := range res.HTTP {
				res.HTTP[i].MS = 0
			}
			want := []receipts.HTTPLine{{Method: "GET", Host: "example.com", Path: "/secret", Decision: "denied", Reason: tc.reason}}
			if fmt.Sprint(res.HTTP) != fmt.Sprint(want) {
				t.Errorf("http lines: got %+v, want %+v", res.HTTP, want)
			}
		})
	}
}

func TestRuntime_Invoke_GoWC(t *testing.T) {
	wc := built(t, "wc")
	lim := Limits{MemoryBytes: 32 << 20, Timeout: 2 * time.Second}
	runCases(t, []invokeCase{
		{name: "counts", module: wc, input: "hello world\nsecond line here\n", limits: lim,
			wantStatus: receipts.StatusOK, wantOutput: str(`{"lines":2,"words":5,"bytes":29}` + "\n")},
		{name: "empty", module: wc, limits: lim, wantStatus: receipts.StatusOK, wantOutput: str(`{"lines":0,"words":0,"bytes":0}` + "\n")},
		{name: "invalid utf-8", module: wc, input: "ok \xff\xfe", limits: lim,
			wantStatus: receipts.StatusToolError, wantError: "wc: input is not valid UTF-8"},
	})
}

func TestRuntime_Load_Invalid(t *testing.T) {
	echo := plugins.WAT("echo")
	tests := []struct {
		name       string
		wasm       []byte
		wantReason string
		tooLarge   bool
	}{
		{"unknown import", plugins.WAT("badimport"), `unknown import "env.nope"`, false},
		{"wrong import signature", plugins.WAT("badsig"), `"extism:host/env.alloc" has signature (i32)->(i32), want (i64)->(i64)`, false},
		{"imported memory", plugins.WAT("importmem"), `unsupported import "env.memory"`, false},
		{"not wasm", []byte("#!/bin/sh\necho hi\n"), "bad magic", false},
		{"empty", nil, "truncated", false},
		{"short", []byte("\x00as"), "truncated", false},
		{"bad version", []byte("\x00asm\x02\x00\x00\x00"), "version 2", false},
		{"truncated", echo[:len(echo)/2], "", false},
		{"too large", bytes.Repeat([]byte{0}, DefaultMaxModuleBytes+1), "module too large", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := testRT.Load(context.Background(), tc.wasm)
			if !errors.Is(err, ErrInvalidModule) {
				t.Fatalf("got %v, want ErrInvalidModule", err)
			}
			var me *ModuleError
			if !errors.As(err, &me) || !strings.Contains(me.Reason, tc.wantReason) {
				t.Errorf("reason: got %v, want it to contain %q", err, tc.wantReason)
			}
			if got := errors.Is(err, ErrModuleTooLarge); got != tc.tooLarge {
				t.Errorf("errors.Is(ErrModuleTooLarge): got %v, want %v", got, tc.tooLarge)
			}
		})
	}
}

func TestRuntime_Load_Info(t *testing.T) {
	info, err := testRT.Load(context.Background(), plugins.WAT("cmd_exit"))
	if err != nil {
		t.Fatal(err)
	}
	want := ModuleInfo{
		Digest:  Digest(plugins.WAT("cmd_exit")),
		Imports: []string{"wasi_snapshot_preview1.fd_write", "wasi_snapshot_preview1.proc_exit"},
		Exports: []string{"_start"},
		ABI:     ABIWASICommand,
	}
	if fmt.Sprint(info) != fmt.Sprint(want) {
		t.Errorf("got %+v, want %+v", info, want)
	}
}

func TestRuntime_Load_Concurrent(t *testing.T) {
	ctx := context.Background()
	r, err := New(ctx, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	wasm := plugins.WAT("echo")
	var wg sync.WaitGroup
	infos := make([]ModuleInfo, 16)
	errs := make([]error, 16)
	for i := range infos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			infos[i], errs[i] = r.Load(ctx, wasm)
		}()
	}
	wg.Wait()
	for i := range infos {
		if errs[i] != nil || fmt.Sprint(infos[i]) != fmt.Sprint(infos[0]) {
			t.Errorf("load %d: got %+v, %v; want %+v", i, infos[i], errs[i], infos[0])
		}
	}
	if n := len(r.modules); n != 1 {
		t.Errorf("modules cached: got %d, want 1", n)
	}
}

func TestRuntime_Invoke_Errors(t *testing.T) {
	ctx := context.Background()
	echo := load(t, plugins.WAT("echo"))
	tests := []struct {
		name string
		call Call
		want error
	}{
		{"not loaded", Call{Module: Digest([]byte("never loaded"))}, ErrNotLoaded},
		{"unknown entry", Call{Module: echo, Entry: "nope"}, ErrUnknownEntry},
		{"unknown abi", Call{Module: echo, ABI: "cgi"}, ErrUnknownABI},
		{"wasi command importing extism", Call{Module: echo, ABI: ABIWASICommand, Entry: "run"}, ErrUnknownABI},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := testRT.Invoke(ctx, tc.call); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}

	r, err := New(ctx, Config{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := r.Load(ctx, plugins.WAT("echo"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Invoke(ctx, Call{Module: info.Digest}); !errors.Is(err, ErrClosed) {
		t.Errorf("invoke after close: got %v, want ErrClosed", err)
	}
	if _, err := r.Load(ctx, plugins.WAT("echo")); !errors.Is(err, ErrClosed) {
		t.Errorf("load after close: got %v, want ErrClosed", err)
	}
}

func TestRuntime_Invoke_Canceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(30*time.Millisecond, cancel)
	res, err := testRT.Invoke(ctx, Call{Module: load(t, plugins.WAT("loop")), Limits: Limits{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != receipts.StatusTimeout || !strings.Contains(res.Error, "canceled") {
		t.Errorf("got %s %q, want timeout with \"canceled\"", res.Status, res.Error)
	}
}

func TestInferABI(t *testing.T) {
	tests := []struct {
		name string
		info ModuleInfo
		want ABI
	}{
		{"extism imports", ModuleInfo{Imports: []string{"extism:host/env.alloc"}, Exports: []string{"run"}}, ABIExtism},
		{"go std plugin: _start and extism imports", ModuleInfo{Imports: []string{"extism:host/env.alloc", "wasi_snapshot_preview1.fd_write"}, Exports: []string{"_start"}}, ABIExtism},
		{"wasi command", ModuleInfo{Imports: []string{"wasi_snapshot_preview1.fd_write"}, Exports: []string{"_start"}}, ABIWASICommand},
		{"_start, no imports", ModuleInfo{Exports: []string{"_start"}}, ABIWASICommand},
		{"pure function", ModuleInfo{Exports: []string{"run"}}, ABIExtism},
		{"nothing to call", ModuleInfo{}, ""},
		{"only _initialize", ModuleInfo{Exports: []string{"_initialize"}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := InferABI(tc.info); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	// And from real modules.
	for name, want := range map[string]ABI{"echo": ABIExtism, "trap": ABIExtism, "cmd_echo": ABIWASICommand} {
		info, err := testRT.Load(context.Background(), plugins.WAT(name))
		if err != nil || info.ABI != want {
			t.Errorf("%s: got %q, %v; want %q", name, info.ABI, err, want)
		}
	}
}

// TestRuntime_Hammer runs many concurrent calls with distinct inputs on the same modules: each must get its own
// output back.
func TestRuntime_Hammer(t *testing.T) {
	modules := []struct {
		digest string
		entry  string
	}{
		{load(t, plugins.WAT("echo")), ""},
		{load(t, plugins.WAT("cmd_echo")), ""},
	}
	perG := 20
	if hello, err := os.ReadFile(pluginstest.Dir() + "/hello.wasm"); err == nil {
		modules = append(modules, struct{ digest, entry string }{load(t, hello), "echo"})
		perG = 10
	}
	const goroutines = 24
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*perG)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perG; i++ {
				m := modules[(g+i)%len(modules)]
				in := fmt.Sprintf("goroutine %d call %d %s", g, i, strings.Repeat("z", g*i))
				res, err := testRT.Invoke(context.Background(), Call{Module: m.digest, Entry: m.entry, Input: []byte(in),
					Limits: Limits{Timeout: 10 * time.Second}})
				if err != nil || res.Status != receipts.StatusOK || string(res.Output) != in {
					errs <- fmt.Errorf("module %s: got %q %s %q %v, want %q", m.digest[:15], res.Output, res.Status, res.Error, err, in)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestRuntime_Restart shows a second Runtime on the same CacheDir loads from the disk cache.
func TestRuntime_Restart(t *testing.T) {
	wasm := built(t, "hello")
	ctx := context.Background()
	load(t, wasm) // compiled by the shared runtime into testCacheDir (TestMain's preload)
	entries, err := os.ReadDir(testCacheDir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("cache dir %s: got %d entries, %v; want some", testCacheDir, len(entries), err)
	}

	preloading.Wait()
	cold, ok := coldLoads.Load("hello")
	if !ok {
		t.Fatal("no cold load of hello recorded")
	}
	coldLoad := cold.(time.Duration)

	warm, err := New(ctx, Config{CacheDir: testCacheDir})
	if err != nil {
		t.Fatal(err)
	}
	defer warm.Close(ctx)
	start := time.Now()
	info, err := warm.Load(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	warmLoad := time.Since(start)
	t.Logf("load without cache %s, from the disk cache %s", coldLoad, warmLoad)
	if warmLoad >= coldLoad {
		t.Errorf("load from the disk cache took %s, not faster than %s without", warmLoad, coldLoad)
	}
	res, err := warm.Invoke(ctx, Call{Module: info.Digest, Input: []byte(`{"name":"cache"}`)})
	if err != nil || res.Status != receipts.StatusOK {
		t.Fatalf("invoke after restart: %s %q %v", res.Status, res.Error, err)
	}
	var out struct{ Greeting string }
	if err := json.Unmarshal(res.Output, &out); err != nil || out.Greeting != "Hello, cache!" {
		t.Errorf("got %q, want greeting \"Hello, cache!\"", res.Output)
	}
}

func TestRuntime_Transform(t *testing.T) {
	ctx := context.Background()
	refuse := errors.New("cannot instrument")
	r, err := New(ctx, Config{Transform: func(b []byte) ([]byte, error) {
		if bytes.Equal(b, plugins.WAT("trap")) {
			return nil, refuse
		}
		return plugins.WAT("echo"), nil // everything else becomes echo
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	if _, err := r.Load(ctx, plugins.WAT("trap")); !errors.Is(err, ErrInvalidModule) || !errors.Is(err, refuse) {
		t.Errorf("got %v, want ErrInvalidModule wrapping the transform's error", err)
	}
	info, err := r.Load(ctx, plugins.WAT("loop"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Digest != Digest(plugins.WAT("loop")) {
		t.Errorf("digest: got %s, want the digest of the bytes given", info.Digest)
	}
	res, err := r.Invoke(ctx, Call{Module: info.Digest, Input: []byte("transformed")})
	if err != nil || string(res.Output) != "transformed" {
		t.Errorf("got %q %s %v, want the transformed module to run", res.Output, res.Status, err)
	}
}

func TestNew_UnknownEngine(t *testing.T) {
	if _, err := New(context.Background(), Config{Engine: "wasmtime"}); err == nil {
		t.Error("got nil, want an error for an unknown engine")
	}
}

// TestRuntime_WASISandbox checks what a WASI command gets: only its program name as argument, no environment,
// no preopened directory, and a fake clock and random source that make every run the same.
func TestRuntime_WASISandbox(t *testing.T) {
	digest := load(t, plugins.WAT("cmd_env"))
	var outs [][]byte
	for i := 0; i < 2; i++ {
		res, err := testRT.Invoke(context.Background(), Call{Module: digest, Limits: small})
		if err != nil || res.Status != receipts.StatusOK || len(res.Output) != 40 {
			t.Fatalf("got %s %q %v (%d bytes), want ok with 40 bytes", res.Status, res.Error, err, len(res.Output))
		}
		outs = append(outs, res.Output)
	}
	b := outs[0]
	u32 := func(off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
	if argc, size := u32(0), u32(4); argc != 1 || size != uint32(len(commandArgv0)+1) {
		t.Errorf("args: got %d (%d bytes), want 1 (%q)", argc, size, commandArgv0)
	}
	if envc, size := u32(8), u32(12); envc != 0 || size != 0 {
		t.Errorf("environment: got %d variables (%d bytes), want none", envc, size)
	}
	if errno := u32(32); errno != 8 {
		t.Errorf("fd_prestat_get(3): got errno %d, want 8 (EBADF: no preopened directory)", errno)
	}
	if now := time.Unix(0, int64(binary.LittleEndian.Uint64(b[16:]))); time.Since(now) < 24*time.Hour {
		t.Errorf("clock: got %s, want a fake time, not now", now)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Errorf("two runs differ: %x vs %x; want clock and random deterministic", outs[0], outs[1])
	}
}

func TestRuntime_CheckEntry(t *testing.T) {
	ctx := context.Background()
	ext := load(t, plugins.WAT("recurse"))  // exports run: () -> i32
	cmd := load(t, plugins.WAT("cmd_echo")) // exports _start: () -> ()
	tests := []struct {
		name   string
		digest string
		abi    ABI
		entry  string
		want   error
	}{
		{"extism default entry", ext, "", "", nil},
		{"extism run", ext, ABIExtism, "run", nil},
		{"command default entry", cmd, "", "", nil},
		{"command _start as extism", cmd, ABIExtism, "_start", nil},
		{"missing", ext, "", "main", ErrUnknownEntry},
		{"not loaded", Digest(nil), "", "", ErrNotLoaded},
		{"bad abi", ext, "cgi", "", ErrUnknownABI},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := testRT.CheckEntry(ctx, tc.digest, tc.abi, tc.entry); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	// An export with the wrong signature for the ABI: run returns i32, which a WASI command's entry may not.
	if err := testRT.CheckEntry(ctx, load(t, plugins.WAT("trap")), ABIWASICommand, "run"); !errors.Is(err, ErrUnknownEntry) ||
		!strings.Contains(err.Error(), "signature ()->(i32), want ()->()") {
		t.Errorf("got %v, want ErrUnknownEntry naming the signature", err)
	}
}
