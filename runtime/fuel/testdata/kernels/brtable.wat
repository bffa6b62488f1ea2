;; brtable: a state machine dispatched by br_table in a loop, the shape Go's compiler emits.
(module
  (func (export "run") (param $n i32) (result i32)
    (local $state i32) (local $acc i32)
    (loop $top
      (block $exit
        (block $s2
          (block $s1
            (block $s0
              (br_table $s0 $s1 $s2 $exit (local.get $state)))
            ;; state 0
            (local.set $acc (i32.add (local.get $acc) (i32.const 1)))
            (local.set $state (i32.const 1))
            (br $top))
          ;; state 1
          (local.set $acc (i32.mul (local.get $acc) (i32.const 3)))
          (local.set $state (i32.const 2))
          (br $top))
        ;; state 2
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (local.set $state (select (i32.const 0) (i32.const 3) (local.get $n)))
        (br $top)))
    (local.get $acc)))
