;; bulk: memory.fill and memory.copy with dynamic sizes in a loop, like Go's memclr and memmove.
(module
  (memory (export "memory") 2)
  (func (export "run") (param $iters i32) (result i32)
    (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $iters)))
        (memory.fill (i32.const 0) (i32.add (local.get $i) (i32.const 7)) (i32.add (i32.const 100) (local.get $i)))
        (memory.copy (i32.const 4096) (i32.const 0) (i32.mul (local.get $i) (i32.const 3)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (i32.add (i32.load8_u (i32.const 4096)) (i32.load8_u (i32.const 4100))))
  (func (export "grow") (param $pages i32) (result i32)
    (memory.grow (local.get $pages))))
