;; nop: the pure floor of a fresh sandbox. No imports, one page of memory, an export "run" that returns 0
;; (success under the Extism ABI) without touching its input or setting an output.
(module
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (i32.const 0)))
