;; fail: Extism ABI. Sets an error message with error_set and returns 1.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (memory 1)
  (data (i32.const 0) "refund declined: insufficient funds")
  (func (export "run") (result i32)
    (local $ptr i64) (local $i i32)
    (local.set $ptr (call $alloc (i64.const 35)))
    (block $done
      (loop $copy
        (br_if $done (i32.ge_u (local.get $i) (i32.const 35)))
        (call $store_u8 (i64.add (local.get $ptr) (i64.extend_i32_u (local.get $i)))
          (i32.load8_u (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
    (call $error_set (local.get $ptr))
    (i32.const 1)))
