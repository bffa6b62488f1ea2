;; sum: the counting loop wasmtime's fuel is measured on. 12 operators per iteration (the loop, end and
;; function end cost 0), plus 1 for the final local.get and 1 for the function entry: sum(1e6) = 12,000,002.
(module
  (func (export "sum") (param $n i64) (result i64)
    (local $i i64) (local $acc i64)
    (loop $l
      local.get $acc
      local.get $i
      i64.add
      local.set $acc
      local.get $i
      i64.const 1
      i64.add
      local.set $i
      local.get $i
      local.get $n
      i64.lt_u
      br_if $l)
    local.get $acc))
