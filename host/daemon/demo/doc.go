// Package demo runs the memif-wasm demo: a daemon with a pipeline of plugins
// on one master interface, the built-in traffic generator (memif/gen) as its
// peer, live per-plugin verdict rates while traffic flows, then a summary.
//
// It is a library so that the binary stays flag parsing and wiring, and so
// that another program (or a test) can run the same demo with its own
// plugins and writers.
//
// The default pipeline (DefaultPipeline) is counter -> acl -> macswap, read
// from the files `make plugins` builds (plugins/build in a checkout of the
// module): the Go guests are megabytes each, too large to embed in the
// binary, so the demo says which files it needs when they are missing.
package demo
