;; simd: a dot product and lane operations over memory with v128.
(module
  (memory (export "memory") 1)
  (func (export "run") (param $n i32) (result i32)
    (local $i i32) (local $acc v128)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (v128.store (i32.const 0)
          (i32x4.add (v128.load (i32.const 0)) (i32x4.splat (local.get $i))))
        (local.set $acc
          (i32x4.add (local.get $acc)
            (i32x4.mul (v128.load offset=0 (i32.const 0)) (v128.const i32x4 1 2 3 4))))
        (local.set $acc (i8x16.shuffle 4 5 6 7 0 1 2 3 12 13 14 15 8 9 10 11 (local.get $acc) (local.get $acc)))
        (local.set $acc (i32x4.replace_lane 2 (local.get $acc) (i32.add (i32x4.extract_lane 1 (local.get $acc)) (i32.const 1))))
        (v128.store8_lane 3 (i32.const 64) (local.get $acc))
        (local.set $acc (v128.load32_zero (i32.const 64)))
        (local.set $acc (i32x4.add (local.get $acc) (v128.load8x8_u (i32.const 8))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (i32.add (i32x4.extract_lane 0 (local.get $acc))
      (i32.add (i32x4.extract_lane 1 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc))))))
