;; fuelcount: a loop whose fuel is known — sum(n) for n = the input's length, 13 operators per iteration — and a
;; start function that costs fuel too, for the budget tests.
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (global $started (mut i32) (i32.const 0))
  (func $start (global.set $started (i32.const 1)))
  (start $start)
  (func (export "run") (result i32)
    (local $i i64) (local $acc i64) (local $n i64)
    (local.set $n (call $input_length))
    (block $done
      (loop $top
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (i64.add (local.get $acc) (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $top)))
    (i32.sub (i32.const 1) (global.get $started))))
