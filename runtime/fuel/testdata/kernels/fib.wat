;; fib: recursive Fibonacci. A leaf (n < 2) runs 5 operators, an inner call 13, and every call pays 1 on entry;
;; run() = fib(25) adds its own entry, i32.const and call: 2,427,849 units, wasmtime's count.
(module
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else
        (i32.add
          (call $fib (i32.sub (local.get $n) (i32.const 1)))
          (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func (export "run") (result i32)
    (call $fib (i32.const 25))))
