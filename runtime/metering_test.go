package runtime

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toolgate/toolgate/host"
	"github.com/toolgate/toolgate/plugins"
	"github.com/toolgate/toolgate/receipts"
	"github.com/toolgate/toolgate/runtime/fuel"
)

// Metering runtimes for the tests, one per engine (and one on wazero's interpreter), on the shared disk cache.
var (
	meteredOnce sync.Once
	metered     map[string]*Runtime
	meteredErr  error
)

const engineInterpreter = "native-interpreter"

func meteredRuntime(t testing.TB, engine string) *Runtime {
	t.Helper()
	meteredOnce.Do(func() {
		metered = map[string]*Runtime{}
		for name, cfg := range map[string]Config{
			EngineNative:      {Engine: EngineNative},
			EngineExtismSDK:   {Engine: EngineExtismSDK},
			engineInterpreter: {Engine: EngineNative, interpreter: true},
		} {
			cfg.CacheDir, cfg.Metering = testCacheDir, true
			if metered[name], meteredErr = New(context.Background(), cfg); meteredErr != nil {
				return
			}
		}
	})
	if meteredErr != nil {
		t.Fatal(meteredErr)
	}
	return metered[engine]
}

func invokeOn(t testing.TB, r *Runtime, wasm []byte, c Call) Result {
	t.Helper()
	info, err := r.Load(context.Background(), wasm)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	c.Module = info.Digest
	if c.Limits.Timeout == 0 {
		c.Limits.Timeout = time.Minute
	}
	res, err := r.Invoke(context.Background(), c)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	return res
}

// TestMetering_Runaway: every runaway shape ends as out_of_fuel (unbounded recursion: as a trap at the call
// depth bound) within its budget's time, billed its whole budget, on both engines.
func TestMetering_Runaway(t *testing.T) {
	const budget = 20_000_000
	cases := []struct {
		name   string
		module func(testing.TB) []byte
		entry  string
		status string
		errMsg string
	}{
		{"loop br 0", wat("loop"), "", receipts.StatusOutOfFuel, "fuel limit of 20000000 used up"},
		{"br_table state machine", func(testing.TB) []byte { return fixture("runaway") }, "br_table", receipts.StatusOutOfFuel, ""},
		{"call_indirect loop", func(testing.TB) []byte { return fixture("runaway") }, "indirect", receipts.StatusOutOfFuel, ""},
		{"exponential recursion", func(testing.TB) []byte { return fixture("runaway") }, "exp", receipts.StatusOutOfFuel, ""},
		{"memory.fill and copy loop", func(testing.TB) []byte { return fixture("runaway") }, "fill", receipts.StatusOutOfFuel, ""},
		{"memory.grow loop", func(testing.TB) []byte { return fixture("runaway") }, "grow0", receipts.StatusOutOfFuel, ""},
		{"infinite start function", func(testing.TB) []byte { return fixture("startloop") }, "", receipts.StatusOutOfFuel, ""},
		{"unbounded recursion", func(testing.TB) []byte { return fixture("runaway") }, "deep", receipts.StatusTrap,
			fmt.Sprintf("call depth limit of %d exceeded", fuel.DefaultMaxCallDepth)},
		{"Go for {}", builtModule("hello"), "spin", receipts.StatusOutOfFuel, ""},
	}
	for _, engine := range []string{EngineNative, EngineExtismSDK} {
		for _, tc := range cases {
			t.Run(engine+"/"+tc.name, func(t *testing.T) {
				wasm := tc.module(t)
				r := meteredRuntime(t, engine)
				if _, err := r.Load(context.Background(), wasm); err != nil { // compiling is not the call's time
					t.Fatal(err)
				}
				start := time.Now()
				res := invokeOn(t, r, wasm, Call{Entry: tc.entry,
					Limits: Limits{Fuel: budget, MemoryBytes: 64 << 20, Timeout: 200 * time.Millisecond}})
				wall := time.Since(start)
				if res.Status != tc.status || tc.errMsg != "" && res.Error != tc.errMsg {
					t.Fatalf("got %s %q, want %s %q", res.Status, res.Error, tc.status, tc.errMsg)
				}
				if res.Fuel == nil || res.Fuel.Limit != budget {
					t.Fatalf("fuel: got %+v, want the limit %d", res.Fuel, budget)
				}
				if tc.status == receipts.StatusOutOfFuel && res.Fuel.Used != budget {
					t.Errorf("fuel used: got %d, want the whole budget %d", res.Fuel.Used, budget)
				}
				if wall > 10*time.Second {
					t.Errorf("took %s", wall)
				}
			})
		}
	}
}

