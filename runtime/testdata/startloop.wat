;; startloop: a start function that never returns. On a metering runtime the start function runs under the
;; call's budget and the call ends as out_of_fuel.
(module
  (func $start (loop $l (br $l)))
  (start $start)
  (func (export "run") (result i32) (i32.const 0)))
