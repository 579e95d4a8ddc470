// Package table holds the tables memif-wasm plugins share with the control
// plane (abi/ABI.md §11): exact-match hash tables and arrays, created by the
// host from a plugin's declaration, kept in one shared memory file each and
// mapped into the linear memory of every instance that declares them, so a
// guest looks entries up with plain loads and no host call.
//
// # Publication
//
// The control plane is the only writer. Each table holds two copies of its
// slots and a header word naming the copy readers use. Apply changes the
// copy nobody reads, publishes it with one atomic store, waits until every
// Reader that was inside a guest call at that moment has left it (the grace
// period), then replays the change on the other copy. A reader that reads the
// active copy's index once per guest call therefore never sees an entry being
// written, and a batch of changes is published all at once or not at all.
// RATIONALE.md ("Why are tables double-buffered...") says why this and not a
// seqlock.
//
// # Lifetime
//
// A Store keys tables by (tenant, scope, name). Acquire returns the existing
// table when the declaration matches, so a plugin's new version keeps the
// data; tables live until the Store closes.
//
// All input is hostile: declarations (ParseDecls, fuzzed), keys and values
// from the control plane (sizes checked against the table's), and the mapped
// memory itself, which a guest can write: every probe the host makes is
// bounded and the counts it reports are its own.
package table
