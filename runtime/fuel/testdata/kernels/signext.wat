;; signext: sign-extension and saturating truncation operators.
(module
  (func (export "run") (param $x i32) (result i64)
    (i64.add
      (i64.add
        (i64.extend_i32_s (i32.extend8_s (local.get $x)))
        (i64.extend_i32_s (i32.extend16_s (i32.mul (local.get $x) (i32.const 257)))))
      (i64.add
        (i64.extend32_s (i64.extend_i32_u (i32.mul (local.get $x) (i32.const 65537))))
        (i64.extend8_s (i64.extend_i32_u (local.get $x))))))
  (func (export "trunc") (param $f f64) (result i64)
    (i64.add
      (i64.add (i64.extend_i32_s (i32.trunc_sat_f64_s (local.get $f))) (i64.trunc_sat_f64_u (local.get $f)))
      (i64.add (i64.extend_i32_u (i32.trunc_sat_f32_u (f32.demote_f64 (local.get $f))))
               (i64.trunc_sat_f32_s (f32.demote_f64 (local.get $f))))))
  (func (export "sweep") (result i64)
    (local $i i32) (local $acc i64)
    (loop $l
      (local.set $acc (i64.xor (local.get $acc)
        (i64.add (call 0 (local.get $i)) (call 1 (f64.mul (f64.convert_i32_s (local.get $i)) (f64.const 1.0e17))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))
    (local.get $acc)))