// TestMetering_Budget: a budget of exactly the fuel a call uses completes; one unit less runs out. The start
// function runs under the budget too.
func TestMetering_Budget(t *testing.T) {
	wasm := fixture("fuelcount")
	input := []byte(strings.Repeat("x", 1000))
	for _, engine := range []string{EngineNative, EngineExtismSDK, engineInterpreter} {
		t.Run(engine, func(t *testing.T) {
			r := meteredRuntime(t, engine)
			res := invokeOn(t, r, wasm, Call{Input: input, Limits: Limits{Fuel: 1 << 40}})
			if res.Status != receipts.StatusOK || res.Fuel == nil {
				t.Fatalf("got %s %q %+v, want ok with fuel", res.Status, res.Error, res.Fuel)
			}
			used := res.Fuel.Used
			// 13 operators per iteration, and 13 for the loop's exit, the entries and the start function.
			if used != 13*1000+13 {
				t.Errorf("fuel used: got %d, want 13,013", used)
			}
			if res := invokeOn(t, r, wasm, Call{Input: input, Limits: Limits{Fuel: used}}); res.Status != receipts.StatusOK ||
				res.Fuel.Used != used {
				t.Errorf("budget %d: got %s %q %+v, want ok using all of it", used, res.Status, res.Error, res.Fuel)
			}
			if res := invokeOn(t, r, wasm, Call{Input: input, Limits: Limits{Fuel: used - 1}}); res.Status != receipts.StatusOutOfFuel {
				t.Errorf("budget %d: got %s %q, want out_of_fuel", used-1, res.Status, res.Error)
			}
			if res := invokeOn(t, r, wasm, Call{Input: input, Limits: Limits{Fuel: 1}}); res.Status != receipts.StatusOutOfFuel {
				t.Errorf("budget 1: got %s %q, want out_of_fuel in the start function", res.Status, res.Error)
			}
		})
	}
}

// TestMetering_Deterministic: the same call uses the same fuel every time, on both Extism engines and on
// wazero's compiler and interpreter, for a tiny WAT tool and a standard-Go plugin.
func TestMetering_Deterministic(t *testing.T) {
	for _, tc := range []struct {
		name   string
		module func(testing.TB) []byte
		call   Call
	}{
		{"wat echo", wat("echo"), Call{Input: []byte("hello, fuel")}},
		{"go hello", builtModule("hello"), Call{Input: []byte(`{"name":"Ada"}`), Limits: Limits{MemoryBytes: 32 << 20}}},
		{"go conformance json", builtModule("conformance-go"), Call{Input: []byte(`json {"name":"Zoë"}`)}},
		{"rust conformance upper", builtModule("conformance-rust"), Call{Input: []byte("upper héllo")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wasm := tc.module(t)
			var fuels []uint64
			for _, engine := range []string{EngineNative, EngineExtismSDK, engineInterpreter} {
				r := meteredRuntime(t, engine)
				n := 5
				if engine == engineInterpreter {
					n = 2
				}
				for i := 0; i < n; i++ {
					res := invokeOn(t, r, wasm, tc.call)
					if res.Status != receipts.StatusOK || res.Fuel == nil {
						t.Fatalf("%s: got %s %q %+v", engine, res.Status, res.Error, res.Fuel)
					}
					fuels = append(fuels, res.Fuel.Used)
				}
			}
			if slices.Min(fuels) != slices.Max(fuels) || fuels[0] == 0 {
				t.Errorf("fuel used: got %v, want one non-zero value", fuels)
			}
			t.Logf("fuel used: %d", fuels[0])
		})
	}
}

// TestMetering_Differential runs the conformance inputs in every Extism build on both metering engines: the
// same results and the same fuel.
func TestMetering_Differential(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles every build instrumented, twice")
	}
	inputs := [][]byte{[]byte("echo hello"), []byte("upper héllo wörld"), []byte(`json {"name":"Ada"}`),
		[]byte("error declined"), []byte("log a\nb"), []byte("big 100000"), []byte("trap"), nil}
	for _, b := range conformanceExtism {
		t.Run(b, func(t *testing.T) {
			wasm := pluginstestBuilt(t, b)
			for _, in := range inputs {
				native := invokeOn(t, meteredRuntime(t, EngineNative), wasm, Call{Input: in})
				sdk := invokeOn(t, meteredRuntime(t, EngineExtismSDK), wasm, Call{Input: in})
				sameResult(t, native, sdk)
				if native.Fuel == nil || sdk.Fuel == nil || *native.Fuel != *sdk.Fuel {
					t.Errorf("%q: fuel native %+v, sdk %+v", in, native.Fuel, sdk.Fuel)
				}
			}
		})
	}
}

