// Package memiftest holds test helpers for code built on memif, and for
// testing memif peers:
//
//   - Pair, a connected master/slave pair on a temporary socket path
//     (SocketPath), and CheckFDLeaks, which fails a test that leaves file
//     descriptors open;
//   - RawPeer, RawSlave and the protocol's message types, to speak the
//     control protocol message by message and drive rings and shared
//     memory by hand: a hostile peer sends what no correct implementation
//     would, including memory it truncates afterwards (NewUnsealedMem);
//   - Clock, a clock the test moves by hand, and WaitFor, which polls a
//     condition with a deadline.
//
// It is for tests only.
//
//	func TestX(t *testing.T) {
//		memiftest.CheckFDLeaks(t) // first, so its check runs last
//		master, slave := memiftest.Pair(t, nil)
//		...
//	}
package memiftest
