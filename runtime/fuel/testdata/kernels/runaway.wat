;; runaway: shapes that never end on their own. Each must stop with the exhausted flag set.
(module
  (memory 1)
  (table 1 funcref)
  (func (export "loop") (loop $l (br $l)))
  (func (export "brtable") (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (block $b (br_table $l $b (i32.and (local.get $i) (i32.const 1))))
      (br $l)))
  (func $exp (export "exp") (param $n i32)
    ;; loop-free and exponential: 2^n calls, never deeper than n
    (if (local.get $n)
      (then
        (call $exp (i32.sub (local.get $n) (i32.const 1)))
        (call $exp (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "exp40") (call $exp (i32.const 40)))
  (func $deep (export "recurse") (call $deep))
  (func (export "fill") (loop $l
      (memory.fill (i32.const 0) (i32.const 0) (i32.const 65536))
      (memory.copy (i32.const 1) (i32.const 0) (i32.const 65535))
      (br $l)))
  (func (export "grow") (loop $l (drop (memory.grow (i32.const 0))) (br $l))))
