;; startok: a start function that ends, writing memory and a global; get() reads them back.
(module
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (data (i32.const 16) "toolgate")
  (func $start (local $i i32)
    (loop $l
      (i32.store8 offset=32 (local.get $i) (i32.add (i32.load8_u offset=16 (i32.and (local.get $i) (i32.const 7))) (local.get $i)))
      (global.set $g (i32.add (global.get $g) (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 100)))))
  (func (export "get") (result i32) (global.get $g))
  (start $start))
