package memif

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Socket is one control socket path. Master interfaces on it share one
// listener and are told apart by interface id; each slave interface opens
// its own connection to the path. Close closes every interface.
type Socket struct {
	cfg SocketConfig
	log *slog.Logger

	mu      sync.Mutex
	closed  bool
	masters map[uint32]*Interface
	slaves  map[uint32]*Interface
	ln      *net.UnixListener
	pending map[*conn]struct{} // accepted, handshake not over (link not up)
	closing []*Interface       // the interfaces Close closes
	wg      sync.WaitGroup

	accepted, refused, overflow atomic.Uint64

	logs logLimiter // connections refused before naming an interface
}

// SocketStats counts master-side connection attempts on a Socket,
// including those refused before an interface was identified.
type SocketStats struct {
	Accepted uint64 // connections accepted by the listener
	Refused  uint64 // handshakes this side ended with DISCONNECT
	// Overflow counts connections closed at once because
	// SocketConfig.MaxPendingConnections handshakes were already running.
	Overflow uint64
}

// NewSocket validates cfg and returns a Socket. It does not touch the
// file system; the listener is created with the first master interface.
func NewSocket(cfg SocketConfig) (*Socket, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	return &Socket{
		cfg:     cfg,
		log:     cfg.Logger.With("socket", cfg.Path),
		masters: make(map[uint32]*Interface),
		slaves:  make(map[uint32]*Interface),
		pending: make(map[*conn]struct{}),
		logs:    logLimiter{clock: cfg.Clock, interval: refusedLogInterval},
	}, nil
}

// Path is the socket path ('@' prefix for abstract sockets).
func (s *Socket) Path() string { return s.cfg.Path }

// Stats returns the socket's connection counters.
func (s *Socket) Stats() SocketStats {
	return SocketStats{Accepted: s.accepted.Load(), Refused: s.refused.Load(), Overflow: s.overflow.Load()}
}

func (s *Socket) addr() *net.UnixAddr { return &net.UnixAddr{Name: s.cfg.Path, Net: "unixpacket"} }

func (s *Socket) abstract() bool { return strings.HasPrefix(s.cfg.Path, "@") }

// NewInterface creates an interface on the socket. A master starts
// listening (creating the socket file) if it is the first master; a slave
// starts connecting at once and, unless reconnecting is off, retries every
// ReconnectInterval while it is not connected.
//
// May return an error wrapping ErrInvalid (bad config), ErrIDInUse (the
// id is taken on this socket), fs.ErrNotExist (the socket directory is
// missing), ErrNotSocket, ErrSocketInUse (another process listens) or
// ErrClosed.
func (s *Socket) NewInterface(cfg InterfaceConfig) (*Interface, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	table := s.slaves
	if cfg.Role == RoleMaster {
		table = s.masters
	}
	if table[cfg.ID] != nil {
		return nil, fmt.Errorf("memif: %s interface id %d on %s: %w", cfg.Role, cfg.ID, s.cfg.Path, ErrIDInUse)
	}
	ifc := newInterface(s, cfg)
	if cfg.Role == RoleMaster {
		if s.ln == nil {
			if err := s.listen(); err != nil {
				return nil, err
			}
		}
		s.masters[cfg.ID] = ifc
		return ifc, nil
	}
	s.slaves[cfg.ID] = ifc
	ifc.wg.Add(1)
	go ifc.slaveLoop()
	return ifc, nil
}

