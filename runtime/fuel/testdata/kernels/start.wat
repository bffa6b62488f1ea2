;; start: a start function that never ends. Instantiation must stop at InitialFuel.
(module
  (global $n (mut i32) (i32.const 0))
  (func $start (loop $l (global.set $n (i32.add (global.get $n) (i32.const 1))) (br $l)))
  (start $start))
