;; The conformance tool written by hand in WebAssembly text, against the raw Extism ABI of module
;; "extism:host/env" (docs/ABI.md; behaviours: plugins/conformance/README.md). It shows what every kit does
;; underneath: copy the input in 8 bytes per host call, build the output in the guest's own memory, and hand it
;; over through a block of host memory.
;; Build: wat2wasm conformance.wat -o conformance-wat.wasm
;;
;; Memory: constant strings at 64..365; a bump heap from 1024 upward that never frees ($top; each call runs in
;; a fresh sandbox). Output is built by $emit* at $top, which moves as bytes are written.
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "alloc" (func $host_alloc (param i64) (result i64)))
  (import "extism:host/env" "length" (func $host_length (param i64) (result i64)))
  (import "extism:host/env" "load_u8" (func $load_u8 (param i64) (result i32)))
  (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
  (import "extism:host/env" "http_request" (func $http_request (param i64 i64) (result i64)))
  (import "extism:host/env" "http_status_code" (func $http_status_code (result i32)))
  (import "extism:host/env" "log_info" (func $log_info (param i64)))
  (import "extism:host/env" "log_warn" (func $log_warn (param i64)))
  (import "extism:host/env" "log_error" (func $log_error (param i64)))

  (memory (export "memory") 1)

  ;; constant strings: (data) at each offset, and a pair of globals naming its offset and length
  (data (i32.const 64) "echo")
  (global $echo i32 (i32.const 64)) (global $echo_n i32 (i32.const 4))
  (data (i32.const 68) "upper")
  (global $upper i32 (i32.const 68)) (global $upper_n i32 (i32.const 5))
  (data (i32.const 73) "json")
  (global $json i32 (i32.const 73)) (global $json_n i32 (i32.const 4))
  (data (i32.const 77) "error")
  (global $error i32 (i32.const 77)) (global $error_n i32 (i32.const 5))
  (data (i32.const 82) "config")
  (global $config i32 (i32.const 82)) (global $config_n i32 (i32.const 6))
  (data (i32.const 88) "log")
  (global $log i32 (i32.const 88)) (global $log_n i32 (i32.const 3))
  (data (i32.const 91) "big")
  (global $big i32 (i32.const 91)) (global $big_n i32 (i32.const 3))
  (data (i32.const 94) "http")
  (global $http i32 (i32.const 94)) (global $http_n i32 (i32.const 4))
  (data (i32.const 98) "trap")
  (global $trap i32 (i32.const 98)) (global $trap_n i32 (i32.const 4))
  (data (i32.const 102) "upper: input is not valid UTF-8")
  (global $e_utf8 i32 (i32.const 102)) (global $e_utf8_n i32 (i32.const 31))
  (data (i32.const 133) "json: want an object with a string \"name\"")
  (global $e_json i32 (i32.const 133)) (global $e_json_n i32 (i32.const 41))
  (data (i32.const 174) "name")
  (global $name i32 (i32.const 174)) (global $name_n i32 (i32.const 4))
  (data (i32.const 178) "{\"greeting\":\"Hello, ")
  (global $g_open i32 (i32.const 178)) (global $g_open_n i32 (i32.const 20))
  (data (i32.const 198) "!\",\"length\":")
  (global $g_mid i32 (i32.const 198)) (global $g_mid_n i32 (i32.const 12))
  (data (i32.const 210) "}")
  (global $close i32 (i32.const 210)) (global $close_n i32 (i32.const 1))
  (data (i32.const 211) "config: ")
  (global $cfg_pre i32 (i32.const 211)) (global $cfg_pre_n i32 (i32.const 8))
  (data (i32.const 219) " is not set")
  (global $cfg_post i32 (i32.const 219)) (global $cfg_post_n i32 (i32.const 11))
  (data (i32.const 230) "big: want a decimal size")
  (global $e_big i32 (i32.const 230)) (global $e_big_n i32 (i32.const 24))
  (data (i32.const 254) "unknown command \"")
  (global $unk_pre i32 (i32.const 254)) (global $unk_pre_n i32 (i32.const 17))
  (data (i32.const 271) "\"")
  (global $quote i32 (i32.const 271)) (global $quote_n i32 (i32.const 1))
  (data (i32.const 272) "{\"method\":\"GET\",\"url\":")
  (global $req_pre i32 (i32.const 272)) (global $req_pre_n i32 (i32.const 22))
  (data (i32.const 294) ",\"headers\":{\"Authorization\":\"Bearer {{secret:TOKEN}}\"}}")
  (global $req_post i32 (i32.const 294)) (global $req_post_n i32 (i32.const 55))
  (data (i32.const 349) "0123456789abcdef")
  (global $hex i32 (i32.const 349)) (global $hex_n i32 (i32.const 16))

  ;; the bump heap, and where the json command leaves the decoded name
  (global $top (mut i32) (i32.const 1024))
  (global $name_ptr (mut i32) (i32.const 0))
  (global $name_len (mut i32) (i32.const 0))
  ;; the JSON document being read
  (global $js (mut i32) (i32.const 0))
  (global $jn (mut i32) (i32.const 0))

  ;; ---- memory ---------------------------------------------------------------------------------------------

  ;; $ensure grows memory to reach address $end; a growth the memory limit refuses traps.
  (func $ensure (param $end i32)
    (local $have i32)
    (local.set $have (i32.mul (memory.size) (i32.const 65536)))
    (if (i32.gt_u (local.get $end) (local.get $have))
      (then
        (if (i32.eq
              (memory.grow (i32.div_u (i32.add (i32.sub (local.get $end) (local.get $have)) (i32.const 65535))
                                      (i32.const 65536)))
              (i32.const -1))
          (then unreachable)))))

  ;; $alloc returns $n fresh bytes at the top of the heap, 8-aligned.
  (func $alloc (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $top) (i32.const 7)) (i32.const -8)))
    (call $ensure (i32.add (local.get $p) (local.get $n)))
    (global.set $top (i32.add (local.get $p) (local.get $n)))
    (local.get $p))

  ;; $emit_byte and $emit append to the heap top: output is built there.
  (func $emit_byte (param $c i32)
    (call $ensure (i32.add (global.get $top) (i32.const 1)))
    (i32.store8 (global.get $top) (local.get $c))
    (global.set $top (i32.add (global.get $top) (i32.const 1))))

  (func $emit (param $p i32) (param $n i32)
    (local $i i32)
    (call $ensure (i32.add (global.get $top) (local.get $n)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8 (i32.add (global.get $top) (local.get $i)) (i32.load8_u (i32.add (local.get $p) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (global.set $top (i32.add (global.get $top) (local.get $n))))

  ;; $emit_u appends the decimal digits of $v (built backwards in the scratch bytes 0..32).
  (func $emit_u (param $v i64)
    (local $i i32)
    (local.set $i (i32.const 32))
    (loop $next
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (local.get $i)
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $next (i64.ne (local.get $v) (i64.const 0))))
    (call $emit (local.get $i) (i32.sub (i32.const 32) (local.get $i))))

  (func $eq (param $p i32) (param $n i32) (param $q i32) (param $m i32) (result i32)
    (local $i i32)
    (if (i32.ne (local.get $n) (local.get $m)) (then (return (i32.const 0))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.ne (i32.load8_u (i32.add (local.get $p) (local.get $i)))
                    (i32.load8_u (i32.add (local.get $q) (local.get $i))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 1))

  ;; ---- the host's memory ----------------------------------------------------------------------------------

  ;; $host_put copies $n bytes at $p into a fresh block of host memory, 8 bytes per call, and returns its offset.
  (func $host_put (param $p i32) (param $n i32) (result i64)
    (local $off i64) (local $i i32)
    (local.set $off (call $host_alloc (i64.extend_i32_u (local.get $n))))
    (block $words
      (loop $next
        (br_if $words (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $n)))
        (call $store_u64 (i64.add (local.get $off) (i64.extend_i32_u (local.get $i)))
          (i64.load (i32.add (local.get $p) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $next)))
    (block $bytes
      (loop $next
        (br_if $bytes (i32.ge_u (local.get $i) (local.get $n)))
        (call $store_u8 (i64.add (local.get $off) (i64.extend_i32_u (local.get $i)))
          (i32.load8_u (i32.add (local.get $p) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $off))

  ;; $host_get copies $n bytes of the host block at $off into fresh guest memory.
  (func $host_get (param $off i64) (param $n i32) (result i32)
    (local $p i32) (local $i i32)
    (local.set $p (call $alloc (local.get $n)))
    (block $words
      (loop $next
        (br_if $words (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $n)))
        (i64.store (i32.add (local.get $p) (local.get $i))
          (call $load_u64 (i64.add (local.get $off) (i64.extend_i32_u (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $next)))
    (block $bytes
      (loop $next
        (br_if $bytes (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8 (i32.add (local.get $p) (local.get $i))
          (call $load_u8 (i64.add (local.get $off) (i64.extend_i32_u (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $p))

  (func $output (param $p i32) (param $n i32)
    (call $output_set (call $host_put (local.get $p) (local.get $n)) (i64.extend_i32_u (local.get $n))))

  ;; $fail sets the error message and returns 1: the call ends as a tool_error.
  (func $fail (param $p i32) (param $n i32) (result i32)
    (call $error_set (call $host_put (local.get $p) (local.get $n)))
    (i32.const 1))

  ;; ---- UTF-8 ----------------------------------------------------------------------------------------------

  ;; $utf8_valid: no overlong forms, surrogates, or values past U+10FFFF.
  (func $utf8_valid (param $p i32) (param $n i32) (result i32)
    (local $i i32) (local $c i32) (local $k i32) (local $lo i32) (local $hi i32) (local $j i32)
    (block $ok
      (loop $next
        (br_if $ok (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $c (i32.load8_u (i32.add (local.get $p) (local.get $i))))
        (if (i32.lt_u (local.get $c) (i32.const 0x80))
          (then
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $next)))
        (local.set $lo (i32.const 0x80))
        (local.set $hi (i32.const 0xBF))
        (if (i32.and (i32.ge_u (local.get $c) (i32.const 0xC2)) (i32.le_u (local.get $c) (i32.const 0xDF)))
          (then (local.set $k (i32.const 1)))
          (else
            (if (i32.and (i32.ge_u (local.get $c) (i32.const 0xE0)) (i32.le_u (local.get $c) (i32.const 0xEF)))
              (then
                (local.set $k (i32.const 2))
                (if (i32.eq (local.get $c) (i32.const 0xE0)) (then (local.set $lo (i32.const 0xA0))))
                (if (i32.eq (local.get $c) (i32.const 0xED)) (then (local.set $hi (i32.const 0x9F)))))
              (else
                (if (i32.and (i32.ge_u (local.get $c) (i32.const 0xF0)) (i32.le_u (local.get $c) (i32.const 0xF4)))
                  (then
                    (local.set $k (i32.const 3))
                    (if (i32.eq (local.get $c) (i32.const 0xF0)) (then (local.set $lo (i32.const 0x90))))
                    (if (i32.eq (local.get $c) (i32.const 0xF4)) (then (local.set $hi (i32.const 0x8F)))))
                  (else (return (i32.const 0))))))))
        (if (i32.le_u (i32.sub (local.get $n) (local.get $i)) (local.get $k)) (then (return (i32.const 0))))
        (local.set $c (i32.load8_u (i32.add (i32.add (local.get $p) (local.get $i)) (i32.const 1))))
        (if (i32.or (i32.lt_u (local.get $c) (local.get $lo)) (i32.gt_u (local.get $c) (local.get $hi)))
          (then (return (i32.const 0))))
        (local.set $j (i32.const 2))
        (block $seq
          (loop $more
            (br_if $seq (i32.gt_u (local.get $j) (local.get $k)))
            (if (i32.ne (i32.and (i32.load8_u (i32.add (i32.add (local.get $p) (local.get $i)) (local.get $j)))
                                 (i32.const 0xC0))
                        (i32.const 0x80))
              (then (return (i32.const 0))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $more)))
        (local.set $i (i32.add (local.get $i) (i32.add (local.get $k) (i32.const 1))))
        (br $next)))
    (i32.const 1))

  ;; $put_utf8 appends code point $r as UTF-8.
  (func $put_utf8 (param $r i32)
    (if (i32.lt_u (local.get $r) (i32.const 0x80))
      (then (call $emit_byte (local.get $r)) (return)))
    (if (i32.lt_u (local.get $r) (i32.const 0x800))
      (then
        (call $emit_byte (i32.or (i32.const 0xC0) (i32.shr_u (local.get $r) (i32.const 6))))
        (call $emit_byte (i32.or (i32.const 0x80) (i32.and (local.get $r) (i32.const 0x3F))))
        (return)))
    (if (i32.lt_u (local.get $r) (i32.const 0x10000))
      (then
        (call $emit_byte (i32.or (i32.const 0xE0) (i32.shr_u (local.get $r) (i32.const 12))))
        (call $emit_byte (i32.or (i32.const 0x80) (i32.and (i32.shr_u (local.get $r) (i32.const 6)) (i32.const 0x3F))))
        (call $emit_byte (i32.or (i32.const 0x80) (i32.and (local.get $r) (i32.const 0x3F))))
        (return)))
    (call $emit_byte (i32.or (i32.const 0xF0) (i32.shr_u (local.get $r) (i32.const 18))))
    (call $emit_byte (i32.or (i32.const 0x80) (i32.and (i32.shr_u (local.get $r) (i32.const 12)) (i32.const 0x3F))))
    (call $emit_byte (i32.or (i32.const 0x80) (i32.and (i32.shr_u (local.get $r) (i32.const 6)) (i32.const 0x3F))))
    (call $emit_byte (i32.or (i32.const 0x80) (i32.and (local.get $r) (i32.const 0x3F)))))

  ;; ---- JSON -----------------------------------------------------------------------------------------------
  ;; Functions take an index into the document ($js, $jn) and return the index after what they read, or -1.

  ;; $jc is the byte at $i, or -1 past the end.
  (func $jc (param $i i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $i) (global.get $jn))
      (then (i32.load8_u (i32.add (global.get $js) (local.get $i))))
      (else (i32.const -1))))

  (func $ws (param $i i32) (result i32)
    (local $c i32)
    (loop $next
      (local.set $c (call $jc (local.get $i)))
      (if (i32.or (i32.or (i32.eq (local.get $c) (i32.const 32)) (i32.eq (local.get $c) (i32.const 9)))
                  (i32.or (i32.eq (local.get $c) (i32.const 10)) (i32.eq (local.get $c) (i32.const 13))))
        (then
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $next))))
    (local.get $i))

  ;; $hex4 is the value of the four hex digits at $i, or -1.
  (func $hex4 (param $i i32) (result i32)
    (local $v i32) (local $j i32) (local $c i32) (local $d i32)
    (block $done
      (loop $next
        (br_if $done (i32.eq (local.get $j) (i32.const 4)))
        (local.set $c (call $jc (i32.add (local.get $i) (local.get $j))))
        (if (i32.and (i32.ge_s (local.get $c) (i32.const 48)) (i32.le_s (local.get $c) (i32.const 57)))
          (then (local.set $d (i32.sub (local.get $c) (i32.const 48))))
          (else
            (if (i32.and (i32.ge_s (local.get $c) (i32.const 97)) (i32.le_s (local.get $c) (i32.const 102)))
              (then (local.set $d (i32.sub (local.get $c) (i32.const 87))))
              (else
                (if (i32.and (i32.ge_s (local.get $c) (i32.const 65)) (i32.le_s (local.get $c) (i32.const 70)))
                  (then (local.set $d (i32.sub (local.get $c) (i32.const 55))))
                  (else (return (i32.const -1))))))))
        (local.set $v (i32.add (i32.mul (local.get $v) (i32.const 16)) (local.get $d)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $next)))
    (local.get $v))

  ;; $jstr reads the string at $i; with $decode it appends the decoded bytes at the heap top. Escaped surrogate
  ;; pairs become one character; a lone surrogate becomes U+FFFD.
  (func $jstr (param $i i32) (param $decode i32) (result i32)
    (local $c i32) (local $r i32) (local $lo i32)
    (if (i32.ne (call $jc (local.get $i)) (i32.const 34)) (then (return (i32.const -1))))
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (loop $next
      (local.set $c (call $jc (local.get $i)))
      (if (i32.lt_s (local.get $c) (i32.const 0x20)) (then (return (i32.const -1)))) ;; the end, or a control
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (if (i32.eq (local.get $c) (i32.const 34)) (then (return (local.get $i))))
      (if (i32.ne (local.get $c) (i32.const 92))
        (then
          (if (local.get $decode) (then (call $emit_byte (local.get $c))))
          (br $next)))
      (local.set $c (call $jc (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (block $got
        (local.set $r (local.get $c))
        (br_if $got (i32.or (i32.or (i32.eq (local.get $c) (i32.const 34)) (i32.eq (local.get $c) (i32.const 92)))
                            (i32.eq (local.get $c) (i32.const 47))))
        (local.set $r (i32.const 8))
        (br_if $got (i32.eq (local.get $c) (i32.const 98)))
        (local.set $r (i32.const 12))
        (br_if $got (i32.eq (local.get $c) (i32.const 102)))
        (local.set $r (i32.const 10))
        (br_if $got (i32.eq (local.get $c) (i32.const 110)))
        (local.set $r (i32.const 13))
        (br_if $got (i32.eq (local.get $c) (i32.const 114)))
        (local.set $r (i32.const 9))
        (br_if $got (i32.eq (local.get $c) (i32.const 116)))
        (if (i32.ne (local.get $c) (i32.const 117)) (then (return (i32.const -1))))
        (local.set $r (call $hex4 (local.get $i)))
        (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (i32.const -1))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (if (i32.and (i32.ge_u (local.get $r) (i32.const 0xD800)) (i32.lt_u (local.get $r) (i32.const 0xDC00)))
          (then
            (local.set $lo (i32.const -1))
            (if (i32.and (i32.eq (call $jc (local.get $i)) (i32.const 92))
                         (i32.eq (call $jc (i32.add (local.get $i) (i32.const 1))) (i32.const 117)))
              (then (local.set $lo (call $hex4 (i32.add (local.get $i) (i32.const 2))))))
            (if (i32.and (i32.ge_s (local.get $lo) (i32.const 0xDC00)) (i32.lt_s (local.get $lo) (i32.const 0xE000)))
              (then
                (local.set $r (i32.add (i32.add (i32.const 0x10000)
                                                (i32.shl (i32.sub (local.get $r) (i32.const 0xD800)) (i32.const 10)))
                                       (i32.sub (local.get $lo) (i32.const 0xDC00))))
                (local.set $i (i32.add (local.get $i) (i32.const 6))))
              (else (local.set $r (i32.const 0xFFFD))))
            (br $got)))
        (if (i32.and (i32.ge_u (local.get $r) (i32.const 0xDC00)) (i32.lt_u (local.get $r) (i32.const 0xE000)))
          (then (local.set $r (i32.const 0xFFFD)))))
      (if (local.get $decode) (then (call $put_utf8 (local.get $r))))
      (br $next))
    unreachable)

  ;; $litchar: a character of a number or of true, false, null.
  (func $litchar (param $c i32) (result i32)
    (i32.or
      (i32.or (i32.and (i32.ge_s (local.get $c) (i32.const 48)) (i32.le_s (local.get $c) (i32.const 57)))
              (i32.and (i32.ge_s (local.get $c) (i32.const 97)) (i32.le_s (local.get $c) (i32.const 122))))
      (i32.or (i32.or (i32.eq (local.get $c) (i32.const 45)) (i32.eq (local.get $c) (i32.const 43)))
              (i32.or (i32.eq (local.get $c) (i32.const 46)) (i32.eq (local.get $c) (i32.const 69))))))

  ;; $jskip reads past one value at $i.
  (func $jskip (param $i i32) (result i32)
    (local $c i32) (local $close i32) (local $start i32)
    (local.set $i (call $ws (local.get $i)))
    (local.set $c (call $jc (local.get $i)))
    (if (i32.eq (local.get $c) (i32.const 34)) (then (return (call $jstr (local.get $i) (i32.const 0)))))
    (if (i32.or (i32.eq (local.get $c) (i32.const 123)) (i32.eq (local.get $c) (i32.const 91)))
      (then
        (local.set $close (select (i32.const 125) (i32.const 93) (i32.eq (local.get $c) (i32.const 123))))
        (local.set $i (call $ws (i32.add (local.get $i) (i32.const 1))))
        (if (i32.eq (call $jc (local.get $i)) (local.get $close))
          (then (return (i32.add (local.get $i) (i32.const 1)))))
        (loop $next
          (if (i32.eq (local.get $close) (i32.const 125))
            (then
              (local.set $i (call $jstr (call $ws (local.get $i)) (i32.const 0)))
              (if (i32.lt_s (local.get $i) (i32.const 0)) (then (return (i32.const -1))))
              (local.set $i (call $ws (local.get $i)))
              (if (i32.ne (call $jc (local.get $i)) (i32.const 58)) (then (return (i32.const -1))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))))
          (local.set $i (call $jskip (local.get $i)))
          (if (i32.lt_s (local.get $i) (i32.const 0)) (then (return (i32.const -1))))
          (local.set $i (call $ws (local.get $i)))
          (local.set $c (call $jc (local.get $i)))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (if (i32.eq (local.get $c) (local.get $close)) (then (return (local.get $i))))
          (br_if $next (i32.eq (local.get $c) (i32.const 44))))
        (return (i32.const -1))))
    (local.set $start (local.get $i))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (call $litchar (call $jc (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (select (local.get $i) (i32.const -1) (i32.gt_u (local.get $i) (local.get $start))))

  ;; $get_name finds the string field "name" of the object ($js, $jn), decodes it at the heap top into
  ;; $name_ptr/$name_len, and returns 1; 0 when the document is not an object or has no string "name".
  (func $get_name (result i32)
    (local $i i32) (local $k i32) (local $match i32) (local $found i32) (local $c i32)
    (local.set $i (call $ws (i32.const 0)))
    (if (i32.ne (call $jc (local.get $i)) (i32.const 123)) (then (return (i32.const 0))))
    (local.set $i (call $ws (i32.add (local.get $i) (i32.const 1))))
    (if (i32.eq (call $jc (local.get $i)) (i32.const 125)) (then (return (i32.const 0))))
    (loop $next
      ;; the key, decoded at the top only to compare it, then dropped
      (local.set $k (global.get $top))
      (local.set $i (call $jstr (call $ws (local.get $i)) (i32.const 1)))
      (if (i32.lt_s (local.get $i) (i32.const 0)) (then (return (i32.const 0))))
      (local.set $match (call $eq (local.get $k) (i32.sub (global.get $top) (local.get $k))
                                  (global.get $name) (global.get $name_n)))
      (global.set $top (local.get $k))
      (local.set $i (call $ws (local.get $i)))
      (if (i32.ne (call $jc (local.get $i)) (i32.const 58)) (then (return (i32.const 0))))
      (local.set $i (call $ws (i32.add (local.get $i) (i32.const 1))))
      (if (i32.and (local.get $match) (i32.eq (call $jc (local.get $i)) (i32.const 34)))
        (then
          (local.set $k (global.get $top))
          (local.set $i (call $jstr (local.get $i) (i32.const 1)))
          (if (i32.lt_s (local.get $i) (i32.const 0)) (then (return (i32.const 0))))
          (global.set $name_ptr (local.get $k))
          (global.set $name_len (i32.sub (global.get $top) (local.get $k)))
          (local.set $found (i32.const 1)))
        (else
          (if (local.get $match) (then (local.set $found (i32.const 0))))
          (local.set $i (call $jskip (local.get $i)))
          (if (i32.lt_s (local.get $i) (i32.const 0)) (then (return (i32.const 0))))))
      (local.set $i (call $ws (local.get $i)))
      (local.set $c (call $jc (local.get $i)))
      (if (i32.eq (local.get $c) (i32.const 125))
        (then
          (return (i32.and (local.get $found)
                           (i32.eq (call $ws (i32.add (local.get $i) (i32.const 1))) (global.get $jn))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.eq (local.get $c) (i32.const 44))))
    (i32.const 0))

  ;; $emit_json_byte appends one byte of a JSON string's content, escaped.
  (func $emit_json_byte (param $c i32)
    (local $e i32)
    (block $esc
      (local.set $e (local.get $c))
      (br_if $esc (i32.or (i32.eq (local.get $c) (i32.const 34)) (i32.eq (local.get $c) (i32.const 92))))
      (local.set $e (i32.const 98))
      (br_if $esc (i32.eq (local.get $c) (i32.const 8)))
      (local.set $e (i32.const 102))
      (br_if $esc (i32.eq (local.get $c) (i32.const 12)))
      (local.set $e (i32.const 110))
      (br_if $esc (i32.eq (local.get $c) (i32.const 10)))
      (local.set $e (i32.const 114))
      (br_if $esc (i32.eq (local.get $c) (i32.const 13)))
      (local.set $e (i32.const 116))
      (br_if $esc (i32.eq (local.get $c) (i32.const 9)))
      (if (i32.lt_u (local.get $c) (i32.const 0x20))
        (then
          (call $emit_byte (i32.const 92))
          (call $emit_byte (i32.const 117))
          (call $emit_byte (i32.const 48))
          (call $emit_byte (i32.const 48))
          (call $emit_byte (i32.load8_u (i32.add (global.get $hex) (i32.shr_u (local.get $c) (i32.const 4)))))
          (call $emit_byte (i32.load8_u (i32.add (global.get $hex) (i32.and (local.get $c) (i32.const 15)))))
          (return)))
      (call $emit_byte (local.get $c))
      (return))
    (call $emit_byte (i32.const 92))
    (call $emit_byte (local.get $e)))

  (func $emit_json_content (param $p i32) (param $n i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $emit_json_byte (i32.load8_u (i32.add (local.get $p) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  ;; ---- the commands ---------------------------------------------------------------------------------------

  (func $cmd_upper (param $p i32) (param $n i32) (result i32)
    (local $i i32) (local $c i32) (local $d i32)
    (if (i32.eqz (call $utf8_valid (local.get $p) (local.get $n)))
      (then (return (call $fail (global.get $e_utf8) (global.get $e_utf8_n)))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $c (i32.load8_u (i32.add (local.get $p) (local.get $i))))
        (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
          (then (i32.store8 (i32.add (local.get $p) (local.get $i)) (i32.sub (local.get $c) (i32.const 32))))
          (else
            ;; U+00E0..U+00FE but U+00F7 are C3 A0..C3 BE but C3 B7
            (if (i32.and (i32.eq (local.get $c) (i32.const 0xC3))
                         (i32.lt_u (i32.add (local.get $i) (i32.const 1)) (local.get $n)))
              (then
                (local.set $d (i32.load8_u (i32.add (i32.add (local.get $p) (local.get $i)) (i32.const 1))))
                (if (i32.and (i32.and (i32.ge_u (local.get $d) (i32.const 0xA0)) (i32.le_u (local.get $d) (i32.const 0xBE)))
                             (i32.ne (local.get $d) (i32.const 0xB7)))
                  (then (i32.store8 (i32.add (i32.add (local.get $p) (local.get $i)) (i32.const 1))
                                    (i32.sub (local.get $d) (i32.const 32)))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $output (local.get $p) (local.get $n))
    (i32.const 0))

  (func $cmd_json (param $p i32) (param $n i32) (result i32)
    (local $start i32)
    (global.set $js (local.get $p))
    (global.set $jn (local.get $n))
    (if (i32.eqz (call $get_name))
      (then (return (call $fail (global.get $e_json) (global.get $e_json_n)))))
    (local.set $start (global.get $top))
    (call $emit (global.get $g_open) (global.get $g_open_n))
    (call $emit_json_content (global.get $name_ptr) (global.get $name_len))
    (call $emit (global.get $g_mid) (global.get $g_mid_n))
    (call $emit_u (i64.extend_i32_u (global.get $name_len)))
    (call $emit (global.get $close) (global.get $close_n))
    (call $output (local.get $start) (i32.sub (global.get $top) (local.get $start)))
    (i32.const 0))

  (func $cmd_config (param $p i32) (param $n i32) (result i32)
    (local $v i64) (local $start i32)
    (local.set $v (call $config_get (call $host_put (local.get $p) (local.get $n))))
    (if (i64.ne (local.get $v) (i64.const 0))
      (then
        (if (i64.ne (call $host_length (local.get $v)) (i64.const 0))
          (then
            ;; the value is already in host memory: make it the output as it is
            (call $output_set (local.get $v) (call $host_length (local.get $v)))
            (return (i32.const 0))))))
    (local.set $start (global.get $top))
    (call $emit (global.get $cfg_pre) (global.get $cfg_pre_n))
    (call $emit (local.get $p) (local.get $n))
    (call $emit (global.get $cfg_post) (global.get $cfg_post_n))
    (call $fail (local.get $start) (i32.sub (global.get $top) (local.get $start))))

  (func $cmd_log (param $p i32) (param $n i32) (result i32)
    (local $i i32) (local $from i32) (local $count i32) (local $off i64) (local $start i32)
    (if (i32.gt_u (local.get $n) (i32.const 0))
      (then
        (block $done
          (loop $next
            (br_if $done (i32.gt_u (local.get $i) (local.get $n)))
            (if (if (result i32) (i32.eq (local.get $i) (local.get $n))
                  (then (i32.const 1))
                  (else (i32.eq (i32.load8_u (i32.add (local.get $p) (local.get $i))) (i32.const 10))))
              (then
                (local.set $off (call $host_put (i32.add (local.get $p) (local.get $from))
                                                (i32.sub (local.get $i) (local.get $from))))
                (block $logged
                  (if (i32.eq (i32.rem_u (local.get $count) (i32.const 3)) (i32.const 0))
                    (then (call $log_info (local.get $off)) (br $logged)))
                  (if (i32.eq (i32.rem_u (local.get $count) (i32.const 3)) (i32.const 1))
                    (then (call $log_warn (local.get $off)) (br $logged)))
                  (call $log_error (local.get $off)))
                (local.set $count (i32.add (local.get $count) (i32.const 1)))
                (local.set $from (i32.add (local.get $i) (i32.const 1)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $next)))))
    (local.set $start (global.get $top))
    (call $emit_u (i64.extend_i32_u (local.get $count)))
    (call $output (local.get $start) (i32.sub (global.get $top) (local.get $start)))
    (i32.const 0))

  (func $cmd_big (param $p i32) (param $n i32) (result i32)
    (local $i i32) (local $c i32) (local $v i32) (local $out i32)
    (if (i32.or (i32.eqz (local.get $n)) (i32.gt_u (local.get $n) (i32.const 9)))
      (then (return (call $fail (global.get $e_big) (global.get $e_big_n)))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $c (i32.load8_u (i32.add (local.get $p) (local.get $i))))
        (if (i32.or (i32.lt_u (local.get $c) (i32.const 48)) (i32.gt_u (local.get $c) (i32.const 57)))
          (then (return (call $fail (global.get $e_big) (global.get $e_big_n)))))
        (local.set $v (i32.add (i32.mul (local.get $v) (i32.const 10)) (i32.sub (local.get $c) (i32.const 48))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.set $out (call $alloc (local.get $v)))
    (local.set $i (i32.const 0))
    (block $filled
      (loop $fill
        (br_if $filled (i32.ge_u (local.get $i) (local.get $v)))
        (i32.store8 (i32.add (local.get $out) (local.get $i))
          (i32.add (i32.const 97) (i32.rem_u (local.get $i) (i32.const 26))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fill)))
    (call $output (local.get $out) (local.get $v))
    (i32.const 0))

  (func $cmd_http (param $p i32) (param $n i32) (result i32)
    (local $start i32) (local $resp i64) (local $status i32) (local $len i32) (local $body i32)
    ;; {"method":"GET","url":"<url>","headers":{"Authorization":"Bearer {{secret:TOKEN}}"}}
    (local.set $start (global.get $top))
    (call $emit (global.get $req_pre) (global.get $req_pre_n))
    (call $emit_byte (i32.const 34))
    (call $emit_json_content (local.get $p) (local.get $n))
    (call $emit_byte (i32.const 34))
    (call $emit (global.get $req_post) (global.get $req_post_n))
    (local.set $resp (call $http_request
      (call $host_put (local.get $start) (i32.sub (global.get $top) (local.get $start)))
      (i64.const 0)))
    (local.set $status (call $http_status_code))
    (if (i64.ne (local.get $resp) (i64.const 0))
      (then (local.set $len (i32.wrap_i64 (call $host_length (local.get $resp))))))
    (local.set $body (call $host_get (local.get $resp) (local.get $len)))
    (local.set $start (global.get $top))
    (call $emit_u (i64.extend_i32_u (local.get $status)))
    (call $emit_byte (i32.const 10))
    (call $emit (local.get $body) (local.get $len))
    (call $output (local.get $start) (i32.sub (global.get $top) (local.get $start)))
    (i32.const 0))

  ;; run: read the input, split off the command, dispatch.
  (func (export "run") (result i32)
    (local $n i32) (local $p i32) (local $i i32) (local $c i32) (local $cn i32) (local $a i32) (local $an i32)
    (local.set $n (i32.wrap_i64 (call $input_length)))
    (local.set $p (call $alloc (local.get $n)))
    (block $words
      (loop $next
        (br_if $words (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $n)))
        (i64.store (i32.add (local.get $p) (local.get $i)) (call $input_load_u64 (i64.extend_i32_u (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $next)))
    (block $bytes
      (loop $next
        (br_if $bytes (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8 (i32.add (local.get $p) (local.get $i)) (call $input_load_u8 (i64.extend_i32_u (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))

    ;; the command is up to the first space or newline, the argument after it
    (local.set $cn (local.get $n))
    (local.set $a (i32.add (local.get $p) (local.get $n)))
    (local.set $i (i32.const 0))
    (block $split
      (loop $scan
        (br_if $split (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $c (i32.load8_u (i32.add (local.get $p) (local.get $i))))
        (if (i32.or (i32.eq (local.get $c) (i32.const 32)) (i32.eq (local.get $c) (i32.const 10)))
          (then
            (local.set $cn (local.get $i))
            (local.set $a (i32.add (i32.add (local.get $p) (local.get $i)) (i32.const 1)))
            (local.set $an (i32.sub (i32.sub (local.get $n) (local.get $i)) (i32.const 1)))
            (br $split)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))

    (if (call $eq (local.get $p) (local.get $cn) (global.get $echo) (global.get $echo_n))
      (then (call $output (local.get $a) (local.get $an)) (return (i32.const 0))))
    (if (call $eq (local.get $p) (local.get $cn) (global.get $upper) (global.get $upper_n))
      (then (return (call $cmd_upper (local.get $a) (local.get $an)))))
    (if (call $eq (local.get $p) (local.get $cn) (global.get $json) (global.get $json_n))
      (then (return (call $cmd_json (local.get $a) (local.get $an)))))
    (if (call $eq (local.get $p) (local.get $cn) (global.get $error) (global.get $error_n))
      (then
        (if (local.get $an) (then (return (call $fail (local.get $a) (local.get $an)))))
        (return (call $fail (global.get $error) (global.get $error_n)))))
    (if (call $eq (local.get $p) (local.get $cn) (global.get $config) (global.get $config_n))
      (then (return (call $cmd_config (local.get $a) (local.get $an)))))
    (if (call $eq (local.get $p) (local.get $cn) (global.get $log) (global.get $log_n))
      (then (return (call $cmd_log (local.get $a) (local.get $an)))))
    (if (call $eq (local.get $p) (local.get $cn) (global.get $big) (global.get $big_n))
      (then (return (call $cmd_big (local.get $a) (local.get $an)))))
    (if (call $eq (local.get $p) (local.get $cn) (global.get $http) (global.get $http_n))
      (then (return (call $cmd_http (local.get $a) (local.get $an)))))
    (if (call $eq (local.get $p) (local.get $cn) (global.get $trap) (global.get $trap_n))
      (then unreachable))
    ;; unknown command "<cmd>"
    (local.set $i (global.get $top))
    (call $emit (global.get $unk_pre) (global.get $unk_pre_n))
    (call $emit (local.get $p) (local.get $cn))
    (call $emit (global.get $quote) (global.get $quote_n))
    (call $fail (local.get $i) (i32.sub (global.get $top) (local.get $i)))))
