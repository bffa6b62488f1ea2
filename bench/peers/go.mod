// The peer comparison against wasmtime: a module of its own so that the main module never needs cgo
// (wasmtime-go links a static libwasmtime.a). It measures the checkout's own runtime/fuel, through the replace.
module github.com/toolgate/toolgate/bench/peers

go 1.26.0

require (
	github.com/bytecodealliance/wasmtime-go/v39 v39.0.1
	github.com/tetratelabs/wazero v1.12.0
	github.com/toolgate/toolgate v0.0.0
)

require golang.org/x/sys v0.48.0 // indirect

replace github.com/toolgate/toolgate => ../..
