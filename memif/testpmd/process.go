package testpmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sentinel errors; an *Error wraps them.
var (
	// ErrNotInstalled means dpdk-testpmd or stdbuf is not on PATH.
	ErrNotInstalled = errors.New("not installed")
	// ErrExited means testpmd exited while it was expected to run.
	ErrExited = errors.New("testpmd exited")
	// ErrCrashed means testpmd ended with a signal or a non-zero status.
	ErrCrashed = errors.New("testpmd crashed")
	// ErrClosed means the Process was already closed.
	ErrClosed = errors.New("testpmd process closed")
)

// Error is the error of a failed operation on a testpmd process.
type Error struct {
	Op   string // what was being done, e.g. "wait for link up on port 0"
	Err  error  // why it failed
	Tail string // the last lines testpmd printed
}

func (e *Error) Error() string {
	msg := "testpmd: " + e.Op + ": " + e.Err.Error()
	if e.Tail != "" {
		msg += "\n--- last testpmd output ---\n" + e.Tail + "\n--- end of testpmd output ---"
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

const (
	prompt    = "testpmd> "
	tailBytes = 3000
	// maxOutput bounds the retained output; interactive testpmd prints only
	// what is asked for, so this is reached only by a runaway log.
	maxOutput = 8 << 20
	// stopTimeout bounds the "stop" that Close sends before "quit".
	stopTimeout = 5 * time.Second
	// pollInterval paces polls such as WaitLinkUp.
	pollInterval = 20 * time.Millisecond
)

var prefixSeq atomic.Uint64

// Process is a running testpmd. Its methods are safe for concurrent use;
// commands are sent one at a time.
type Process struct {
	cfg        Config
	filePrefix string
	cmd        *exec.Cmd
	stdin      io.WriteCloser
	out        output

	exited     chan struct{} // closed when the process has been waited for
	readerDone chan struct{} // closed when all output has been read
	waitErr    error         // valid after exited is closed

	execMu    sync.Mutex // one command at a time
	sent      int        // commands sent; guarded by execMu
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Start launches testpmd as described by cfg (nil is not allowed: it has
// no ports), waits for its prompt and checks that every port was created.
// The caller must Close the Process.
//
// May return an error wrapping ErrInvalidConfig, ErrNotInstalled,
// ErrExited, or a context error on timeout.
func Start(ctx context.Context, cfg *Config) (*Process, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, &Error{Op: "start", Err: err}
	}
	binary, err := exec.LookPath(c.Binary)
	if err != nil {
		return nil, &Error{Op: "start", Err: fmt.Errorf("%w: %s: %v (Debian: apt-get install dpdk-dev librte-net-memif23)", ErrNotInstalled, c.Binary, err)}
	}
	stdbuf, err := exec.LookPath("stdbuf")
	if err != nil {
		return nil, &Error{Op: "start", Err: fmt.Errorf("%w: stdbuf (coreutils): %v", ErrNotInstalled, err)}
	}
	removeOrphanRuntimeDirs()
	for i := range c.Ports {
		if err := removeStaleSocket(&c.Ports[i]); err != nil {
			return nil, &Error{Op: "start", Err: fmt.Errorf("port %d: %w", i, err)}
		}
	}

	p := &Process{
		cfg:        c,
		filePrefix: fmt.Sprintf("memifwasm-%d-%d", os.Getpid(), prefixSeq.Add(1)),
		exited:     make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	p.out.changed = make(chan struct{})

	r, w, err := os.Pipe()
	if err != nil {
		return nil, &Error{Op: "start", Err: err}
	}
	// stdbuf makes testpmd's stdout line-buffered so that every answer is
	// complete before the next prompt, which cmdline writes unbuffered.
	p.cmd = exec.Command(stdbuf, append([]string{"-oL", "-eL", binary}, c.args(p.filePrefix)...)...)
	p.cmd.Stdout = w
	p.cmd.Stderr = w
	p.cmd.SysProcAttr = sysProcAttr()
	p.stdin, err = p.cmd.StdinPipe()
	if err == nil {
		err = p.cmd.Start()
	}
	w.Close()
	if err != nil {
		r.Close()
		return nil, &Error{Op: "start " + binary, Err: err}
	}
	go p.read(r)
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()

	if err := p.startup(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (p *Process) startup(ctx context.Context) error {
	ctx, cancel := p.bound(ctx)
	defer cancel()
	if err := p.out.waitPrompt(ctx, 1, p.exited); err != nil {
		return p.fail("wait for the first prompt", err)
	}
	p.execMu.Lock()
	answer, err := p.exec(ctx, "show port summary all")
	p.execMu.Unlock()
	if err != nil {
		return err
	}
	n, err := ParsePortCount(answer)
	if err != nil {
		return p.fail("count ports", err)
	}
	if n != len(p.cfg.Ports) {
		return p.fail("count ports", fmt.Errorf("%d of %d memif ports were created (is librte-net-memif23 installed? is a socket in use?)", n, len(p.cfg.Ports)))
	}
	return nil
}

// FilePrefix is the EAL --file-prefix of this process.
func (p *Process) FilePrefix() string { return p.filePrefix }

// PID is testpmd's process id, for reading its CPU time.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Args are testpmd's arguments (after the binary), for logs.
func (p *Process) Args() []string { return p.cfg.args(p.filePrefix) }

// Exec sends one interactive command and returns what testpmd printed in
// answer, up to the next prompt. The command must be a single line.
//
// May return an error wrapping ErrExited, ErrClosed, or a context error.
func (p *Process) Exec(ctx context.Context, command string) (string, error) {
	if strings.ContainsAny(command, "\r\n") {
		return "", &Error{Op: "exec", Err: fmt.Errorf("command %q spans more than one line", command)}
	}
	if p.closed.Load() {
		return "", &Error{Op: "exec " + command, Err: ErrClosed}
	}
	ctx, cancel := p.bound(ctx)
	defer cancel()
	p.execMu.Lock()
	defer p.execMu.Unlock()
	return p.exec(ctx, command)
}

// exec requires execMu. The answer to the n-th command lies between the
// n-th and the (n+1)-th prompt, counting the first; counting commands
// rather than waiting for "the next prompt" keeps a command that timed out
// from handing its late prompt to the next one.
func (p *Process) exec(ctx context.Context, command string) (string, error) {
	p.sent++
	want := p.sent + 1
	if _, err := io.WriteString(p.stdin, command+"\n"); err != nil {
		return "", p.fail(command, err)
	}
	if err := p.out.waitPrompt(ctx, want, p.exited); err != nil {
		return "", p.fail(command, err)
	}
	return p.out.answer(want), nil
}

// WaitLinkUp polls until port's memif link is up (the peer has connected).
func (p *Process) WaitLinkUp(ctx context.Context, port int) error {
	ctx, cancel := p.bound(ctx)
	defer cancel()
	op := fmt.Sprintf("wait for link up on port %d", port)
	for {
		answer, err := p.Exec(ctx, fmt.Sprintf("show port info %d", port))
		if err != nil {
			return err
		}
		up, err := ParseLinkUp(answer, port)
		if err != nil {
			return p.fail(op, err)
		}
		if up {
			return nil
		}
		select {
		case <-ctx.Done():
			return p.fail(op, fmt.Errorf("link still down: %w", ctx.Err()))
		case <-time.After(pollInterval):
		}
	}
}

// StartForwarding starts packet forwarding in the configured mode. With
// txFirst, each port first sends one burst (testpmd's "start tx_first"),
// which seeds an io loopback.
func (p *Process) StartForwarding(ctx context.Context, txFirst bool) error {
	command := "start"
	if txFirst {
		command = "start tx_first"
	}
	answer, err := p.Exec(ctx, command)
	if err != nil {
		return err
	}
	if !strings.Contains(answer, "packet forwarding") && !strings.Contains(answer, "already started") {
		return p.fail(command, fmt.Errorf("no forwarding summary in the answer %q", strings.TrimSpace(answer)))
	}
	return nil
}

// StopForwarding stops packet forwarding and returns the per-port counters
// of the run. Stopping before the peer disconnects avoids testpmd 22.11's
// crash on a disconnect under traffic. Stopping when forwarding is not
// running returns an empty map.
func (p *Process) StopForwarding(ctx context.Context) (map[int]ForwardStats, error) {
	answer, err := p.Exec(ctx, "stop")
	if err != nil {
		return nil, err
	}
	if strings.Contains(answer, "Packet forwarding not started") {
		return map[int]ForwardStats{}, nil
	}
	stats, err := ParseForwardStats(answer)
	if err != nil {
		return nil, p.fail("stop", err)
	}
	return stats, nil
}

// PortStats returns port's NIC counters. Read them before the memif peer
// disconnects: the PMD resets them on disconnect.
func (p *Process) PortStats(ctx context.Context, port int) (PortStats, error) {
	answer, err := p.Exec(ctx, fmt.Sprintf("show port stats %d", port))
	if err != nil {
		return PortStats{}, err
	}
	s, err := ParsePortStats(answer, port)
	if err != nil {
		return PortStats{}, p.fail(fmt.Sprintf("port %d stats", port), err)
	}
	return s, nil
}

// XStats returns port's extended counters, among them per-queue ones:
// rx_q<N>_packets, rx_q<N>_bytes, tx_q<N>_packets, tx_q<N>_bytes.
func (p *Process) XStats(ctx context.Context, port int) (map[string]uint64, error) {
	answer, err := p.Exec(ctx, fmt.Sprintf("show port xstats %d", port))
	if err != nil {
		return nil, err
	}
	s, err := ParseXStats(answer, port)
	if err != nil {
		return nil, p.fail(fmt.Sprintf("port %d xstats", port), err)
	}
	return s, nil
}

// Output returns what testpmd printed so far (at most the last 8 MiB).
func (p *Process) Output() string { return p.out.all() }

// Tail returns about the last n bytes of output, starting at a line.
func (p *Process) Tail(n int) string { return p.out.tail(n) }

// Close stops forwarding, asks testpmd to quit, kills it if it does not
// exit within the timeout, and removes the server sockets and EAL's runtime
// directory. It is idempotent; later calls return the first result.
//
// Returns nil if testpmd exited normally, an error wrapping ErrCrashed if it
// died of a signal or a non-zero status, or an error saying it was killed.
func (p *Process) Close() error {
	p.closeOnce.Do(func() { p.closeErr = p.close() })
	return p.closeErr
}

func (p *Process) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Timeout)
	defer cancel()
	p.closed.Store(true)

	var killed bool
	select {
	case <-p.exited:
	default:
		p.execMu.Lock()
		// Errors here are ignored: the process may be dying anyway, and
		// what matters is how it ends. A "stop" left unanswered must not
		// use up the time quit has to finish: quit goes out regardless.
		stopCtx, cancelStop := context.WithTimeout(ctx, min(stopTimeout, p.cfg.Timeout))
		p.exec(stopCtx, "stop")
		cancelStop()
		io.WriteString(p.stdin, "quit\n")
		p.execMu.Unlock()
		p.stdin.Close() // EOF also ends testpmd's command loop
		select {
		case <-p.exited:
		case <-ctx.Done():
			killed = true
			p.cmd.Process.Kill()
			<-p.exited
		}
	}
	p.stdin.Close()
	select {
	case <-p.readerDone:
	case <-time.After(time.Second):
		// A grandchild holding the pipe must not hang Close.
	}
	p.cleanupFiles()

	switch {
	case killed:
		return &Error{Op: "close", Err: fmt.Errorf("did not exit within %v of quit; killed", p.cfg.Timeout), Tail: p.Tail(tailBytes)}
	case p.waitErr != nil:
		return &Error{Op: "close", Err: fmt.Errorf("%w: %v", ErrCrashed, p.waitErr), Tail: p.Tail(tailBytes)}
	}
	return nil
}

func (p *Process) cleanupFiles() {
	for _, port := range p.cfg.Ports {
		if port.Role == RoleServer && !strings.HasPrefix(port.Socket, "@") {
			if fi, err := os.Lstat(port.Socket); err == nil && fi.Mode().Type() == fs.ModeSocket {
				os.Remove(port.Socket)
			}
		}
	}
	// EAL creates its runtime directory even with --no-shconf and leaves it.
	os.RemoveAll(filepath.Join(ealRuntimeDir(), p.filePrefix))
}

// removeOrphanRuntimeDirs removes the EAL runtime directories of test
// processes that died before their cleanup ran; the pid is in the name.
func removeOrphanRuntimeDirs() {
	dirs, _ := filepath.Glob(filepath.Join(ealRuntimeDir(), "memifwasm-*-*"))
	for _, dir := range dirs {
		var pid, seq int
		if _, err := fmt.Sscanf(filepath.Base(dir), "memifwasm-%d-%d", &pid, &seq); err != nil || pid == os.Getpid() {
			continue
		}
		if processGone(pid) {
			os.RemoveAll(dir)
		}
	}
}

// ealRuntimeDir mirrors EAL's choice of runtime directory.
func ealRuntimeDir() string {
	if os.Geteuid() == 0 {
		return "/var/run/dpdk"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "dpdk")
	}
	return "/tmp/dpdk"
}

// bound limits ctx by the configured timeout.
func (p *Process) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, p.cfg.Timeout)
}

// fail wraps err with the operation and the output tail. If the process
// has exited, it waits briefly for the rest of its output first.
func (p *Process) fail(op string, err error) error {
	select {
	case <-p.exited:
		select {
		case <-p.readerDone:
		case <-time.After(time.Second):
		}
		if !errors.Is(err, ErrExited) {
			err = fmt.Errorf("%w (%v): %v", ErrExited, p.waitErr, err)
		}
	default:
	}
	return &Error{Op: op, Err: err, Tail: p.Tail(tailBytes)}
}

func (p *Process) read(r *os.File) {
	defer close(p.readerDone)
	defer r.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		p.out.append(buf[:n], err != nil)
		if err != nil {
			return
		}
	}
}

