;; runaway: compute that never ends, one shape per export, for the fuel tests. Each must end as out_of_fuel
;; (unbounded recursion: at the call depth bound) within its budget's time, on a metering runtime.
(module
  (memory 32)
  (table 2 funcref)
  (elem (i32.const 0) $state_a $state_b)
  (type $state (func (param i32) (result i32)))
  (func $state_a (param i32) (result i32) (i32.const 1))
  (func $state_b (param i32) (result i32) (i32.const 0))
  ;; a br_table state machine that never reaches its exit state
  (func (export "br_table") (result i32)
    (local $s i32)
    (loop $top
      (block $b (block $a
        (br_table $a $b $a (local.get $s)))
        (local.set $s (i32.const 1))
        (br $top))
      (local.set $s (i32.const 0))
      (br $top))
    (i32.const 0))
  ;; call_indirect ping-pong through the table, forever
  (func (export "indirect") (result i32)
    (local $s i32)
    (loop $top
      (local.set $s (call_indirect (type $state) (local.get $s) (local.get $s)))
      (br $top))
    (i32.const 0))
  ;; loop-free exponential recursion: 2^60 calls, no loop anywhere
  (func $exp (param $n i32)
    (if (i32.eqz (local.get $n)) (then (return)))
    (call $exp (i32.sub (local.get $n) (i32.const 1)))
    (call $exp (i32.sub (local.get $n) (i32.const 1))))
  (func (export "exp") (result i32)
    (call $exp (i32.const 60))
    (i32.const 0))
  ;; unbounded recursion
  (func $deep (param $n i64) (result i64)
    (i64.add (call $deep (i64.add (local.get $n) (i64.const 1))) (i64.const 1)))
  (func (export "deep") (result i32)
    (drop (call $deep (i64.const 0)))
    (i32.const 0))
  ;; a 1 MiB memory.fill and memory.copy every iteration, forever
  (func (export "fill") (result i32)
    (loop $top
      (memory.fill (i32.const 0) (i32.const 7) (i32.const 1048576))
      (memory.copy (i32.const 0) (i32.const 1048576) (i32.const 1048576))
      (br $top))
    (i32.const 0))
  ;; memory.grow by 0 pages, forever: free for the memory, not for the fuel
  (func (export "grow0") (result i32)
    (loop $top
      (drop (memory.grow (i32.const 0)))
      (br $top))
    (i32.const 0)))
