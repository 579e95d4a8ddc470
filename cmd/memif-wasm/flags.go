package main

import (
	"os"
)

// isTerminal reports whether w is a character device (a terminal), where live progress
// lines make sense.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
