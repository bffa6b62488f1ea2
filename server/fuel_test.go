package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/toolgate/toolgate/plugins"
	"github.com/toolgate/toolgate/plugins/pluginstest"
	tgbadger "github.com/toolgate/toolgate/registry/badger"
	"github.com/toolgate/toolgate/runtime"
	"github.com/toolgate/toolgate/sdk/client"
	"github.com/toolgate/toolgate/server"
)

// startMetered is start with a metering runtime, as `toolgate serve` runs, and room for Go modules.
func startMetered(t *testing.T) *harness {
	t.Helper()
	return serve(t, t.TempDir(), runtime.Config{Metering: true}, server.Config{MaxModuleBytes: 32 << 20},
		tgbadger.Options{})
}

// runtimeFixture reads one of the runtime package's test modules.
func runtimeFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "runtime", "testdata", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// receiptFuel returns a receipt's status and fuel.
func receiptFuel(t *testing.T, h *harness, id string) (string, *struct{ Limit, Used uint64 }) {
	t.Helper()
	raw, err := h.c.Receipt(context.Background(), id)
	if err != nil {
		t.Fatalf("receipt %s: %v", id, err)
	}
	var r struct {
		Status string
		Fuel   *struct{ Limit, Used uint64 }
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r.Status, r.Fuel
}

// TestServer_OutOfFuel runs every runaway shape through the real server: each ends as a 422 out_of_fuel (unbounded
// recursion: a trap at the call depth bound) with a receipt that bills the whole budget, and the server keeps
// serving, with the fuel of a successful call in its header and its receipt.
func TestServer_OutOfFuel(t *testing.T) {
	h := startMetered(t)
	ctx := context.Background()
	const budget = 20_000_000
	limits := fmt.Sprintf(`,"limits":{"fuel":%d,"timeout_ms":2000}`, budget)
	runaway := runtimeFixture(t, "runaway")
	cases := []struct {
		tool, entry string
		wasm        []byte
		code        string
	}{
		{"loop", "run", plugins.WAT("loop"), "out_of_fuel"},
		{"br-table", "br_table", runaway, "out_of_fuel"},
		{"exp-recursion", "exp", runaway, "out_of_fuel"},
		{"fill-loop", "fill", runaway, "out_of_fuel"},
		{"start-loop", "run", runtimeFixture(t, "startloop"), "out_of_fuel"},
		{"deep-recursion", "deep", runaway, "trap"},
	}
	if hello, err := os.ReadFile(filepath.Join(pluginstest.Dir(), "hello.wasm")); err == nil {
		cases = append(cases, struct {
			tool, entry string
			wasm        []byte
			code        string
		}{"go-spin", "spin", hello, "out_of_fuel"})
	}
	for _, tc := range cases {
		h.push(t, tc.tool, "1.0.0", tc.wasm, fmt.Sprintf(`,"abi":"extism","entry":%q%s`, tc.entry, limits))
	}
	h.push(t, "echo", "1.0.0", plugins.WAT("echo"), "")

	for _, tc := range cases {
		t.Run(tc.tool, func(t *testing.T) {
			start := time.Now()
			_, err := h.c.Invoke(ctx, tc.tool, nil, client.InvokeOptions{})
			var ce *client.Error
			if !errors.As(err, &ce) || ce.Code != tc.code || ce.Status != 422 || ce.Receipt == "" {
				t.Fatalf("got %v, want a 422 %s with a receipt", err, tc.code)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s", d)
			}
			status, f := receiptFuel(t, h, ce.Receipt)
			if status != tc.code || f == nil || f.Limit != budget {
				t.Fatalf("receipt: got %s %+v, want %s with the fuel limit %d", status, f, tc.code, budget)
			}
			if tc.code == "out_of_fuel" && f.Used != budget {
				t.Errorf("receipt fuel used: got %d, want the whole budget", f.Used)
			}
			// The server keeps serving.
			res, err := h.c.Invoke(ctx, "echo", []byte("still here"), client.InvokeOptions{})
			if err != nil || string(res.Output) != "still here" {
				t.Fatalf("echo after %s: got %q %v", tc.tool, res.Output, err)
			}
			if res.FuelUsed == nil || *res.FuelUsed == 0 {
				t.Fatalf("echo: Toolgate-Fuel-Used %v, want the fuel used", res.FuelUsed)
			}
			if _, f := receiptFuel(t, h, res.Receipt); f == nil || f.Used != *res.FuelUsed {
				t.Errorf("echo receipt fuel %+v, header %d: want the same", f, *res.FuelUsed)
			}
		})
	}
}
