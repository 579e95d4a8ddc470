// Package libmemif offers the API of govpp's Go-libmemif adapter
// (go.fd.io/govpp/extras/libmemif, a cgo wrapper of C libmemif) on top of
// the pure-Go memif package: a program written against that adapter
// compiles against this package after only its import path changes, and
// needs neither cgo nor the C library.
//
// Every protocol step is done by package memif; this package maps the
// adapter's names, defaults, errors and threading contract onto it.
//
// # Lifecycle
//
// Init must be called once before anything else (calls before it return
// ErrNotInit; a second Init returns ErrAlreadyInit) and Cleanup at the end,
// which closes every interface. CreateInterface creates a master (listens)
// or a slave (connects at once and retries every 2 s). Interfaces with the
// same socket path and instance name share one memif.Socket.
//
// OnConnect runs on the connection's control goroutine once the link is
// up, before the interrupt channels start firing; OnDisconnect runs there
// when the link is lost, after the data path has stopped and before the
// per-queue interrupt channels are closed. Do not call Memif.Close or
// Cleanup from a callback.
//
// # Data path
//
// RxBurst returns copies of received packets (a chained jumbo frame comes
// back whole); TxBurst copies packets into shared memory, chaining buffers
// for packets larger than one buffer, and returns how many fit in the
// ring. Neither blocks; bursts on different queues may run concurrently.
// In interrupt mode (the default) GetQueueInterruptChan and
// GetInterruptChan tell when to call RxBurst; in polling mode (SetRxMode)
// the peer does not signal at all.
//
// # Errors
//
// Errors are the exported *MemifError values with C-libmemif's codes;
// compare them by value. The details behind an error (which field, which
// packet) go to the logger set with SetLogger, a logrus logger as in the
// cgo adapter; the memif package's own log records go there too.
//
// # Differences from the cgo adapter
//
// Interface and instance names are cut to 31 bytes and socket paths to 107
// (what C's NUL-terminated fields hold); an unknown IfMode or RxMode is
// ErrInvalArgs instead of silently ethernet/interrupt; a packet longer than
// 65535 bytes, or needing more buffers than the ring has, is ErrInvalArgs
// instead of being truncated or stuck; bursts and interrupt channels of a
// disconnected interface return ErrDisconnected; SetRxMode is remembered
// across reconnects; RxBurst's copies share 8 KiB blocks between bursts
// instead of one allocation per packet; the default logger logs at Info
// level to stderr.
//
// # Examples
//
// The examples directory holds runnable programs written only against this
// package: raw-data, jumbo-frames, icmp-responder, gopacket (through
// MemifPacketHandle) and multi-queue (one polling and one interrupt-driven
// queue, C libmemif's multi-thread ICMP responder).
package libmemif
