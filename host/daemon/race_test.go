//go:build race

package daemon

// raceEnabled: the race detector keeps metadata of its own (per goroutine
// and synchronisation object) outside the Go heap, so resident memory grows
// slowly under it with every connection's goroutines, where without it it
// stays flat (TestKillChurn).
const raceEnabled = true