func removeStaleSocket(port *Port) error {
	if port.Role != RoleServer || strings.HasPrefix(port.Socket, "@") {
		return nil
	}
	fi, err := os.Lstat(port.Socket)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.Mode().Type() != fs.ModeSocket:
		return fmt.Errorf("socket path %s exists and is not a socket (%v)", port.Socket, fi.Mode().Type())
	}
	return os.Remove(port.Socket)
}

// output accumulates testpmd's output and records where prompts start.
type output struct {
	mu       sync.Mutex
	buf      []byte
	base     int64        // logical offset of buf[0]; grows when old output is dropped
	scanFrom int64        // logical offset where the next prompt search starts
	prompts  []promptSpan // every prompt seen
	eof      bool
	changed  chan struct{} // closed and replaced on every append
}

// promptSpan is where a prompt starts and ends, in logical offsets. It
// may hold log lines that were written while the prompt was.
type promptSpan struct{ at, end int64 }

func (o *output) append(b []byte, eof bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = append(o.buf, b...)
	o.scan()
	if len(o.buf) > maxOutput {
		drop := len(o.buf) - maxOutput/2
		o.buf = append(o.buf[:0], o.buf[drop:]...)
		o.base += int64(drop)
		o.scanFrom = max(o.scanFrom, o.base)
	}
	o.eof = o.eof || eof
	close(o.changed)
	o.changed = make(chan struct{})
}

