package runtime

import (
	"bytes"
	"context"
	"embed"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toolgate/toolgate/host"
	"github.com/toolgate/toolgate/plugins"
	"github.com/toolgate/toolgate/plugins/pluginstest"
	"github.com/toolgate/toolgate/receipts"
)

//go:embed testdata/*.wasm
var testdataFS embed.FS

// fixture returns testdata/<name>.wasm.
func fixture(name string) []byte {
	b, err := testdataFS.ReadFile("testdata/" + name + ".wasm")
	if err != nil {
		panic(err)
	}
	return b
}

// TestTestdata_InSync checks that every committed testdata/*.wasm is what wat2wasm makes of its .wat.
func TestTestdata_InSync(t *testing.T) {
	wat2wasm := pluginstest.Tool(t, "wat2wasm", "apt-get install -y wabt")
	srcs, _ := filepath.Glob("testdata/*.wat")
	for _, src := range srcs {
		name := strings.TrimSuffix(filepath.Base(src), ".wat")
		out := filepath.Join(t.TempDir(), name+".wasm")
		if b, err := exec.Command(wat2wasm, src, "-o", out).CombinedOutput(); err != nil {
			t.Fatalf("wat2wasm %s: %v\n%s", src, err, b)
		}
		want, _ := os.ReadFile(out)
		if !bytes.Equal(fixture(name), want) {
			t.Errorf("testdata/%s.wasm is stale: regenerate with runtime/testdata/gen.sh", name)
		}
	}
}

// sdkRT is a runtime on the reference engine, on the shared disk cache.
var (
	sdkOnce sync.Once
	sdkRT   *Runtime
	sdkErr  error
)

func sdkRuntime(t testing.TB) *Runtime {
	t.Helper()
	sdkOnce.Do(func() {
		sdkRT, sdkErr = New(context.Background(), Config{CacheDir: testCacheDir, Engine: EngineExtismSDK})
	})
	if sdkErr != nil {
		t.Fatal(sdkErr)
	}
	return sdkRT
}

// diffCase is one call that both Extism engines make.
type diffCase struct {
	name   string
	module func(testing.TB) []byte
	entry  string
	input  []byte
	config map[string]string
	limits Limits
	policy host.Policy
	// differ, when set, is why the engines answer differently on purpose (an SDK bug the native engine does not
	// copy, or what it costs); check then checks each engine's answer instead of their equality.
	differ string
	check  func(t *testing.T, native, sdk Result)
}

func wat(name string) func(testing.TB) []byte {
	return func(testing.TB) []byte { return plugins.WAT(name) }
}

func kprobe(testing.TB) []byte { return fixture("kprobe") }

func builtModule(name string) func(testing.TB) []byte {
	return func(t testing.TB) []byte { return pluginstest.Built(t, name) }
}

// invokeBoth runs c on the native engine (the shared test runtime) and the SDK engine.
func invokeBoth(t *testing.T, c diffCase) (native, sdk Result) {
	t.Helper()
	wasm := c.module(t)
	ctx := context.Background()
	lim := c.limits
	if lim.Timeout == 0 {
		lim.Timeout = time.Minute
	}
	results := make([]Result, 2)
	for i, r := range []*Runtime{testRT, sdkRuntime(t)} {
		info, err := r.Load(ctx, wasm)
		if err != nil {
			t.Fatalf("%s: load: %v", r.cfg.Engine, err)
		}
		results[i], err = r.Invoke(ctx, Call{Module: info.Digest, Entry: c.entry, Input: c.input, Config: c.config,
			Limits: lim, Policy: c.policy})
		if err != nil {
			t.Fatalf("%s: invoke: %v", r.cfg.Engine, err)
		}
	}
	return results[0], results[1]
}

