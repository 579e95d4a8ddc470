package hosttest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// RegistryBinary is Debian's OCI registry (package docker-registry,
// CNCF distribution 2.8), installed by make deps-deploy.
const RegistryBinary = "docker-registry"

// Registry starts a real OCI registry (RegistryBinary) on a free loopback
// port with its storage in a temporary directory, waits until it answers,
// and stops it by its PID when the test ends. It returns HOST:PORT and a
// func that stops it earlier (to test a registry that went down). Without
// the binary the test is skipped, saying so, unless MEMIF_REGISTRY=1
// (set by make test, which installs it) makes that a failure.
func Registry(t testing.TB) (hostPort string, stop func()) {
	t.Helper()
	bin, err := exec.LookPath(RegistryBinary)
	if err != nil {
		if os.Getenv("MEMIF_REGISTRY") == "1" {
			t.Fatalf("%s not found (make deps-deploy installs it): %v", RegistryBinary, err)
		}
		t.Skipf("%s not installed (apt-get install docker-registry, or make deps-deploy)", RegistryBinary)
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hostPort = ln.Addr().String()
	ln.Close()
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n",
		filepath.Join(dir, "data"), hostPort)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("%s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(exited)
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Kill() // by PID: this process only
		<-exited
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + hostPort + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return hostPort, stop
			}
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("%s exited before it answered:\n%s", bin, b)
		default:
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("%s did not answer on %s: %v", bin, hostPort, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