// scan records the prompts in the output after scanFrom. It stops at a
// prompt that may still be completing, which the next append finishes.
func (o *output) scan() {
	i := int(o.scanFrom - o.base)
	for {
		k := bytes.IndexByte(o.buf[i:], prompt[0])
		if k < 0 {
			o.scanFrom = o.base + int64(len(o.buf))
			return
		}
		i += k
		end, m := matchPrompt(o.buf, i)
		switch m {
		case matched:
			o.prompts = append(o.prompts, promptSpan{o.base + int64(i), o.base + int64(end)})
			i = end
		case noMatch:
			i++
		case needMore:
			o.scanFrom = o.base + int64(i)
			return
		}
	}
}

type match uint8

const (
	noMatch match = iota
	matched
	needMore // a prefix matches: decide when more output has come
)

// matchPrompt matches the prompt at b[i:] and returns the offset after it.
// DPDK's cmdline writes its prompt one byte at a time, while its interrupt
// thread logs whole lines (a memif peer's DISCONNECT, a link event) to the
// same stdout, so such a line can land between any two bytes of a prompt.
// Lines that look like log lines are stepped over.
func matchPrompt(b []byte, i int) (end int, m match) {
	if i == len(b) {
		return 0, needMore
	}
	if b[i] != prompt[0] {
		return 0, noMatch
	}
	return matchPromptRest(b, i+1, 1)
}

