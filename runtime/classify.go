package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/toolgate/toolgate/host"
	"github.com/toolgate/toolgate/receipts"
)

// maxMessageBytes bounds a Result's Error.
const maxMessageBytes = 1024

// classify turns an engine's outcome into a Result's Status, Error and Output. In order of precedence:
// a status the engine decided; out_of_fuel (the guest trapped at a failed fuel charge); timeout (the call's context ended while the guest ran); output_limit (a WASI
// command wrote past the cap); memory_limit (the call failed after a refused memory growth); trap; tool_error;
// output_limit (an Extism output over the cap); ok.
func classify(parent, callCtx context.Context, abi ABI, out outcome, sc *sandboxCall, mem *memLimiter, lim Limits) Result {
	if out.status != "" {
		return Result{Status: out.status, Error: out.message}
	}
	if out.outOfFuel {
		return Result{Status: receipts.StatusOutOfFuel, Error: fmt.Sprintf("fuel limit of %d used up", out.fuel.Limit)}
	}
	stderr := strings.TrimSpace(string(sc.stderr.bytes()))

	var status, msg string
	switch abi {
	case ABIWASICommand:
		switch {
		case out.err != nil:
			status, msg = receipts.StatusTrap, trapMessage(out.err)
		case out.rc != 0:
			status, msg = receipts.StatusToolError, stderr
			if msg == "" {
				msg = fmt.Sprintf("exit code %d", out.rc)
			}
		}
	default:
		switch {
		case out.err != nil:
			// A guest runtime that crashes (a Go panic) says why on stderr before it traps or exits.
			status, msg = receipts.StatusTrap, trapMessage(out.err)
			if line := firstLine(stderr); line != "" {
				msg += "; stderr: " + line
			}
		case out.rc != 0 || out.guestErr != "":
			status, msg = receipts.StatusToolError, out.guestErr
			if msg == "" {
				msg = fmt.Sprintf("tool returned %d", out.rc)
			}
		}
	}
	failed := status != ""

	switch {
	case failed && callCtx.Err() != nil:
		status, msg = receipts.StatusTimeout, fmt.Sprintf("call exceeded its timeout of %s", lim.Timeout)
		if parent.Err() != nil {
			msg = "call canceled: " + parent.Err().Error()
		}
	case abi == ABIWASICommand && sc.stdout.overflowed():
		status, msg = receipts.StatusOutputLimit, fmt.Sprintf("output over the limit of %d bytes", lim.MaxOutputBytes)
	case failed && mem.wasRefused():
		detail := msg
		status, msg = receipts.StatusMemoryLimit, fmt.Sprintf("memory limit of %d bytes reached", lim.MemoryBytes)
		if detail != "" {
			msg += ": " + detail
		}
	case failed:
	case abi != ABIWASICommand && int64(max(uint64(len(out.output)), out.outputLen)) > lim.MaxOutputBytes:
		status, msg = receipts.StatusOutputLimit, fmt.Sprintf("output is %d bytes, over the limit of %d",
			max(uint64(len(out.output)), out.outputLen), lim.MaxOutputBytes)
	default:
		output := out.output
		if abi == ABIWASICommand {
			output = sc.stdout.bytes()
		}
		if output == nil {
			output = []byte{}
		}
		return Result{Status: receipts.StatusOK, Output: output}
	}
	return Result{Status: status, Error: host.Truncate(msg, maxMessageBytes)}
}

// trapMessage shortens a wazero error to its first line ("wasm error: unreachable"), without the stack trace or
// the wrapping wazero adds around a host function's panic.
func trapMessage(err error) string {
	var exit interface{ ExitCode() uint32 }
	if errors.As(err, &exit) {
		return fmt.Sprintf("guest exited with code %d", exit.ExitCode())
	}
	msg := firstLine(err.Error())
	msg = strings.TrimSuffix(msg, " (recovered by wazero)")
	if msg == "" {
		msg = "trap"
	}
	return msg
}

// firstLine returns s up to its first newline, trimmed.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}
