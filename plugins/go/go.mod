module github.com/toolgate/toolgate/plugins/go

go 1.25.0

require (
	github.com/extism/go-pdk v1.1.3
	github.com/toolgate/toolgate/sdk/go v0.0.0
)

// The Go kit lives in this repository (sdk/go); it is not published as a module of its own.
replace github.com/toolgate/toolgate/sdk/go => ../../sdk/go
