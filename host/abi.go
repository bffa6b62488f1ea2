package host

import (
	"sort"

	"github.com/tetratelabs/wazero/api"
)

// ABIVersion is the version of the host ABI that Toolgate offers guests: the set of importable host functions
// and their signatures. Bump it, with a line below, whenever a function is added, removed or changes meaning.
//
// History:
//   - 1 (2026-11-25): the Extism kernel ABI as extism/go-sdk v1.7.1 provides it in module "extism:host/env"
//     (ExtismEnv), plus wasi_snapshot_preview1 as wazero v1.12.0 provides it (no filesystem, no environment,
//     fake clocks, deterministic randomness). http_request denies every destination.
//   - 2 (2026-11-25): http_request sends through the network door (Door, CallDoor): grants, secrets, caps and a
//     receipt line per attempt; a request the door refuses or cannot complete is answered with
//     FailureResponse (403, 429 or 502) instead of trapping the guest. http_headers answers the last
//     response's headers. Every other function keeps go-sdk v1.7.1's meaning, offsets and errors.
const ABIVersion = 2

// ExtismEnvModule is the import module name of the Extism kernel ABI.
const ExtismEnvModule = "extism:host/env"

// Signature is a host function's parameter and result types.
type Signature struct {
	Params, Results []api.ValueType
}

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

func sig(params []api.ValueType, results ...api.ValueType) Signature {
	return Signature{Params: params, Results: results}
}

// extismEnv lists every function of module "extism:host/env" with its signature. Offsets are i64 into the
// Extism kernel's memory, not the guest's. The list mirrors extism/go-sdk v1.7.1 host.go (instantiateEnvModule);
// a test in runtime instantiates a fixture importing all of them.
var extismEnv = map[string]Signature{
	"alloc":            sig([]api.ValueType{i64}, i64),
	"free":             sig([]api.ValueType{i64}),
	"length":           sig([]api.ValueType{i64}, i64),
	"length_unsafe":    sig([]api.ValueType{i64}, i64),
	"load_u8":          sig([]api.ValueType{i64}, i32),
	"load_u64":         sig([]api.ValueType{i64}, i64),
	"store_u8":         sig([]api.ValueType{i64, i32}),
	"store_u64":        sig([]api.ValueType{i64, i64}),
	"input_length":     sig(nil, i64),
	"input_offset":     sig(nil, i64),
	"input_load_u8":    sig([]api.ValueType{i64}, i32),
	"input_load_u64":   sig([]api.ValueType{i64}, i64),
	"input_set":        sig([]api.ValueType{i64, i64}),
	"output_length":    sig(nil, i64),
	"output_offset":    sig(nil, i64),
	"output_set":       sig([]api.ValueType{i64, i64}),
	"reset":            sig(nil),
	"error_set":        sig([]api.ValueType{i64}),
	"error_get":        sig(nil, i64),
	"memory_bytes":     sig(nil, i64),
	"config_get":       sig([]api.ValueType{i64}, i64),
	"var_get":          sig([]api.ValueType{i64}, i64),
	"var_set":          sig([]api.ValueType{i64, i64}),
	"http_request":     sig([]api.ValueType{i64, i64}, i64),
	"http_status_code": sig(nil, i32),
	"http_headers":     sig(nil, i64),
	"get_log_level":    sig(nil, i32),
	"log_trace":        sig([]api.ValueType{i64}),
	"log_debug":        sig([]api.ValueType{i64}),
	"log_info":         sig([]api.ValueType{i64}),
	"log_warn":         sig([]api.ValueType{i64}),
	"log_error":        sig([]api.ValueType{i64}),
}

// ExtismEnv returns the signature of function name of module "extism:host/env", and whether the host provides it.
func ExtismEnv(name string) (Signature, bool) {
	s, ok := extismEnv[name]
	if !ok {
		return Signature{}, false
	}
	return Signature{Params: append([]api.ValueType(nil), s.Params...), Results: append([]api.ValueType(nil), s.Results...)}, true
}

// ExtismEnvNames returns the names of the functions of module "extism:host/env", sorted.
func ExtismEnvNames() []string {
	names := make([]string, 0, len(extismEnv))
	for n := range extismEnv {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
