// Package bench holds Toolgate's whole-system benchmarks: what one fresh-sandbox call costs through Toolgate's
// runtime, against the floors under it, and what the real server sustains over HTTP with receipts on.
//
// Three subjects run the same module, side by side in one process:
//
//   - "toolgate": runtime.Invoke, everything a call through the server's runtime pays (limits, memory
//     accounting, log capture, fuel metering, the native Extism engine underneath).
//   - "wazero": raw wazero v1.12.0 under the same RuntimeConfig as Toolgate's: instantiate the compiled module
//     anonymously (running _initialize when it has one), call the entry, close. An Extism-ABI module gets
//     extism:host/env as plain Go host functions over a per-call Go byte arena (rawKernel) instead of the SDK's
//     Wasm kernel; nothing else (no memory cap, timeout, output cap or log capture). It is the floor.
//   - "extism-sdk": the Extism Go SDK v1.7.1 alone, CompiledPlugin.Instance + Call + Close, WASI on, under the
//     same RuntimeConfig.
//
// The cases (Cases) are nop (no imports, one page: the pure floor), echo (the Extism-ABI WAT fixture) and hello
// (the Go plugin built by plugins/build.sh, WASI and the Go runtime's init in every sandbox).
//
// StartServer, Publish and Load drive the real server (Badger store, server.New, Serve on loopback, fuel metering
// on) for the HTTP figures, on either Extism ABI engine (ServerOptions.Engine): the native engine, the default,
// or the Extism Go SDK it is tested against. ServerOptions.NoReceipts starts one with receipts off, to measure
// what the receipt log costs (issue 7). cmd/loadgen runs one server per engine, and with -receipts-off a second
// native one with receipts off, and interleaves their runs.
// bench/run.sh runs everything and writes docs/BENCHMARKS.md through cmd/benchreport.
//
// This package is allowed to import wazero, the Extism SDK, server and registry/badger: comparing the layers is
// its purpose (internal/deptest).
package bench
