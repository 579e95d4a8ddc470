;; script.wat: the host's scripted test guest. Each packet's first byte is the
;; verdict it gets; its second byte picks an action (see host_test.go). The
;; batch header of the last burst and a packet counter are returned by
;; mw_control; the counter is the state handed over on reload. A control
;; message starting 0xff is refused (-1), one starting 0xfe traps.
;; Layout: batch at 64 KiB, message buffer at 128 KiB, header copy at 192 KiB,
;; window at 1 MiB (16 MiB long).
(module
  {{IMPORTS}}
  (memory (export "memory") 288 {{MAX}})
  (global $count (mut i64) (i64.const 0))
  (func (export "mw_abi_version") (result i32) i32.const {{VERSION}})
  (func (export "mw_batch") (param i32) (result i32) i32.const {{BATCH}})
  (func (export "mw_msgbuf") (param i32) (result i32)
    (if (i32.gt_u (local.get 0) (i32.const 65536)) (then (return (i32.const 0))))
    i32.const 131072)
  (func (export "mw_window") (param i32) (result i32)
    (if (i32.gt_u (local.get 0) (i32.const 16777216)) (then (return (i32.const 0))))
    i32.const {{WINDOW}})
  (func (export "mw_init") (param i32 i32) (result i32)
    (if (i32.eqz (local.get 1)) (then (return (i32.const 0))))
    (if (i32.eq (i32.load8_u (local.get 0)) (i32.const 0xff)) (then (return (i32.const -1))))
    (if (i32.eq (i32.load8_u (local.get 0)) (i32.const 0xfe)) (then unreachable))
    i32.const 0)
  (func (export "{{PROCESS}}") (param $n i32) (result i32)
    (local $d i32) (local $end i32) (local $data i32) (local $act i32)
    (memory.copy (i32.const 196608) (i32.const 65536) (i32.const 32))
    (global.set $count (i64.add (global.get $count) (i64.extend_i32_u (local.get $n))))
    (local.set $d (i32.const 65568))
    (local.set $end (i32.add (i32.const 65568) (i32.shl (local.get $n) (i32.const 4))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $d) (local.get $end)))
      (local.set $data (i32.load (local.get $d)))
      (i32.store8 offset=8 (local.get $d) (i32.load8_u (local.get $data)))
      (local.set $act (i32.load8_u offset=1 (local.get $data)))
      (if (i32.eq (local.get $act) (i32.const 1)) (then
        (i32.store8 offset=2 (local.get $data) (i32.const 0xee))))
      (if (i32.eq (local.get $act) (i32.const 2)) (then
        (i32.store (i32.sub (local.get $data) (i32.const 4)) (i32.const 0xabababab))
        (i32.store (local.get $d) (i32.sub (local.get $data) (i32.const 4)))
        (i32.store16 offset=4 (local.get $d) (i32.add (i32.load16_u offset=4 (local.get $d)) (i32.const 4)))))
      (if (i32.eq (local.get $act) (i32.const 3)) (then
        (i32.store16 offset=4 (local.get $d) (i32.add (i32.load16_u offset=6 (local.get $d)) (i32.const 1)))))
      (if (i32.eq (local.get $act) (i32.const 4)) (then (i32.store (local.get $d) (i32.const 0))))
      (if (i32.eq (local.get $act) (i32.const 5)) (then
        (i32.store offset=12 (local.get $d) (i32.load16_u offset=2 (local.get $data)))))
      (if (i32.eq (local.get $act) (i32.const 6)) (then unreachable))
      (if (i32.eq (local.get $act) (i32.const 7)) (then
        (i32.store16 offset=4 (local.get $d) (i32.sub (i32.load16_u offset=4 (local.get $d)) (i32.const 1)))))
      (if (i32.eq (local.get $act) (i32.const 8)) (then (return (i32.const -4))))
      (if (i32.eq (local.get $act) (i32.const 9)) (then (loop $spin (br $spin))))
      (local.set $d (i32.add (local.get $d) (i32.const 16)))
      (br $next)))
    i32.const 0)
  (func (export "mw_control") (param i32 i32) (result i32)
    (if (i32.ne (local.get 1) (i32.const 0)) (then
      (if (i32.eq (i32.load8_u (local.get 0)) (i32.const 0xff)) (then (return (i32.const -1))))
      (if (i32.eq (i32.load8_u (local.get 0)) (i32.const 0xfe)) (then unreachable))))
    (memory.copy (i32.const 131072) (i32.const 196608) (i32.const 32))
    (i64.store (i32.const 131104) (global.get $count))
    i32.const 40)
  (func (export "mw_state_save") (result i32)
    (i64.store (i32.const 131072) (global.get $count))
    i32.const 8)
  (func (export "mw_state_load") (param i32 i32) (result i32)
    (if (i32.ne (local.get 1) (i32.const 8)) (then (return (i32.const -1))))
    (global.set $count (i64.load (local.get 0)))
    i32.const 0))
