;; nop.wat: the cheapest honest plugin, for benchmarks: PASS every packet.
(module
  (memory (export "memory") 288 288)
  (func (export "mw_abi_version") (result i32) i32.const 1)
  (func (export "mw_batch") (param i32) (result i32) i32.const 65536)
  (func (export "mw_msgbuf") (param i32) (result i32) i32.const 131072)
  (func (export "mw_window") (param i32) (result i32) i32.const 1048576)
  (func (export "mw_init") (param i32 i32) (result i32) i32.const 0)
  (func (export "mw_process") (param $n i32) (result i32)
    (local $d i32) (local $end i32)
    (local.set $d (i32.const 65568))
    (local.set $end (i32.add (i32.const 65568) (i32.shl (local.get $n) (i32.const 4))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $d) (local.get $end)))
      (i32.store8 offset=8 (local.get $d) (i32.const 2))
      (local.set $d (i32.add (local.get $d) (i32.const 16)))
      (br $next)))
    i32.const 0))