// listen creates the listener. Called with s.mu held.
func (s *Socket) listen() error {
	path := s.cfg.Path
	if !s.abstract() {
		dir := filepath.Dir(path)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return fmt.Errorf("memif: cannot listen on %s: directory %s does not exist: %w", path, dir, fs.ErrNotExist)
		}
		if st, err := os.Lstat(path); err == nil {
			if st.Mode().Type() != fs.ModeSocket {
				return fmt.Errorf("memif: cannot listen on %s: %w", path, ErrNotSocket)
			}
			// A socket file nobody answers on is left over from a dead
			// process: remove it, as VPP and libmemif do.
			if c, err := net.DialTimeout("unixpacket", path, time.Second); err == nil {
				c.Close()
				return fmt.Errorf("memif: cannot listen on %s: %w", path, ErrSocketInUse)
			}
			os.Remove(path)
		}
	}
	ln, err := net.ListenUnix("unixpacket", s.addr())
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("memif: cannot listen on %s: %w", path, ErrSocketInUse)
		}
		return fmt.Errorf("memif: cannot listen on %s: %w", path, unwrapOp(err))
	}
	// The kernel checks write permission at connect, so for the moment
	// between listen and this call the file has the umask's mode: a process
	// umask at least as strict as File.Mode closes that window.
	if err := s.cfg.File.Apply(path); err != nil {
		ln.Close()
		return fmt.Errorf("memif: cannot listen on %s: %w", path, err)
	}
	s.ln = ln
	s.wg.Add(1)
	go s.acceptLoop(ln)
	return nil
}

func (s *Socket) acceptLoop(ln *net.UnixListener) {
	defer s.wg.Done()
	for {
		uc, err := ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and friends: back off instead of spinning.
			s.log.Warn("memif accept", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		s.accepted.Add(1)
		c := newConn(s, uc, false)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			uc.Close()
			return
		}
		if len(s.pending) >= s.cfg.MaxPendingConnections {
			// Each handshake may hold up to a few hundred descriptors and
			// mappings until it times out: past the bound, new ones are
			// turned away before they can claim anything.
			s.mu.Unlock()
			uc.Close()
			s.overflow.Add(1)
			s.logs.log(s.log, slog.LevelWarn, "memif connection refused: too many handshakes in progress", "limit", s.cfg.MaxPendingConnections)
			continue
		}
		s.pending[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serveMaster()
		}()
	}
}

// master returns the master interface with id, or whether a slave has it.
func (s *Socket) lookup(id uint32) (master *Interface, slave bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.masters[id], s.slaves[id] != nil
}

func (s *Socket) unpend(c *conn) {
	s.mu.Lock()
	delete(s.pending, c)
	s.mu.Unlock()
}

func (s *Socket) remove(ifc *Interface) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ifc.cfg.Role == RoleMaster {
		if s.masters[ifc.cfg.ID] == ifc {
			delete(s.masters, ifc.cfg.ID)
		}
	} else if s.slaves[ifc.cfg.ID] == ifc {
		delete(s.slaves, ifc.cfg.ID)
	}
}

// Close closes every interface on the socket (each sends DISCONNECT to its
// peer), stops listening, removes the socket file and waits for every
// goroutine it started. It is idempotent. Called from an interface
// callback it returns without waiting, like Interface.Close.
func (s *Socket) Close() error {
	s.mu.Lock()
	first := !s.closed
	s.closed = true
	if first {
		for _, i := range s.masters {
			s.closing = append(s.closing, i)
		}
		for _, i := range s.slaves {
			s.closing = append(s.closing, i)
		}
	}
	ifcs := s.closing
	ln := s.ln
	var pend []*conn
	for c := range s.pending {
		pend = append(pend, c)
	}
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	for _, c := range pend {
		c.abort(&DisconnectError{Reason: "socket closed", Err: ErrClosed})
	}
	inCallback := false
	for _, i := range ifcs {
		i.Close()
		inCallback = inCallback || i.inCallback.Load() > 0
	}
	// Every Close outside a callback waits, so when one returns the
	// teardown is complete; inside a callback this may be the goroutine
	// s.wg waits for.
	if !inCallback {
		s.wg.Wait()
	}
	return nil
}

// dialError describes a slave's failed connect to path in Go's words,
// keeping the errno for errors.Is (fs.ErrNotExist, syscall.ECONNREFUSED).
func dialError(path string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("memif: connect to %s: no socket there (is the master running?): %w", path, unwrapOp(err))
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("memif: connect to %s: nobody listens (the master is gone): %w", path, unwrapOp(err))
	}
	return fmt.Errorf("memif: connect to %s: %w", path, unwrapOp(err))
}

// unwrapOp drops the *net.OpError layer, whose text repeats the address.
func unwrapOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}
