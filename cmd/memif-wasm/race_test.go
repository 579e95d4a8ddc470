//go:build race

package main

// raceEnabled: the race detector slows wasm compilation of Go guests ~20-fold.
const raceEnabled = true
