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
	pending map[*conn]struct{} // accepted, not yet bound to an interface
	closing []*Interface       // the interfaces Close closes
	wg      sync.WaitGroup

	accepted, refused atomic.Uint64
}

// SocketStats counts master-side connection attempts on a Socket,
// including those refused before an interface was identified.
type SocketStats struct {
	Accepted uint64 // connections accepted by the listener
	Refused  uint64 // handshakes this side ended with DISCONNECT
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
	}, nil
}

// Path is the socket path ('@' prefix for abstract sockets).
func (s *Socket) Path() string { return s.cfg.Path }

// Stats returns the socket's connection counters.
func (s *Socket) Stats() SocketStats {
	return SocketStats{Accepted: s.accepted.Load(), Refused: s.refused.Load()}
}

func (s *Socket) addr() *net.UnixAddr { return &net.UnixAddr{Name: s.cfg.Path, Net: "unixpacket"} }

func (s *Socket) abstract() bool { return strings.HasPrefix(s.cfg.Path, "@") }

// NewInterface creates an interface on the socket. A master starts
// listening (creating the socket file) if it is the first master; a slave
// starts connecting at once and, unless reconnecting is off, retries every
// ReconnectInterval while it is not connected.
//
// May return an error wrapping ErrInvalArg (bad config), ErrConn (the id
// is taken on this socket), ErrNoFile (the socket directory is missing),
// ErrFileNotSock, ErrAlready (another process listens) or ErrClosed.
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
		return nil, fmt.Errorf("memif: %s interface id %d already exists on %s: %w", cfg.Role, cfg.ID, s.cfg.Path, ErrConn)
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
			return fmt.Errorf("memif: cannot listen on %s: socket directory %s does not exist: %w", path, dir, ErrNoFile)
		}
		if st, err := os.Lstat(path); err == nil {
			if st.Mode().Type() != fs.ModeSocket {
				return fmt.Errorf("memif: cannot listen on %s: %w", path, ErrFileNotSock)
			}
			// A socket file nobody answers on is left over from a dead
			// process: remove it, as VPP and libmemif do.
			if c, err := net.DialTimeout("unixpacket", path, time.Second); err == nil {
				c.Close()
				return fmt.Errorf("memif: cannot listen on %s: another process listens there: %w", path, ErrAlready)
			}
			os.Remove(path)
		}
	}
	ln, err := net.ListenUnix("unixpacket", s.addr())
	if err != nil {
		return fmt.Errorf("memif: listen on %s: %w", path, mapSyscallErr(err))
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
		c.abort(&DisconnectError{Code: uint32(ErrDisconnect.Code), Reason: "socket closed", Err: ErrClosed})
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

// mapSyscallErr wraps err with the libmemif error for its errno, as
// libmemif's memif_syscall_error_handler does.
func mapSyscallErr(err error) error {
	var e *Error
	switch {
	case errors.Is(err, syscall.ENOENT):
		e = ErrNoFile
	case errors.Is(err, syscall.ECONNREFUSED):
		e = ErrConnRefused
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		e = ErrAccess
	case errors.Is(err, syscall.ENFILE):
		e = ErrFileLimit
	case errors.Is(err, syscall.EMFILE):
		e = ErrProcFileLim
	case errors.Is(err, syscall.ENOMEM):
		e = ErrNoMem
	case errors.Is(err, syscall.EADDRINUSE), errors.Is(err, syscall.EALREADY):
		e = ErrAlready
	case errors.Is(err, syscall.EAGAIN):
		e = ErrAgain
	case errors.Is(err, syscall.EBADF):
		e = ErrBadFD
	default:
		e = ErrSyscall
	}
	return fmt.Errorf("%w (%w)", err, e)
}
