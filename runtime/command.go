package runtime

import (
	"bytes"
	"context"
	"errors"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"
)

// commandArgv0 is the only argument a WASI command gets: its program name.
const commandArgv0 = "tool"

// runCommand runs a WASI command: its entry (normally _start) is the call, run right after instantiation (after
// the deferred start function, under the call's fuel, when the module is metered). Input is stdin, output is
// stdout (capped), and the exit code decides success.
func (r *Runtime) runCommand(ctx context.Context, cm wazero.CompiledModule, sc *sandboxCall) (out outcome) {
	mc := wazero.NewModuleConfig().
		WithName(""). // anonymous, so concurrent calls can instantiate the same module
		WithArgs(commandArgv0).
		WithStdin(bytes.NewReader(sc.input)).
		WithStdout(sc.stdout).
		WithStderr(sc.stderr).
		WithRandSource(new(detRand)).
		WithStartFunctions()
	mod, err := r.cmd.InstantiateModule(ctx, cm, mc)
	if err == nil {
		defer mod.Close(context.Background())
		g := sc.meter.bind(mod)
		defer g.finish(mod, &out)
		if err = g.runStart(ctx, mod); err == nil {
			_, err = mod.ExportedFunction(sc.entry).Call(ctx)
		}
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) && exit.ExitCode() != sys.ExitCodeDeadlineExceeded && exit.ExitCode() != sys.ExitCodeContextCanceled {
		out.rc = exit.ExitCode()
	} else {
		out.err = err
	}
	return out
}