// matchPromptRest matches prompt[j:] at b[i:]. A byte that could be either
// the prompt's next byte or the start of a log line ("testp" + "memif_...")
// is tried both ways.
func matchPromptRest(b []byte, i, j int) (end int, m match) {
	if j == len(prompt) {
		return i, matched
	}
	if i == len(b) {
		return 0, needMore
	}
	m = noMatch
	if b[i] == prompt[j] {
		if end, m = matchPromptRest(b, i+1, j+1); m == matched {
			return end, m
		}
	}
	switch n, line := logLine(b[i:]); line {
	case matched:
		if end, rest := matchPromptRest(b, i+n, j); rest != noMatch {
			return end, rest
		}
	case needMore:
		return 0, needMore
	}
	return 0, m
}

// logLine returns the length of the log line at the start of b, with its
// newline: an empty line, or a line that starts "name(): ", "NAME: " or
// "Port 0: ", the shapes of DPDK's log lines and testpmd's event reports.
func logLine(b []byte) (int, match) {
	if len(b) == 0 {
		return 0, needMore
	}
	i := 0
	if b[0] != '\n' {
		for i < len(b) && isWordByte(b[i]) {
			i++
		}
		switch {
		case i == 0:
			return 0, noMatch
		case i == len(b):
			return 0, needMore
		case b[i] == ' ': // "Port 0: "
			i++
			digits := i
			for i < len(b) && '0' <= b[i] && b[i] <= '9' {
				i++
			}
			if i == digits && i < len(b) {
				return 0, noMatch
			}
		case b[i] == '(':
			n, m := literal(b[i:], "()")
			if m != matched {
				return 0, m
			}
			i += n
		}
		n, m := literal(b[i:], ": ")
		if m != matched {
			return 0, m
		}
		i += n
	}
	n := bytes.IndexByte(b[i:], '\n')
	if n < 0 {
		return 0, needMore
	}
	return i + n + 1, matched
}

