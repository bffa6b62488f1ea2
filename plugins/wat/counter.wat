;; counter: Extism ABI. Increments a mutable global and a memory cell, then outputs both as two little-endian
;; u64s. In a fresh sandbox per call, every call outputs 1 and 1.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory 1)
  (global $calls (mut i64) (i64.const 0))
  (func (export "run") (result i32)
    (local $ptr i64)
    (global.set $calls (i64.add (global.get $calls) (i64.const 1)))
    (i64.store (i32.const 64) (i64.add (i64.load (i32.const 64)) (i64.const 1)))
    (local.set $ptr (call $alloc (i64.const 16)))
    (call $store_u64 (local.get $ptr) (global.get $calls))
    (call $store_u64 (i64.add (local.get $ptr) (i64.const 8)) (i64.load (i32.const 64)))
    (call $output_set (local.get $ptr) (i64.const 16))
    (i32.const 0)))
