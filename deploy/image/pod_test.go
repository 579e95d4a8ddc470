package image_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/memif-wasm/memif-wasm/deploy/chart"
	"github.com/memif-wasm/memif-wasm/deploy/kube"
)

// TestImageRunsAsTheChartSays runs the image the way the chart's DaemonSet
// would, without a cluster: the image's filesystem as the root (chroot),
// its entrypoint with the container's args, as the pod's user, group and
// supplemental groups, with the ConfigMap's config at the volume's mount
// path. A memif master in the "VPP" socket directory (memif-wasm gen, as
// VPP's group, umask 0007) sends frames; the daemon's pipeline (counter ->
// macswap) sends them back; its metrics answer on the metrics port.
func TestImageRunsAsTheChartSays(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: it chroots into the image and runs as the pod's user")
	}
	const vppGID = 4242
	img, o := testImage(t)
	port := freePort(t)

	// The chart's objects for a node whose VPP socket group is vppGID.
	ms, err := chart.Render("../helm/memif-wasm", chart.Options{Values: map[string]any{
		"vpp":     map[string]any{"socketGroup": vppGID},
		"metrics": map[string]any{"port": port},
	}})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kube.Decode(strings.NewReader(chart.Join(ms)))
	if err != nil {
		t.Fatal(err)
	}
	var ds *appsv1.DaemonSet
	var cm *corev1.ConfigMap
	for _, x := range objs {
		switch v := x.Obj.(type) {
		case *appsv1.DaemonSet:
			ds = v
		case *corev1.ConfigMap:
			cm = v
		}
	}
	ps := ds.Spec.Template.Spec
	ct := ps.Containers[0]
	var cfgDir, vppDir string
	for _, m := range ct.VolumeMounts {
		switch m.Name {
		case "config":
			cfgDir = m.MountPath
		case "vpp-sockets":
			vppDir = m.MountPath
		}
	}

	// The pod's filesystem: the image, the ConfigMap, VPP's directory.
	root, err := os.MkdirTemp("", "memif-wasm-pod-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	os.Chmod(root, 0o755)
	extract(t, img, root)
	if err := os.MkdirAll(filepath.Join(root, cfgDir), 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range cm.Data {
		if err := os.WriteFile(filepath.Join(root, cfgDir, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, vppDir), 0o755); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// "VPP": a memif master on VPP's default socket, its socket VPP's group's.
	sock := filepath.Join(root, vppDir, "memif.sock")
	var genOut, genErr strings.Builder
	gen := exec.CommandContext(ctx, "/bin/sh", "-c", `umask 0007 && exec "$0" "$@"`, o.Binary, "gen",
		"--socket", sock, "--role", "master", "--id", "0", "--count", "2000", "--rate", "20000",
		"--link-timeout", "60s", "--json")
	gen.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 0, Gid: vppGID, Groups: []uint32{}}}
	gen.Stdout, gen.Stderr = &genOut, &genErr
	if err := gen.Start(); err != nil {
		t.Fatal(err)
	}
	genDone := make(chan error, 1)
	go func() { genDone <- gen.Wait() }()

	// The container: entrypoint + args, as the pod's user and groups.
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	sc := ps.SecurityContext
	groups := []uint32{}
	for _, g := range sc.SupplementalGroups {
		groups = append(groups, uint32(g))
	}
	daemon := exec.Command(cf.Config.Entrypoint[0], ct.Args...)
	daemon.Env = cf.Config.Env
	daemon.Dir = "/"
	daemon.SysProcAttr = &syscall.SysProcAttr{Chroot: root, Credential: &syscall.Credential{
		Uid: uint32(*sc.RunAsUser), Gid: uint32(*sc.RunAsGroup), Groups: groups}}
	var dOut strings.Builder
	daemon.Stdout, daemon.Stderr = &dOut, &dOut
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	dDone := make(chan error, 1)
	go func() { dDone <- daemon.Wait() }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		syscall.Kill(daemon.Process.Pid, syscall.SIGTERM) // by PID: the daemon this test started
		select {
		case err := <-dDone:
			return err
		case <-time.After(30 * time.Second):
			syscall.Kill(daemon.Process.Pid, syscall.SIGKILL)
			return fmt.Errorf("no exit 30 s after SIGTERM: %v", <-dDone)
		}
	}
	t.Cleanup(func() { stop() })

	// Metrics on the pod's metrics port, as the scrape annotations say.
	url := fmt.Sprintf("http://127.0.0.1:%s%s", ds.Spec.Template.Annotations["prometheus.io/port"], ds.Spec.Template.Annotations["prometheus.io/path"])
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-dDone:
			t.Fatalf("memif-wasm exited: %v\n%s", err, dOut.String())
		case <-ctx.Done():
			t.Fatalf("no metrics at %s: %v\n%s", url, err, dOut.String())
		case <-time.After(100 * time.Millisecond):
		}
	}

	// The probes answer 200 at the paths and port the DaemonSet gives them.
	for _, p := range []struct {
		what string
		pr   *corev1.Probe
	}{{"readiness", ct.ReadinessProbe}, {"liveness", ct.LivenessProbe}} {
		u := fmt.Sprintf("http://127.0.0.1:%d%s", port, p.pr.HTTPGet.Path)
		for {
			code := httpStatus(u)
			if code == http.StatusOK {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s probe %s: status %d\n%s", p.what, u, code, dOut.String())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}

	select {
	case err := <-genDone:
		if err != nil {
			t.Fatalf("gen: %v\n%s\ndaemon:\n%s", err, genErr.String(), dOut.String())
		}
	case <-ctx.Done():
		t.Fatalf("gen did not finish\ndaemon:\n%s", dOut.String())
	}
	var rep struct {
		Sent     uint64 `json:"sent"`
		Received uint64 `json:"received"`
	}
	if err := json.Unmarshal([]byte(genOut.String()), &rep); err != nil {
		t.Fatalf("gen's report: %v\n%s", err, genOut.String())
	}
	t.Logf("gen (VPP's side) sent %d frames, received %d back through the pod's counter -> macswap", rep.Sent, rep.Received)
	if rep.Sent != 2000 || rep.Received < rep.Sent*95/100 {
		t.Errorf("sent %d, received %d back through the pod's pipeline", rep.Sent, rep.Received)
	}
	if err := stop(); err != nil {
		t.Errorf("memif-wasm did not exit cleanly on SIGTERM: %v\n%s", err, dOut.String())
	}
}

// httpStatus is the status of a GET of u, 0 when it fails.
func httpStatus(u string) int {
	resp, err := http.Get(u)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// freePort returns a TCP port on loopback that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