// literal matches s at the start of b.
func literal(b []byte, s string) (int, match) {
	n := min(len(b), len(s))
	if string(b[:n]) != s[:n] {
		return 0, noMatch
	}
	if n < len(s) {
		return 0, needMore
	}
	return n, matched
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// waitPrompt waits until at least n prompts have been seen.
func (o *output) waitPrompt(ctx context.Context, n int, exited <-chan struct{}) error {
	for {
		o.mu.Lock()
		prompts, eof, changed := len(o.prompts), o.eof, o.changed
		o.mu.Unlock()
		if prompts >= n {
			return nil
		}
		if eof {
			return fmt.Errorf("%w before its prompt", ErrExited)
		}
		select {
		case <-changed:
		case <-exited:
			// Output may still be in the pipe: wait for EOF via changed.
			select {
			case <-changed:
			case <-ctx.Done():
				return fmt.Errorf("no prompt: %w", ctx.Err())
			}
		case <-ctx.Done():
			return fmt.Errorf("no prompt: %w", ctx.Err())
		}
	}
}

// answer returns the text between prompt n-1 and prompt n (1-based): the
// echoed command and what it printed.
func (o *output) answer(n int) string {
	o.mu.Lock()
	from, to := o.prompts[n-2].end, o.prompts[n-1].at
	o.mu.Unlock()
	return o.text(from, to)
}

func (o *output) text(from, to int64) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	from = max(from, o.base)
	to = min(max(to, from), o.base+int64(len(o.buf)))
	return string(o.buf[from-o.base : to-o.base])
}

func (o *output) all() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.buf)
}

func (o *output) tail(n int) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	b := o.buf
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.TrimRight(string(b), "\n ")
}
