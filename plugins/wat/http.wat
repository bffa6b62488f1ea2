;; http: Extism ABI. Sends GET https://example.com/secret through http_request (which the host denies today).
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "http_request" (func $http_request (param i64 i64) (result i64)))
  (memory 1)
  (data (i32.const 0) "{\"url\":\"https://example.com/secret\",\"method\":\"GET\"}")
  (func (export "run") (result i32)
    (local $ptr i64) (local $i i32)
    (local.set $ptr (call $alloc (i64.const 51)))
    (block $done
      (loop $copy
        (br_if $done (i32.ge_u (local.get $i) (i32.const 51)))
        (call $store_u8 (i64.add (local.get $ptr) (i64.extend_i32_u (local.get $i)))
          (i32.load8_u (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
    (drop (call $http_request (local.get $ptr) (i64.const 0)))
    (i32.const 0)))