// sameResult requires what the receipt and the caller see to be equal: status, output, error, logs, doors.
// Peak memory is not compared: the SDK's kernel takes 1 MiB of its own.
func sameResult(t *testing.T, native, sdk Result) {
	t.Helper()
	if native.Status != sdk.Status || native.Error != sdk.Error {
		t.Errorf("status: native %s %q, sdk %s %q", native.Status, native.Error, sdk.Status, sdk.Error)
	}
	if !bytes.Equal(native.Output, sdk.Output) || (native.Output == nil) != (sdk.Output == nil) {
		t.Errorf("output: native %q, sdk %q", short(native.Output), short(sdk.Output))
	}
	if fmt.Sprint(native.Logs) != fmt.Sprint(sdk.Logs) || native.LogCount != sdk.LogCount {
		t.Errorf("logs: native %v (%d), sdk %v (%d)", native.Logs, native.LogCount, sdk.Logs, sdk.LogCount)
	}
	if fmt.Sprint(native.HTTP, native.Secrets) != fmt.Sprint(sdk.HTTP, sdk.Secrets) {
		t.Errorf("doors: native %+v %v, sdk %+v %v", native.HTTP, native.Secrets, sdk.HTTP, sdk.Secrets)
	}
}

func short(b []byte) string {
	if len(b) > 80 {
		return fmt.Sprintf("%q… (%d bytes)", b[:80], len(b))
	}
	return fmt.Sprintf("%q", b)
}

func runDiff(t *testing.T, cases []diffCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			native, sdk := invokeBoth(t, c)
			if c.differ == "" {
				sameResult(t, native, sdk)
				return
			}
			t.Logf("recorded difference: %s", c.differ)
			c.check(t, native, sdk)
		})
	}
}

