package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/memif-wasm/memif-wasm/memif"
)

// parseRole accepts memif's and DPDK's names for the two sides.
func parseRole(s string) (memif.Role, error) {
	switch strings.ToLower(s) {
	case "slave", "client":
		return memif.RoleSlave, nil
	case "master", "server":
		return memif.RoleMaster, nil
	}
	return 0, fmt.Errorf("--role %q: want master or slave", s)
}

// parseRxMode parses "interrupt" or "polling".
func parseRxMode(s string) (memif.RxMode, error) {
	switch strings.ToLower(s) {
	case "interrupt", "":
		return memif.RxModeInterrupt, nil
	case "polling", "poll":
		return memif.RxModePolling, nil
	}
	return 0, fmt.Errorf("--rx-mode %q: want interrupt or polling", s)
}

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
