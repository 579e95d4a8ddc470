package testpmd

import (
	"context"
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFakeSession(t *testing.T) {
	cfg := useFake(t, fakeOK)
	p, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()

	// The fake reports the link down twice, so this also covers polling.
	if err := p.WaitLinkUp(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := p.StartForwarding(ctx, true); err != nil {
		t.Fatal(err)
	}
	ps, err := p.PortStats(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := (PortStats{RxPackets: 100, RxBytes: 6400, TxPackets: 99, TxBytes: 6336}); ps != want {
		t.Errorf("PortStats = %+v, want %+v", ps, want)
	}
	xs, err := p.XStats(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if xs["rx_q0_packets"] != 100 || xs["tx_q0_packets"] != 99 {
		t.Errorf("XStats = %v", xs)
	}
	fs, err := p.StopForwarding(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (ForwardStats{RxPackets: 100, TxPackets: 99, TxDropped: 1}); len(fs) != 1 || fs[0] != want {
		t.Errorf("StopForwarding = %+v, want port 0: %+v", fs, want)
	}
	if fs, err := p.StopForwarding(ctx); err != nil || len(fs) != 0 {
		t.Errorf("second StopForwarding = %v, %v; want empty, nil", fs, err)
	}
	answer, err := p.Exec(ctx, "no such command")
	if err != nil || !strings.Contains(answer, "Command not found") {
		t.Errorf("Exec(unknown) = %q, %v", answer, err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close = %v, want the first result (nil)", err)
	}
	if _, err := p.Exec(ctx, "show port stats 0"); !errors.Is(err, ErrClosed) {
		t.Errorf("Exec after Close = %v, want ErrClosed", err)
	}
	if !strings.Contains(p.Output(), "Bye...") {
		t.Errorf("output lacks the goodbye:\n%s", p.Output())
	}
	if _, err := os.Stat(cfg.Ports[0].Socket); err == nil {
		t.Error("socket path exists after Close")
	}
}

func TestFakeNoPromptTimesOut(t *testing.T) {
	cfg := useFake(t, fakeNoPrompt)
	cfg.Timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := Start(context.Background(), cfg)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start = %v, want a deadline error", err)
	}
	if !strings.Contains(err.Error(), "fake testpmd in mode no-prompt") {
		t.Errorf("error lacks the output tail: %v", err)
	}
	// Start times out, then Close waits for quit (another timeout) and kills.
	if d := time.Since(start); d > 15*time.Second { // far below the 30s default, whatever the load
		t.Errorf("Start took %v with a 300ms timeout", d)
	}
}

func TestFakeExitAtStartup(t *testing.T) {
	_, err := Start(context.Background(), useFake(t, fakeExit))
	if !errors.Is(err, ErrExited) {
		t.Fatalf("Start = %v, want ErrExited", err)
	}
	if !strings.Contains(err.Error(), "Cannot allocate memory") {
		t.Errorf("error lacks the reason from the output: %v", err)
	}
}

func TestFakeMissingPorts(t *testing.T) {
	_, err := Start(context.Background(), useFake(t, fakeNoPorts))
	if err == nil || !strings.Contains(err.Error(), "0 of 1 memif ports were created") {
		t.Fatalf("Start = %v, want a port count error", err)
	}
}

func TestFakeCrashOnQuit(t *testing.T) {
	p, err := Start(context.Background(), useFake(t, fakeCrashQuit))
	if err != nil {
		t.Fatal(err)
	}
	err = p.Close()
	if !errors.Is(err, ErrCrashed) || !strings.Contains(err.Error(), "Invalid message size") {
		t.Fatalf("Close = %v, want ErrCrashed with the output tail", err)
	}
}

func TestFakeHangOnQuitIsKilled(t *testing.T) {
	cfg := useFake(t, fakeHangQuit)
	cfg.Timeout = 1500 * time.Millisecond // Start must fit in it too
	p, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = p.Close()
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("Close = %v, want a killed error", err)
	}
	if d := time.Since(start); d > 15*time.Second { // far below the 30s default, whatever the load
		t.Errorf("Close took %v with a 300ms timeout", d)
	}
}

func TestExecRejectsMultiline(t *testing.T) {
	p, err := Start(context.Background(), useFake(t, fakeOK))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Exec(context.Background(), "stop\nquit"); err == nil {
		t.Fatal("Exec accepted two lines")
	}
}

func TestExecHonoursContext(t *testing.T) {
	p, err := Start(context.Background(), useFake(t, fakeOK))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.WaitLinkUp(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitLinkUp(canceled) = %v, want context.Canceled", err)
	}
}

func TestExecStaysInSyncAfterTimeout(t *testing.T) {
	p, err := Start(context.Background(), useFake(t, fakeOK))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Exec(ctx, "fake-slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Exec(fake-slow) = %v, want a deadline error", err)
	}
	// The slow command's late prompt must not end the next command early.
	stats, err := p.PortStats(context.Background(), 0)
	if err != nil || stats.RxPackets != 100 {
		t.Fatalf("PortStats after a timed-out command = %+v, %v", stats, err)
	}
}

func TestStartNotInstalled(t *testing.T) {
	cfg := useFake(t, fakeOK)
	cfg.Binary = "/nonexistent/dpdk-testpmd"
	if _, err := Start(context.Background(), cfg); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Start = %v, want ErrNotInstalled", err)
	}
}

func TestStartRemovesStaleSocket(t *testing.T) {
	cfg := useFake(t, fakeOK)
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: cfg.Ports[0].Socket, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(cfg.Ports[0].Socket); err != nil {
		t.Fatal("no stale socket to start with")
	}
	p, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := os.Stat(cfg.Ports[0].Socket); err == nil {
		t.Error("stale socket survived Start")
	}
}

func TestStartRefusesNonSocketPath(t *testing.T) {
	cfg := useFake(t, fakeOK)
	if err := os.WriteFile(cfg.Ports[0].Socket, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Fatalf("Start = %v, want a not-a-socket error", err)
	}
	if b, _ := os.ReadFile(cfg.Ports[0].Socket); string(b) != "precious" {
		t.Error("Start touched a regular file at the socket path")
	}
}

func TestOutputCountsPromptsSplitAcrossReads(t *testing.T) {
	var o output
	o.changed = make(chan struct{})
	input := "EAL: init\ntestpmd> show port stats 0\nanswer\ntestpmd> "
	for i := 0; i < len(input); i++ { // one byte per read: the worst split
		o.append([]byte{input[i]}, false)
	}
	if len(o.prompts) != 2 {
		t.Fatalf("prompts = %d, want 2", len(o.prompts))
	}
	if got, want := o.answer(2), "show port stats 0\nanswer\n"; got != want {
		t.Errorf("answer = %q, want %q", got, want)
	}
}

// TestOutputPromptInterleavedWithLogLines is the output of a testpmd whose
// memif peer disconnected while it printed the prompt after "stop": the
// interrupt thread's log line landed inside the prompt. Once, such a prompt
// went unseen and the next command waited out its timeout.
func TestOutputPromptInterleavedWithLogLines(t *testing.T) {
	const logged = "memif_msg_receive_disconnect(): Disconnect received: interface closed\n"
	for _, async := range []string{logged, "\n", "\nPort 0: link state change event\n", "EAL: message\n", logged + logged} {
		for cut := 1; cut < len(prompt); cut++ {
			input := "testpmd> stop\nPacket forwarding not started\n" + prompt[:cut] + async + prompt[cut:] + "quit\n"
			for _, read := range []int{1, 7, len(input)} {
				var o output
				o.changed = make(chan struct{})
				for i := 0; i < len(input); i += read {
					o.append([]byte(input[i:min(i+read, len(input))]), false)
				}
				if len(o.prompts) != 2 {
					t.Fatalf("%q in reads of %d: %d prompts, want 2", input, read, len(o.prompts))
				}
				if got, want := o.answer(2), "stop\nPacket forwarding not started\n"; got != want {
					t.Errorf("%q in reads of %d: answer %q, want %q", input, read, got, want)
				}
				if got := o.text(o.prompts[1].end, o.prompts[1].end+5); got != "quit\n" {
					t.Errorf("%q in reads of %d: the second prompt ends before %q, want before \"quit\\n\"", input, read, got)
				}
			}
		}
	}
}

// TestOutputNoFalsePrompts feeds text that holds a prompt's first bytes
// followed by lines that are not log lines: no prompt may be found there,
// and the real prompt after them must be.
func TestOutputNoFalsePrompts(t *testing.T) {
	for _, text := range []string{
		"test\nresult\n", "tes\nPort x\n", "testpmd\nok\n", "testpmd>\n", "at testpmd>x\n", "t\n\nestpmd>x\n", "test(\n",
	} {
		var o output
		o.changed = make(chan struct{})
		o.append([]byte(text), false)
		if len(o.prompts) != 0 {
			t.Errorf("%q: found %d prompts, want 0", text, len(o.prompts))
		}
		o.append([]byte(prompt), false)
		if len(o.prompts) != 1 || o.text(o.prompts[0].at, o.prompts[0].end) != prompt {
			t.Errorf("%q then a prompt: prompts %v, want the one at %d", text, o.prompts, len(text))
		}
	}
}

// FuzzOutputPrompts checks that the prompts found do not depend on how the
// output is cut into reads, and that scanning never panics.
func FuzzOutputPrompts(f *testing.F) {
	f.Add("testpmd> stop\ntestmemif(): x\npmd> ", uint8(3))
	f.Add("EAL: a\ntestpmd> show\n\nanswer\ntes\ntpmd> ", uint8(1))
	f.Fuzz(func(t *testing.T, text string, read uint8) {
		whole := output{changed: make(chan struct{})}
		whole.append([]byte(text), false)
		cut := output{changed: make(chan struct{})}
		step := int(read%16) + 1
		for i := 0; i < len(text); i += step {
			cut.append([]byte(text[i:min(i+step, len(text))]), false)
		}
		if !slices.Equal(whole.prompts, cut.prompts) {
			t.Fatalf("prompts %v in one read, %v in reads of %d", whole.prompts, cut.prompts, step)
		}
	})
}

func TestOutputDropsOldOutput(t *testing.T) {
	var o output
	o.changed = make(chan struct{})
	chunk := []byte(strings.Repeat("x", 1<<20))
	for i := 0; i < 10; i++ {
		o.append(chunk, false)
	}
	o.append([]byte("\ntestpmd> "), false)
	if len(o.buf) > maxOutput {
		t.Errorf("retained %d bytes, more than %d", len(o.buf), maxOutput)
	}
	if len(o.prompts) != 1 || o.text(o.prompts[0].at, o.prompts[0].end) != prompt {
		t.Errorf("prompt lost after trimming: %v", o.prompts)
	}
	if got := o.text(0, o.base+5); got != "xxxxx" {
		t.Errorf("text from a dropped offset = %q, want the oldest retained bytes", got)
	}
}

func TestErrorMessage(t *testing.T) {
	err := &Error{Op: "wait for link up on port 0", Err: context.DeadlineExceeded, Tail: "memif_connect_client(): Failed to connect socket"}
	msg := err.Error()
	for _, want := range []string{"testpmd: wait for link up on port 0: context deadline exceeded", "Failed to connect socket"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("Error does not unwrap")
	}
}
