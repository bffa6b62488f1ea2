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

// runCommand runs a WASI command: instantiating it runs its entry (normally _start) as the call. Input is stdin,
// output is stdout (capped), and the exit code decides success.
func (r *Runtime) runCommand(ctx context.Context, cm wazero.CompiledModule, sc *sandboxCall) outcome {
	mc := wazero.NewModuleConfig().
		WithName(""). // anonymous, so concurrent calls can instantiate the same module
		WithArgs(commandArgv0).
		WithStdin(bytes.NewReader(sc.input)).
		WithStdout(sc.stdout).
		WithStderr(sc.stderr).
		WithStartFunctions(sc.entry)
	mod, err := r.cmd.InstantiateModule(ctx, cm, mc)
	if mod != nil {
		_ = mod.Close(context.Background())
	}
	var out outcome
	var exit *sys.ExitError
	if errors.As(err, &exit) && exit.ExitCode() != sys.ExitCodeDeadlineExceeded && exit.ExitCode() != sys.ExitCodeContextCanceled {
		out.rc = exit.ExitCode()
	} else {
		out.err = err
	}
	return out
}
