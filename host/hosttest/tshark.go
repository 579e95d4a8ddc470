package hosttest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Tshark prints fields of every packet of a capture file, tab-separated,
// one line per packet, with tshark (Debian's tshark package; `make
// deps-tshark` installs it). Without tshark the test is skipped, saying so,
// unless MEMIF_WASM_TSHARK=1 (CI) makes it fail.
func Tshark(t testing.TB, file string, fields ...string) string {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		if os.Getenv("MEMIF_WASM_TSHARK") == "1" {
			t.Fatal("tshark not installed (make deps-tshark)")
		}
		t.Skip("tshark not installed (make deps-tshark installs it): cannot read the capture back")
	}
	args := []string{"-r", file, "-T", "fields"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command("tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}
