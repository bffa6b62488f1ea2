;; depth: linear recursion n frames deep, with one result and with several (the depth wrapper's block type).
(module
  (func $down (export "down") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $down (i32.sub (local.get $n) (i32.const 1)))))))
  (func $pair (export "pair") (param $n i32) (result i32 i64)
    (local $a i32) (local $b i64)
    (if (i32.eqz (local.get $n)) (then (return (i32.const 0) (i64.const 0))))
    (call $pair (i32.sub (local.get $n) (i32.const 1)))
    (local.set $b)
    (local.set $a)
    (i32.add (local.get $a) (i32.const 1))
    (i64.add (local.get $b) (i64.const 2))))
