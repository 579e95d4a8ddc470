// Package systemd holds memif-wasm's systemd unit for running beside a
// packaged VPP (memif-wasm.service, memif-wasm.sysusers, and the config it
// starts with, memif-wasm.yaml). It has no code: its tests check the unit
// with systemd-analyze, hold it to the permissions deploy/README.md
// describes, and show with the real binary that those permissions give its
// memif sockets to VPP's group alone.
package systemd
