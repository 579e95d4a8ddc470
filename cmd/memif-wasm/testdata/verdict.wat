;; verdict.wat: a minimal ABI v1 plugin for the CLI's tests. Every packet gets the verdict
;; VERDICT (replaced by the test: 1 DROP, 2 PASS, 3 TX). Layout: batch area at 64 KiB
;; (32-byte header, then 16-byte descriptors), message buffer at 128 KiB, packet window
;; from 1 MiB. Built with wat2wasm by the tests.
(module
  (memory (export "memory") 288 288)
  (func (export "mw_abi_version") (result i32) (i32.const ABI))
  (func (export "mw_batch") (param i32) (result i32) (i32.const 65536))
  (func (export "mw_msgbuf") (param i32) (result i32) (i32.const 131072))
  (func (export "mw_window") (param i32) (result i32) (i32.const 1048576))
  (func (export "mw_init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "mw_process") (param $n i32) (result i32)
    (local $desc i32) (local $end i32)
    (local.set $desc (i32.const 65568))
    (local.set $end (i32.add (local.get $desc) (i32.mul (local.get $n) (i32.const 16))))
    (block $out
      (loop $each
        (br_if $out (i32.ge_u (local.get $desc) (local.get $end)))
        (i32.store8 offset=8 (local.get $desc) (i32.const VERDICT))
        (local.set $desc (i32.add (local.get $desc) (i32.const 16)))
        (br $each)))
    (i32.const 0)))
