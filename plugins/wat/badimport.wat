;; badimport: imports a function no host provides.
(module
  (import "env" "nope" (func $nope))
  (func (export "run") (result i32)
    (call $nope)
    (i32.const 0)))
