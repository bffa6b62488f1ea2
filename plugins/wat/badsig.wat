;; badsig: imports extism:host/env alloc with the wrong signature (i32 instead of i64).
(module
  (import "extism:host/env" "alloc" (func $alloc (param i32) (result i32)))
  (func (export "run") (result i32)
    (drop (call $alloc (i32.const 8)))
    (i32.const 0)))
