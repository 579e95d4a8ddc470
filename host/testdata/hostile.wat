;; hostile.wat: the template of the hostile-plugin suite. The INIT placeholder
;; is mw_init's body (locals $p, $len; leaves an i32), PROCESS is mw_process's
;; (local $n; leaves an i32). $all sets every descriptor's verdict; $desc
;; returns descriptor i's address. Same layout as script.wat: batch at 64 KiB,
;; message buffer at 128 KiB, window at 1 MiB.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (memory (export "memory") 288 {{MAX}})
  (data (i32.const 1024) "flood flood flood flood flood flood\n")
  (func (export "mw_abi_version") (result i32) i32.const 1)
  (func (export "mw_batch") (param i32) (result i32) i32.const 65536)
  (func (export "mw_msgbuf") (param i32) (result i32) i32.const 131072)
  (func (export "mw_window") (param i32) (result i32) i32.const 1048576)
  (func $desc (param $i i32) (result i32)
    (i32.add (i32.const 65568) (i32.shl (local.get $i) (i32.const 4))))
  (func $all (param $n i32) (param $v i32)
    (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (i32.store8 offset=8 (call $desc (local.get $i)) (local.get $v))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))
  (func $redirect (param $n i32) (param $port i32)
    (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (i32.store8 offset=8 (call $desc (local.get $i)) (i32.const 4))
      (i32.store offset=12 (call $desc (local.get $i)) (local.get $port))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))
  (func $spin (loop $l (br $l)))
  (func $recurse (param $x i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get $x) (i32.const 1))) (i32.const 1)))
  ;; now returns the realtime clock in ns.
  (func $now (result i64)
    (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 2048)))
    (i64.load (i32.const 2048)))
  (func $flood (local $i i32)
    (i32.store (i32.const 1100) (i32.const 1024))
    (i32.store (i32.const 1104) (i32.const 36))
    (loop $l
      (drop (call $write (i32.const 1) (i32.const 1100) (i32.const 1) (i32.const 1108)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000000)))))
  (func $growbomb
    (loop $l
      (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))
    unreachable)
  (func (export "mw_init") (param $p i32) (param $len i32) (result i32)
    {{INIT}})
  (func (export "mw_process") (param $n i32) (result i32)
    {{PROCESS}}))
