// Package peers compares Toolgate's execution layer with wasmtime, side by side on the same module bytes:
// fuel counts (wasmtime's native fuel against runtime/fuel's instrumentation on wazero), the time of the
// fuel-metered kernels of runtime/fuel/testdata/kernels on both engines, and the cost of a fresh instance per
// call, Toolgate's own runtime.Invoke included.
//
// It is a separate Go module (github.com/toolgate/toolgate/bench/peers) because wasmtime-go needs cgo and a
// ~50 MB static library that its module ships: the main module must build and test without either, so nothing
// in it imports this one, and `go test ./...` from the repository root does not reach it. go.mod points the
// main module at ../.. with a replace directive, so the fuel instrumenter, the runtime and the kernels measured
// are the checkout's own.
//
// The Go benchmarks are in peers_test.go (BenchmarkKernels, BenchmarkFreshInstance; TestCounts checks that the
// counts agree); cmd/peerreport runs them in several fresh processes and writes the "Peer comparison" section
// of docs/BENCHMARKS.md. bench/peers/run.sh is the entry point, and bench/run.sh (make bench) calls it when
// cgo and a C compiler are available.
package peers