func pluginstestBuilt(t testing.TB, name string) []byte { return builtModule(name)(t) }

// TestMetering_Module: a metered module keeps the identity and exports of the bytes given; the instrumentation's
// own export is no entry point; an unmeterable module is refused with a reason.
func TestMetering_Module(t *testing.T) {
	r := meteredRuntime(t, EngineNative)
	ctx := context.Background()
	wasm := fixture("startloop")
	info, err := r.Load(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	if info.Digest != Digest(wasm) || fmt.Sprint(info.Exports) != "[run]" {
		t.Errorf("got %s %v, want the original digest and exports [run]", info.Digest, info.Exports)
	}
	if _, err := r.Invoke(ctx, Call{Module: info.Digest, Entry: fuel.ExportStart}); !errors.Is(err, ErrUnknownEntry) {
		t.Errorf("entry %s: got %v, want ErrUnknownEntry", fuel.ExportStart, err)
	}
	if _, err := r.Load(ctx, plugins.WAT("echo")[:20]); !errors.Is(err, ErrInvalidModule) {
		t.Errorf("truncated: got %v, want ErrInvalidModule", err)
	}
	// A module exporting the fuel global's name cannot be metered.
	clash := []byte("\x00asm\x01\x00\x00\x00" +
		"\x06\x06\x01\x7e\x01\x42\x00\x0b" + // global (mut i64) = 0
		"\x07\x11\x01\x0dtoolgate_fuel\x03\x00") // export "toolgate_fuel" global 0
	var me *ModuleError
	if _, err := r.Load(ctx, clash); !errors.As(err, &me) || !strings.HasPrefix(me.Reason, "cannot be metered") {
		t.Errorf("name clash: got %v, want a reason that starts with \"cannot be metered\"", err)
	}
}

// TestMetering_ConcurrentBudgets: concurrent calls of one module with different budgets each get their own.
func TestMetering_ConcurrentBudgets(t *testing.T) {
	r := meteredRuntime(t, EngineNative)
	wasm := fixture("fuelcount")
	info, err := r.Load(context.Background(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*20)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				n := 100 * (g + i + 1)
				in := []byte(strings.Repeat("y", n))
				budget := uint64(13*n + 13) // exactly enough (TestMetering_Budget)
				if i%2 == 1 {
					budget--
				}
				res, err := r.Invoke(context.Background(), Call{Module: info.Digest, Input: in, Limits: Limits{Fuel: budget}})
				want := receipts.StatusOK
				if i%2 == 1 {
					want = receipts.StatusOutOfFuel
				}
				if err != nil || res.Status != want || res.Fuel.Limit != budget {
					errs <- fmt.Errorf("n=%d budget %d: got %s %+v %v, want %s", n, budget, res.Status, res.Fuel, err, want)
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

// TestMetering_DoorDeadline: without context polling, the call's deadline still bounds a host call — a request
// to a server that does not answer ends at the deadline, as the door's limit, and the call returns.
func TestMetering_DoorDeadline(t *testing.T) {
	wasm := pluginstestBuilt(t, "conformance-wat")
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer srv.Close()
	defer close(hang) // before Close, which waits for the handler
	u, _ := url.Parse(srv.URL)
	port, _ := strconv.Atoi(u.Port())
	door, err := host.NewDoor(host.DoorConfig{AllowPrivateEgress: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	defer door.Close()
	ctx := context.Background()
	r, err := New(ctx, Config{CacheDir: testCacheDir, Metering: true, Door: door})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	start := time.Now()
	res := invokeOn(t, r, wasm, Call{Input: []byte("http " + srv.URL + "/slow"), Limits: Limits{Timeout: 300 * time.Millisecond},
		Policy: host.Policy{MaxRequests: 1, HTTP: []host.HTTPGrant{{Host: "127.0.0.1", Scheme: "http", Ports: []int{port}}},
			Secrets: []host.SecretGrant{{Name: "TOKEN", Hosts: []string{"127.0.0.1"}}}}, // the tool sends it
		Secrets: host.SecretMap{"TOKEN": []byte("s3cret-value")}})
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s, want about the call's 300ms", d)
	}
	if len(res.HTTP) != 1 || res.HTTP[0].Reason != "the call's time is up" {
		t.Errorf("http lines: got %+v, want the request ended by the call's deadline", res.HTTP)
	}
	if res.Status != receipts.StatusOK || !strings.HasPrefix(string(res.Output), "429\n") {
		t.Errorf("got %s %q %q, want the door's 429 answered to the guest", res.Status, res.Error, res.Output)
	}
}
