// Package sdk holds the plugin-author kits, one directory per language (c, rust, assemblyscript, zig; the Go kit
// is its own module in go/), and the Go client of the HTTP API in client/. Kits embeds the single-file kits so
// that `toolgate init` copies them into new projects from the very files in this directory.
package sdk

import "embed"

// Kits holds c/toolgate.h, rust/toolgate.rs, assemblyscript/toolgate.ts and zig/toolgate.zig.
//
//go:embed c/toolgate.h rust/toolgate.rs assemblyscript/toolgate.ts zig/toolgate.zig
var Kits embed.FS
