;; cmd_env: a WASI command that reports what its sandbox gives it, as 40 raw bytes on stdout:
;;   0: argc (u32)             4: argv buffer size (u32)
;;   8: environment count (u32) 12: environment buffer size (u32)
;;  16: realtime clock (u64, ns) 24: 8 random bytes
;;  32: errno of fd_prestat_get(3) (u32; 8 = EBADF: no preopened directory)  36: zero
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (drop (call $environ_sizes_get (i32.const 8) (i32.const 12)))
    (drop (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 16)))
    (drop (call $random_get (i32.const 24) (i32.const 8)))
    (i32.store (i32.const 32) (call $fd_prestat_get (i32.const 3) (i32.const 128)))
    ;; iovec at 64: {buf=0, len=40}
    (i32.store (i32.const 64) (i32.const 0))
    (i32.store (i32.const 68) (i32.const 40))
    (drop (call $fd_write (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 72)))))