// u64s decodes kprobe's output.
func u64s(b []byte) []uint64 {
	var out []uint64
	for len(b) >= 8 {
		out = append(out, binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	return out
}

// TestDifferential_Kernel runs every probe of the kernel's edges on both engines: allocation, reuse and
// splitting of freed blocks, growth, bounds, registers, the SDK's Go-side functions and their error texts.
func TestDifferential_Kernel(t *testing.T) {
	cfg := map[string]string{"greeting": "Grüß dich", "empty": ""}
	in := []byte("0123456789abcdefXYZ")
	var cases []diffCase
	for _, entry := range []string{"allocs", "reuse", "loads", "stores", "clobber", "position", "registers",
		"vars", "var_full", "config", "config_bad", "logs", "log_bad", "error_message", "error_mid_block",
		"error_low", "load8_oob", "load64_oob", "store64_oob", "http_bad_json"} {
		cases = append(cases, diffCase{name: entry, module: kprobe, entry: entry, input: in, config: cfg})
	}
	cases = append(cases,
		diffCase{name: "loads/no input", module: kprobe, entry: "loads"},
		diffCase{name: "loads/large input", module: kprobe, entry: "loads", input: bytes.Repeat([]byte("ab"), 70000),
			limits: Limits{MaxInputBytes: 1 << 20}},
		diffCase{name: "alloc_huge", module: kprobe, entry: "alloc_huge", limits: Limits{MemoryBytes: 16 << 20}},
		diffCase{name: "http", module: kprobe, entry: "http", policy: host.Policy{MaxRequests: 2},
			differ: "the SDK traps on any request (it cannot use the door); the native engine answers the door's 403",
			check: func(t *testing.T, native, sdk Result) {
				if sdk.Status != receipts.StatusTrap || !strings.Contains(sdk.Error, "denied") {
					t.Errorf("sdk: got %s %q, want a trap for the denial", sdk.Status, sdk.Error)
				}
				v := u64s(native.Output)
				if native.Status != receipts.StatusOK || len(v) != 3 || v[0] != 403 || v[1] == 0 || v[2] == 0 {
					t.Errorf("native: got %s %q %v, want ok with status 403, a body and headers", native.Status, native.Error, v)
				}
				if len(native.HTTP) != 1 || native.HTTP[0].Decision != host.DecisionDenied || native.HTTP[0].Method != "POST" {
					t.Errorf("native http lines: got %+v, want one denied POST", native.HTTP)
				}
			}},
		diffCase{name: "grow", module: kprobe, entry: "grow", limits: Limits{MemoryBytes: 4 << 20},
			differ: "the SDK's kernel holds 1 MiB of the call's memory cap; the native arena holds what it uses",
			check: func(t *testing.T, native, sdk Result) {
				n, s := u64s(native.Output), u64s(sdk.Output)
				if native.Status != receipts.StatusOK || sdk.Status != receipts.StatusOK || len(n) != 1 || len(s) != 1 ||
					n[0] != s[0]+15 {
					t.Errorf("got native %s %v, sdk %s %v; want both ok, native with 15 more pages", native.Status, n, sdk.Status, s)
				}
			}},
	)
	runDiff(t, cases)
}

// TestDifferential_WAT runs the WAT fixtures of plugins/wat, and the limits around them, on both engines.
func TestDifferential_WAT(t *testing.T) {
	big := strings.Repeat("x", 100)
	runDiff(t, []diffCase{
		{name: "echo", module: wat("echo"), input: []byte("hello, sandbox")},
		{name: "echo/empty", module: wat("echo"), input: nil},
		{name: "echo/odd length", module: wat("echo"), input: []byte("0123456789abc")},
		{name: "echo/1 MiB", module: wat("echo"), input: bytes.Repeat([]byte("0123456789abcdef"), 1<<16),
			limits: Limits{MaxInputBytes: 1 << 20, MaxOutputBytes: 1 << 20}},
		{name: "echo/input over the cap", module: wat("echo"), input: []byte(big), limits: Limits{MaxInputBytes: 99}},
		{name: "echo/output over the cap", module: wat("echo"), input: []byte(big), limits: Limits{MaxOutputBytes: 99}},
		// The Extism Go SDK by itself hands the guest an empty input here (its kernel cannot allocate it); the
		// extism-sdk engine catches that through the memory limiter, the native engine refuses the input itself.
		{name: "echo/input larger than memory", module: wat("echo"), input: bytes.Repeat([]byte("y"), 2<<20),
			limits: Limits{MemoryBytes: 2 << 20, MaxInputBytes: 4 << 20, MaxOutputBytes: 4 << 20}},
		{name: "fail", module: wat("fail")},
		{name: "trap", module: wat("trap")},
		{name: "counter", module: wat("counter")},
		{name: "abi_all", module: wat("abi_all")},
		{name: "grow past the cap", module: wat("grow"), limits: Limits{MemoryBytes: 4 << 20}},
		{name: "loop times out", module: wat("loop"), limits: Limits{Timeout: 50 * time.Millisecond}},
		{name: "recursion", module: wat("recurse")},
		{name: "grow/memory minimum over the cap", module: wat("grow"), limits: Limits{MemoryBytes: 32 << 10},
			differ: "the SDK counts its kernel's 1 MiB in the memory a module needs to start",
			check: func(t *testing.T, native, sdk Result) {
				if native.Error != "module needs 65536 bytes of memory to start, over the limit of 32768" ||
					sdk.Error != "module needs 1114112 bytes of memory to start, over the limit of 32768" {
					t.Errorf("got native %q, sdk %q", native.Error, sdk.Error)
				}
			}},
		{name: "grow/cap under the SDK kernel", module: wat("grow"), limits: Limits{MemoryBytes: 512 << 10},
			differ: "a 512 KiB cap leaves the SDK no room for its kernel; the native engine runs the guest to its cap",
			check: func(t *testing.T, native, sdk Result) {
				if sdk.Status != receipts.StatusMemoryLimit || !strings.Contains(sdk.Error, "to start") ||
					native.Status != receipts.StatusMemoryLimit || !strings.Contains(native.Error, "reached: wasm error: unreachable") {
					t.Errorf("got native %s %q, sdk %s %q", native.Status, native.Error, sdk.Status, sdk.Error)
				}
			}},
		{name: "http", module: wat("http"), policy: host.Policy{MaxRequests: 1},
			differ: "the SDK traps on a denied request; the native engine answers the door's 403, which this guest ignores",
			check: func(t *testing.T, native, sdk Result) {
				if sdk.Status != receipts.StatusTrap || sdk.Error != "network request to example.com denied: no network grant" {
					t.Errorf("sdk: got %s %q", sdk.Status, sdk.Error)
				}
				if native.Status != receipts.StatusOK || len(native.HTTP) != 1 ||
					native.HTTP[0].Reason != "host example.com is not granted" {
					t.Errorf("native: got %s %q %+v", native.Status, native.Error, native.HTTP)
				}
			}},
	})
}

// conformanceExtism lists the Extism builds of plugins/conformance (see its conformance.go).
var conformanceExtism = []string{"conformance-go", "conformance-c", "conformance-cpp", "conformance-rust",
	"conformance-rust-nostd", "conformance-as", "conformance-zig", "conformance-wat"}

// TestDifferential_Conformance runs the conformance tool's inputs (plugins/conformance/README.md) in every
// Extism build on both engines.
func TestDifferential_Conformance(t *testing.T) {
	const mib = 1 << 20
	bigEcho := bytes.Repeat([]byte("0123456789abcdef"), mib/16)[:mib-len("echo ")]
	inputs := []struct {
		name   string
		input  []byte
		config map[string]string
	}{
		{"echo", []byte("echo hello, world"), nil},
		{"echo/no argument", []byte("echo"), nil},
		{"echo/newline separator", []byte("echo\nline one\nline two\n"), nil},
		{"echo/invalid UTF-8", []byte("echo \xff\xfe\x00\xc0\xafok"), nil},
		{"echo/1 MiB input", append([]byte("echo "), bigEcho...), nil},
		{"input over 1 MiB", make([]byte, mib+1), nil},
		{"empty input", nil, nil},
		{"unknown command", []byte("frobnicate now"), nil},
		{"upper/multi-byte", []byte("upper héllo wörld àéîõü ÿ ß ÷ ✓ 😀 ǆ"), nil},
		{"upper/invalid UTF-8", []byte("upper abc\xff"), nil},
		{"json", []byte(`json {"name":"Ada"}`), nil},
		{"json/escapes", []byte(`json {"id": 7, "name" : "Zo\u00eb \"Q\" \\ \n\t\u0001 \ud83d\ude00 <&>\/"}`), nil},
		{"json/not JSON", []byte(`json not json`), nil},
		{"error", []byte("error refund declined: insufficient funds"), nil},
		{"error/multi-byte", []byte("error échec ✗ 😀"), nil},
		{"error/no message", []byte("error"), nil},
		{"config", []byte("config greeting"), map[string]string{"greeting": "Grüß dich", "other": "x"}},
		{"config/missing", []byte("config missing"), map[string]string{"greeting": "hi"}},
		{"log", []byte("log starting\nhalfway ✓\ndone\nagain"), nil},
		{"log/none", []byte("log"), nil},
		{"big/zero", []byte("big 0"), nil},
		{"big/at the output cap", []byte(fmt.Sprint("big ", mib)), nil},
		{"big/over the output cap", []byte(fmt.Sprint("big ", mib+1)), nil},
		{"big/not a number", []byte("big lots"), nil},
		{"trap", []byte("trap"), nil},
	}
	for _, b := range conformanceExtism {
		t.Run(b, func(t *testing.T) {
			var cases []diffCase
			for _, in := range inputs {
				cases = append(cases, diffCase{name: in.name, module: builtModule(b), input: in.input, config: in.config})
			}
			cases = append(cases, diffCase{name: "http", module: builtModule(b), input: []byte("http http://127.0.0.1:9/ping"),
				policy: host.Policy{MaxRequests: 1},
				differ: "the SDK traps on a denied request; the native engine answers the door's 403, which the tool outputs",
				check: func(t *testing.T, native, sdk Result) {
					if sdk.Status != receipts.StatusTrap || !strings.Contains(sdk.Error, "denied") {
						t.Errorf("sdk: got %s %q", sdk.Status, sdk.Error)
					}
					if native.Status != receipts.StatusOK || !strings.HasPrefix(string(native.Output), "403\n") {
						t.Errorf("native: got %s %q %q", native.Status, native.Error, native.Output)
					}
				}})
			runDiff(t, cases)
		})
	}
}

// TestDifferential_GoPlugins runs the standard-Go plugins (go-pdk and the Go kit) and the Rust example on both
// engines.
func TestDifferential_GoPlugins(t *testing.T) {
	hello := builtModule("hello")
	lim := Limits{MemoryBytes: 32 << 20}
	jsonpick := builtModule("jsonpick")
	runDiff(t, []diffCase{
		{name: "hello/run", module: hello, input: []byte(`{"name":"Ada"}`), limits: lim},
		{name: "hello/run with config", module: hello, input: []byte(`{"name":"Ada"}`), config: map[string]string{"greeting": "Bonjour"}, limits: lim},
		{name: "hello/invalid json", module: hello, input: []byte(`{"name":`), limits: lim},
		{name: "hello/echo", module: hello, entry: "echo", input: []byte("bytes \x00\xff back"), limits: lim},
		{name: "hello/fail", module: hello, entry: "fail", limits: lim},
		{name: "hello/trap", module: hello, entry: "trap", limits: lim},
		{name: "hello/grow within the cap", module: hello, entry: "grow", input: []byte("4"), limits: lim},
		{name: "hello/grow past the cap", module: hello, entry: "grow", input: []byte("64"), limits: lim},
		{name: "hello/count", module: hello, entry: "count", limits: lim},
		{name: "hello/log", module: hello, entry: "log", limits: lim},
		{name: "hello/spin times out", module: hello, entry: "spin", limits: Limits{MemoryBytes: 32 << 20, Timeout: 100 * time.Millisecond}},
		{name: "jsonpick", module: jsonpick, config: map[string]string{"strict": "false"},
			input: []byte(`{"doc":{"user":{"name":"Ada","id":12345678901234567890},"items":[{"id":7},{"id":8}]},"paths":["user.name","user.id","items.1.id","nope"]}`)},
		{name: "jsonpick/strict", module: jsonpick, config: map[string]string{"strict": "true"}, input: []byte(`{"doc":{"a":1},"paths":["a","b.c"]}`)},
		{name: "jsonpick/not an object", module: jsonpick, input: []byte(`[1,2]`)},
		{name: "slugify", module: builtModule("slugify"), input: []byte("Straße, Ærø & Þingvellir: Ελληνικά 2024")},
		{name: "slugify/max", module: builtModule("slugify"), config: map[string]string{"max": "13"}, input: []byte("one two three four")},
		{name: "slugify/not UTF-8", module: builtModule("slugify"), input: []byte("bad \xff")},
		{name: "refund/no payments_url", module: builtModule("refund"), input: []byte(`{"order_id":"A-1","amount_cents":5}`)},
		{name: "refund/bad input", module: builtModule("refund"), input: []byte(`{}`)},
		{name: "refund/denied", module: builtModule("refund"), input: []byte(`{"order_id":"A-1","amount_cents":5}`),
			config: map[string]string{"payments_url": "http://127.0.0.1:9"}, policy: host.Policy{MaxRequests: 1},
			differ: "the SDK traps on the denied request; the native engine answers 403 and the tool reports it",
			check: func(t *testing.T, native, sdk Result) {
				if sdk.Status != receipts.StatusTrap || !strings.Contains(sdk.Error, "denied") {
					t.Errorf("sdk: got %s %q", sdk.Status, sdk.Error)
				}
				if native.Status != receipts.StatusToolError || !strings.Contains(native.Error, "403") {
					t.Errorf("native: got %s %q", native.Status, native.Error)
				}
			}},
	})
}

// TestNative_Hammer runs many concurrent calls on the native engine, each with its own input, config and vars,
// mixing a tiny WAT tool with large pooled buffers (1 MiB inputs, Go plugins): every call must see its own
// input, config and vars, a fresh instance (its counters at 1) and no var set by another call. (A var holds
// less than 1 MiB, so the large inputs are 256 KiB; state.wat copies them byte by byte.)
func TestNative_Hammer(t *testing.T) {
	ctx := context.Background()
	state := load(t, fixture("state"))
	type mod struct{ digest, entry string }
	var goEcho *mod
	if b, err := os.ReadFile(filepath.Join(pluginstest.Dir(), "hello.wasm")); err == nil {
		goEcho = &mod{load(t, b), "echo"}
	}
	const goroutines, perG = 16, 40
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*perG)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perG; i++ {
				in := fmt.Appendf(nil, "g%d-i%d-", g, i)
				if (g+i)%5 == 0 {
					in = append(in, bytes.Repeat([]byte{byte('a' + g)}, 256<<10)...)
				}
				cfg := fmt.Sprintf("cfg-%d-%d", g, i)
				if goEcho != nil && (g+i)%7 == 0 {
					res, err := testRT.Invoke(ctx, Call{Module: goEcho.digest, Entry: goEcho.entry, Input: in,
						Limits: Limits{Timeout: time.Minute, MemoryBytes: 32 << 20}})
					if err != nil || res.Status != receipts.StatusOK || !bytes.Equal(res.Output, in) {
						errs <- fmt.Errorf("go echo %d/%d: got %s %q %v", g, i, res.Status, res.Error, err)
					}
					continue
				}
				res, err := testRT.Invoke(ctx, Call{Module: state, Input: in, Config: map[string]string{"k": cfg},
					Limits: Limits{Timeout: time.Minute, MaxInputBytes: 1 << 20, MaxOutputBytes: 2 << 20}})
				want := append(le64s(1, 1, 0), cfg...)
				want = append(want, in...)
				if err != nil || res.Status != receipts.StatusOK || !bytes.Equal(res.Output, want) {
					errs <- fmt.Errorf("state %d/%d: got %s %q %s %v, want %s", g, i, res.Status, res.Error,
						short(res.Output), err, short(want))
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 10 {
			t.Error(err)
		}
	}
}

// TestNativeEnv_Table checks that the native engine implements exactly the host ABI's table.
func TestNativeEnv_Table(t *testing.T) {
	names := host.ExtismEnvNames()
	if len(names) != len(nativeEnv) {
		t.Errorf("native engine has %d functions, the ABI %d", len(nativeEnv), len(names))
	}
	for _, n := range names {
		if _, ok := nativeEnv[n]; !ok {
			t.Errorf("%s: not implemented", n)
		}
	}
}

// TestDifferential_HTTPRedirect: a granted host that redirects to a host the version does not grant. The native
// engine follows the redirect only through the door, which refuses the second hop (never dialed) and records both;
// the guest gets the door's 403. The Extism Go SDK would follow it anywhere with http.DefaultClient: the reference
// engine therefore refuses every request, and the guest traps (recorded difference).
func TestDifferential_HTTPRedirect(t *testing.T) {
	var otherHits sync.Map
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Store(r.URL.Path, true)
	}))
	defer other.Close()
	granted := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://localhost:"+portOf(t, other.URL)+"/stolen", http.StatusFound)
	}))
	defer granted.Close()
	door, err := host.NewDoor(host.DoorConfig{AllowPrivateEgress: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	defer door.Close()
	ctx := context.Background()
	native, err := New(ctx, Config{CacheDir: testCacheDir, Door: door})
	if err != nil {
		t.Fatal(err)
	}
	defer native.Close(ctx)
	port, _ := strconv.Atoi(portOf(t, granted.URL))
	call := Call{Input: []byte("http " + granted.URL + "/start"), Limits: Limits{Timeout: time.Minute},
		Policy: host.Policy{MaxRequests: 4, HTTP: []host.HTTPGrant{{Host: "127.0.0.1", Scheme: "http", Ports: []int{port}}},
			Secrets: []host.SecretGrant{{Name: "TOKEN", Hosts: []string{"127.0.0.1"}}}},
		Secrets: host.SecretMap{"TOKEN": []byte("s3cret-value")}}
	wasm := builtModule("conformance-wat")(t)

	res := invokeOn(t, native, wasm, call)
	if res.Status != receipts.StatusOK || !strings.HasPrefix(string(res.Output), "403\n") {
		t.Errorf("native: got %s %q %q, want the door's 403", res.Status, res.Error, short(res.Output))
	}
	if len(res.HTTP) != 2 || res.HTTP[0].Status != http.StatusFound || res.HTTP[0].Decision != host.DecisionAllowed ||
		res.HTTP[1].Decision != host.DecisionDenied || res.HTTP[1].Host != "localhost" {
		t.Errorf("native http lines: got %+v, want the 302 allowed and the hop to localhost denied", res.HTTP)
	}
	sdk := invokeOn(t, sdkRuntime(t), wasm, call)
	if sdk.Status != receipts.StatusTrap || !strings.Contains(sdk.Error, "denied") {
		t.Errorf("sdk: got %s %q, want a trap for the denial", sdk.Status, sdk.Error)
	}
	otherHits.Range(func(k, _ any) bool {
		t.Errorf("the ungranted host was reached: %v", k)
		return true
	})
}

func portOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}
