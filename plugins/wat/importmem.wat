;; importmem: imports a memory, which the host does not provide (only functions are importable).
(module
  (import "env" "memory" (memory 1))
  (func (export "run") (result i32)
    (i32.const 0)))
