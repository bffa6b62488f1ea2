// Package deptest holds no code: its tests enforce the architecture's import rules (which package may import
// Fiber, Badger, wazero and the Extism SDK, and the one-way flow between Toolgate's packages) and that every
// package has a doc comment.
package deptest
