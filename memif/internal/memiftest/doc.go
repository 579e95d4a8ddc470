// Package memiftest holds test helpers for code built on memif: Pair, a
// connected master/slave pair on a temporary socket, and CheckFDLeaks, which
// fails a test that leaves file descriptors open. It is for tests only.
//
//	func TestX(t *testing.T) {
//		memiftest.CheckFDLeaks(t) // first, so its check runs last
//		master, slave := memiftest.Pair(t, nil)
//		...
//	}
package memiftest
