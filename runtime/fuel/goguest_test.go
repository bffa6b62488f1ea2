package fuel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/toolgate/toolgate/plugins/pluginstest"
)

// goGuest builds testdata/goguest for GOOS=wasip1 once, caching the binary by source digest and Go version.
func goGuest(t testing.TB) []byte {
	t.Helper()
	src := readFile(t, "testdata/goguest/main.go")
	h := sha256.Sum256(append(src, goruntime.Version()...))
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, "toolgate-fuel-test", "goguest-"+hex.EncodeToString(h[:8])+".wasm")
	if b, err := os.ReadFile(path); err == nil {
		return b
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	cmd := exec.Command("go", "build", "-o", tmp, "./testdata/goguest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		pluginstest.Missing(t, "cannot build the Go guest: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return readFile(t, path)
}

type goRun struct {
	stdout    string
	exitCode  uint32
	err       string
	used      uint64
	exhausted uint32
}

// runGoGuest runs _start of a wasip1 command with the budget set first (the start function is postponed).
func runGoGuest(t testing.TB, rt wazero.Runtime, cm wazero.CompiledModule, budget uint64, args ...string) goRun {
	t.Helper()
	ctx := context.Background()
	var stdout bytes.Buffer
	cfg := wazero.NewModuleConfig().WithName("").WithStdout(&stdout).WithArgs(append([]string{"goguest"}, args...)...).
		WithStartFunctions()
	mod, err := rt.InstantiateModule(ctx, cm, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(ctx)
	fuel := mod.ExportedGlobal(GlobalFuel)
	s := &session{mod: mod, fuel: fuel != nil}
	if s.fuel {
		s.setFuel(budget)
	}
	var r goRun
	_, err = mod.ExportedFunction("_start").Call(ctx)
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit):
		r.exitCode = exit.ExitCode()
	case err != nil:
		r.err = firstLine(err)
	}
	r.stdout = stdout.String()
	if s.fuel {
		// proc_exit closes the module, but its globals stay readable.
		r.used = budget - s.fuelLeft()
		r.exhausted = s.exhausted()
	}
	return r
}

func compileWASI(t testing.TB, cfg wazero.RuntimeConfig, wasm []byte) (wazero.Runtime, wazero.CompiledModule) {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	t.Cleanup(func() { rt.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	return rt, cm
}

// TestGoGuest runs a standard Go wasip1 program original and instrumented on both engines: same output and exit
// code, the same fuel on both engines, and its `for {}` stops out of fuel. On the compiler it also runs under the
// naive oracle: a Go command ends inside proc_exit, a call that never returns, so the default rewrite has
// pre-paid a few units more than the oracle counts and the CallsEndBlocks rewrite exactly as many.
func TestGoGuest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and compiles a 3 MB Go module")
	}
	orig := goGuest(t)
	inst := mustInstrument(t, orig, DefaultOptions())
	var used []uint64
	for _, e := range engines {
		rt, cm := compileWASI(t, e.cfg(), orig)
		want := runGoGuest(t, rt, cm, 0)
		if want.err != "" || want.exitCode != 0 || want.stdout == "" {
			t.Fatalf("%s: original: %+v", e.name, want)
		}
		rt, cm = compileWASI(t, e.cfg(), inst)
		got := runGoGuest(t, rt, cm, math.MaxInt64)
		if got.stdout != want.stdout || got.exitCode != want.exitCode || got.err != "" {
			t.Errorf("%s: got %+v, want %+v", e.name, got, want)
		}
		spin := runGoGuest(t, rt, cm, 5_000_000, "spin")
		if spin.err == "" || spin.exhausted != ExhaustedFuel || spin.used <= 5_000_000 {
			t.Errorf("%s: spin: got %+v, want out of fuel", e.name, spin)
		}
		used = append(used, got.used)
		t.Logf("%s: used %d", e.name, got.used)
	}
	if used[0] != used[1] {
		t.Errorf("compiler used %d, interpreter %d", used[0], used[1])
	}

	cfg := wazero.NewRuntimeConfigCompiler()
	naive, _, err := instrument(orig, DefaultOptions(), planNaive)
	if err != nil {
		t.Fatal(err)
	}
	rt, cm := compileWASI(t, cfg, naive)
	oracle := runGoGuest(t, rt, cm, math.MaxInt64)
	if d := used[0] - oracle.used; used[0] < oracle.used || d > 1000 {
		t.Errorf("metered used %d, naive oracle %d: want at most 1000 more", used[0], oracle.used)
	}
	exact := DefaultOptions()
	exact.CallsEndBlocks = true
	rt, cm = compileWASI(t, cfg, mustInstrument(t, orig, exact))
	if got := runGoGuest(t, rt, cm, math.MaxInt64); got.used != oracle.used {
		t.Errorf("CallsEndBlocks used %d, naive oracle %d", got.used, oracle.used)
	}
	t.Logf("naive oracle %d, default %d (+%d)", oracle.used, used[0], used[0]-oracle.used)
}
