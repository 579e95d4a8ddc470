package host

import "time"

// StageObserver watches a burst pass a pipeline's plugins, for packet
// traces and captures: set Burst.Observer for the bursts to watch. A nil
// Observer (the default) costs the burst one comparison per plugin call.
//
// ObserveStage is called after each call of plugin number stage (named
// plugin), on the pipeline's goroutine with its lock held, so it must be
// quick and must not call the pipeline. The packets the call was given are
// b.Packets[first+i] for each i in idx; their Verdict, Off, Len and Port are
// as the plugin left them (a PASS goes on to the next plugin). took is the
// call's time with the host's hand-over around it (as PluginStats.CallTime).
// faulted says the plugin gave these packets no verdict of its own: it
// faulted, awaits its restart or is quarantined, and its fail policy decided.
// idx is the pipeline's: read it, do not keep it.
//
// The Burst is handed to an interface method, so the compiler moves a Burst
// that would otherwise live on the caller's stack to the heap: a caller
// that must not allocate reuses one Burst (as package dataplane's worker
// does).
type StageObserver interface {
	ObserveStage(stage int, plugin string, b *Burst, first int, idx []uint16, took time.Duration, faulted bool)
}

// observe reports one call of stage si to b's observer; see StageObserver.
func (p *Pipeline) observe(si int, s *stage, b *Burst, first int, idx []uint16, took time.Duration) {
	b.Observer.ObserveStage(si, s.mod.name, b, first, idx, took, s.inst == nil || s.quarantined)
}
