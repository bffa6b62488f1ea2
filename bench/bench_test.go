package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/toolgate/toolgate/plugins"
	"github.com/toolgate/toolgate/plugins/pluginstest"
	"github.com/toolgate/toolgate/runtime"
	"github.com/toolgate/toolgate/sdk/client"
)

// cacheDir is wazero's compilation cache for every subject of this process: $TOOLGATE_BENCH_CACHE (bench/run.sh
// keeps one across its rounds), else a temporary directory, so that hello.wasm is compiled once, not per subject.
var cacheDir string

func TestMain(m *testing.M) {
	cacheDir = os.Getenv("TOOLGATE_BENCH_CACHE")
	tmp := ""
	if cacheDir == "" {
		var err error
		if tmp, err = os.MkdirTemp("", "toolgate-bench-cache-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cacheDir = tmp
	}
	code := m.Run()
	if tmp != "" {
		_ = os.RemoveAll(tmp)
	}
	os.Exit(code)
}

// caseNames are the cases in the order they run; testCase makes each.
var caseNames = []string{"nop", "echo", "hello"}

// testCase returns the case called name. hello skips tb when plugins/build/hello.wasm is not built (and fails it
// in CI).
func testCase(tb testing.TB, name string) Case {
	tb.Helper()
	var hello []byte
	if name == "hello" {
		hello = pluginstest.Built(tb, "hello")
	}
	c, ok := FindCase(Cases(hello), name)
	if !ok {
		tb.Fatalf("no case %q", name)
	}
	return c
}

func newSubject(tb testing.TB, subject string, c Case) Subject {
	tb.Helper()
	ctx := context.Background()
	s, err := New(ctx, subject, c, cacheDir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(ctx); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// BenchmarkFreshSandbox measures one call in a fresh sandbox — instantiate, call, close — for each subject and
// case, side by side on the same module bytes. Compilation happens before the loop and is not measured. Besides
// wall time it reports cpu-ns/op, the process's CPU time per call (garbage collection included), which a
// neighbour on a shared machine disturbs less.
func BenchmarkFreshSandbox(b *testing.B) {
	ctx := context.Background()
	for _, subject := range Subjects {
		b.Run(subject, func(b *testing.B) {
			for _, name := range caseNames {
				b.Run(name, func(b *testing.B) {
					c := testCase(b, name)
					s := newSubject(b, subject, c)
					if err := Check(ctx, s, c); err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					cpu0, ok := ProcessCPU()
					for b.Loop() {
						out, err := s.Call(ctx)
						if err != nil || !bytes.Equal(out, c.Want) {
							b.Fatalf("got %q, %v; want %q", out, err, c.Want)
						}
					}
					if cpu1, ok1 := ProcessCPU(); ok && ok1 {
						b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
					}
				})
			}
		})
	}
}

// TestFreshSandbox runs every benchmark body once, twice per sandbox kind to see that a call leaves nothing
// behind that breaks the next.
func TestFreshSandbox(t *testing.T) {
	ctx := context.Background()
	for _, subject := range Subjects {
		for _, name := range caseNames {
			t.Run(subject+"/"+name, func(t *testing.T) {
				c := testCase(t, name)
				s := newSubject(t, subject, c)
				for range 2 {
					if err := Check(ctx, s, c); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}

func TestNew_UnknownSubject(t *testing.T) {
	if _, err := New(context.Background(), "wasmtime", testCase(t, "nop"), ""); err == nil {
		t.Error("got no error for an unknown subject, want one")
	}
}

// TestLoad starts the real server on each engine, publishes echo and runs a short load against it, as
// cmd/loadgen does.
func TestLoad(t *testing.T) {
	for _, tc := range []struct{ name, engine, want string }{
		{"default", "", runtime.EngineNative},
		{runtime.EngineNative, runtime.EngineNative, runtime.EngineNative},
		{runtime.EngineExtismSDK, runtime.EngineExtismSDK, runtime.EngineExtismSDK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			srv, c := startEcho(t, ServerOptions{Engine: tc.engine, CacheDir: cacheDir})
			if srv.Engine != tc.want {
				t.Errorf("engine: got %q, want %q", srv.Engine, tc.want)
			}
			res := loadEcho(t, c)
			if res.Requests != 40 || res.Errors != 0 || res.P50 <= 0 || res.P99 < res.P50 || res.RPS <= 0 {
				t.Errorf("got %+v, want 40 requests, no errors and sane latencies", res)
			}
			// Receipts are on: the last call's receipt is stored.
			ir, err := c.Invoke(ctx, "echo", Input, client.InvokeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Receipt(ctx, ir.Receipt); err != nil {
				t.Errorf("receipt[%s]: %v", ir.Receipt, err)
			}
		})
	}
}

// TestLoad_NoReceipts runs a load against a server with receipts off: every invoke still answers with a receipt
// id, so Load counts it, but no receipt is stored.
func TestLoad_NoReceipts(t *testing.T) {
	ctx := context.Background()
	srv, c := startEcho(t, ServerOptions{CacheDir: cacheDir, NoReceipts: true})
	if !srv.NoReceipts || srv.Engine != runtime.EngineNative {
		t.Errorf("got NoReceipts %v, engine %q, want true, %q", srv.NoReceipts, srv.Engine, runtime.EngineNative)
	}
	res := loadEcho(t, c)
	if res.Requests != 40 || res.Errors != 0 {
		t.Errorf("got %+v, want 40 requests, no errors", res)
	}
	ir, err := c.Invoke(ctx, "echo", Input, client.InvokeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Receipt(ctx, ir.Receipt); err == nil {
		t.Errorf("receipt[%s]: got it stored with receipts off, want none", ir.Receipt)
	}
}

// TestLoadInterleaved runs two loads in turns against two servers and checks that the turns alternate, each load
// taking as many as its duration needs, and that each result sums its own turns; and that a load bounded by
// requests sends that many.
func TestLoadInterleaved(t *testing.T) {
	ctx := context.Background()
	_, on := startEcho(t, ServerOptions{CacheDir: cacheDir})
	_, off := startEcho(t, ServerOptions{CacheDir: cacheDir, NoReceipts: true})
	var turns []int
	res, err := LoadInterleaved(ctx, []LoadOptions{
		{Client: on, Tool: "echo", Input: Input, Want: Input, Concurrency: 2, Duration: 300 * time.Millisecond},
		{Client: off, Tool: "echo", Input: Input, Want: Input, Concurrency: 2, Duration: 200 * time.Millisecond},
	}, 100*time.Millisecond, func(i int, start bool) {
		if start {
			turns = append(turns, i)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(turns, []int{0, 1, 0, 1, 0}) {
		t.Errorf("turns %v, want 0 1 0 1 0", turns)
	}
	for i, want := range []time.Duration{300 * time.Millisecond, 200 * time.Millisecond} {
		if r := res[i]; r.Requests == 0 || r.Errors != 0 || r.Elapsed < want || r.Elapsed > want+time.Second || r.P50 <= 0 {
			t.Errorf("load %d: got %+v, want requests over about %v and no errors", i, r, want)
		}
	}
	res, err = LoadInterleaved(ctx, []LoadOptions{{Client: on, Tool: "echo", Input: Input, Want: Input, Concurrency: 2,
		Requests: 30, Duration: time.Minute}}, 100*time.Millisecond, nil)
	if err != nil || res[0].Requests != 30 || res[0].Errors != 0 {
		t.Errorf("a load of 30 requests: got %+v, %v", res, err)
	}
	if _, err := LoadInterleaved(ctx, []LoadOptions{{Client: on, Concurrency: 1, Requests: 1}}, 0, nil); err == nil {
		t.Error("no slice: got no error")
	}
}

func TestStartServer_UnknownEngine(t *testing.T) {
	if _, err := StartServer(context.Background(), t.TempDir(), ServerOptions{Engine: "wasmtime"}); err == nil {
		t.Error("got no error for an unknown engine, want one")
	}
}

func TestLoad_NoBound(t *testing.T) {
	if _, err := Load(context.Background(), LoadOptions{Concurrency: 1}); err == nil {
		t.Error("got no error for a load without a bound, want one")
	}
}

// TestNop_InSync checks that testdata/nop.wasm is what wat2wasm makes of testdata/nop.wat.
func TestNop_InSync(t *testing.T) {
	wat2wasm := pluginstest.Tool(t, "wat2wasm", "apt-get install -y wabt")
	out := filepath.Join(t.TempDir(), "nop.wasm")
	if b, err := exec.Command(wat2wasm, filepath.Join("testdata", "nop.wat"), "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(nopWasm, want) {
		t.Error("testdata/nop.wasm is stale: regenerate with wat2wasm testdata/nop.wat -o testdata/nop.wasm")
	}
}

// startEcho starts a Server with opts, closed when the test ends, with wat/echo published as tool echo, and
// returns it with a client of 4 connections.
func startEcho(t *testing.T, opts ServerOptions) (*Server, *client.Client) {
	t.Helper()
	ctx := context.Background()
	srv, err := StartServer(ctx, t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	c := srv.Client(4)
	if err := Publish(ctx, c, "echo", "1.0.0", plugins.WAT("echo")); err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// loadEcho runs 40 echo invokes, 4 at a time.
func loadEcho(t *testing.T, c *client.Client) LoadResult {
	t.Helper()
	res, err := Load(context.Background(), LoadOptions{Client: c, Tool: "echo", Input: Input, Want: Input,
		Concurrency: 4, Requests: 40, Duration: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return res
}
