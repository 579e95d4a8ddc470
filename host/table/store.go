package table

import (
	"errors"
	"fmt"
	"sync"
)

// ErrIncompatible is wrapped when a declaration names an existing table with
// another kind or other sizes.
var ErrIncompatible = errors.New("table exists with another shape")

// Key names a table: its tenant, a scope the caller chooses (the daemon uses
// the interface) and the declared name.
type Key struct{ Tenant, Scope, Name string }

// String renders the key as tenant/scope/name.
func (k Key) String() string { return k.Tenant + "/" + k.Scope + "/" + k.Name }

// Store owns tables by Key. It is safe for concurrent use.
type Store struct {
	mu     sync.Mutex
	tables map[Key]*Table
	closed bool
}

// NewStore makes an empty store.
func NewStore() *Store { return &Store{tables: map[Key]*Table{}} }

// Acquire is Prepare then Commit.
func (s *Store) Acquire(k Key, spec Spec, fresh bool, charge func(pages uint64) (func(), error)) (*Table, error) {
	c, err := s.Prepare(k, spec, fresh, charge)
	if err != nil {
		return nil, err
	}
	return c.Commit(), nil
}

// Claim is a table an admission means to use. Until Commit, a table it
// created is known to nobody else, so a refused admission leaves the store
// as it was (Abort).
type Claim struct {
	s       *Store
	k       Key
	t       *Table
	created bool
}

// Prepare returns a claim on the table k names: the existing one when its
// shape matches spec, else a new empty table. A table that exists with
// another shape is refused (ErrIncompatible) unless fresh asks for a new one
// to replace it at Commit. charge, when not nil, is called with the pages of
// a table about to be created and returns the function that gives them back
// (when the table closes), or an error that refuses it.
func (s *Store) Prepare(k Key, spec Spec, fresh bool, charge func(pages uint64) (func(), error)) (*Claim, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if k.Name != spec.Name {
		return nil, fmt.Errorf("table key %s names another table than %q", k, spec.Name)
	}
	s.mu.Lock()
	closed, old := s.closed, s.tables[k]
	s.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if old != nil && old.spec == spec {
		return &Claim{s: s, k: k, t: old}, nil
	}
	if old != nil && !fresh {
		return nil, fmt.Errorf("%w: %s is %v, the declaration says %v", ErrIncompatible, k, old.spec, spec)
	}
	var release func()
	if charge != nil {
		r, err := charge(spec.Pages())
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", k, err)
		}
		release = r
	}
	t, err := New(spec)
	if err != nil {
		if release != nil {
			release()
		}
		return nil, err
	}
	t.release = release
	return &Claim{s: s, k: k, t: t, created: true}, nil
}

// Table is the claimed table, to map into a probe instance before Commit.
func (c *Claim) Table() *Table { return c.t }

// Commit installs a created table and returns the table to use from now
// on: the claimed one, or, when another admission installed a table of the
// same shape since Prepare (and this one was not asked to replace it), that
// one (the created table is then closed).
func (c *Claim) Commit() *Table {
	if !c.created {
		return c.t
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.s.closed {
		c.t.Close() // the caller's Engine closed: its instances still map it
		c.created = false
		return c.t
	}
	old := c.s.tables[c.k]
	if old != nil && old.spec == c.t.spec && old != c.t {
		c.t.Close()
		c.t, c.created = old, false
		return old
	}
	if old != nil {
		old.Close()
	}
	c.s.tables[c.k] = c.t
	c.created = false
	return c.t
}

// Abort closes a table Prepare created and nobody committed.
func (c *Claim) Abort() {
	if c.created {
		c.t.Close()
		c.created = false
	}
}

// Get returns the table k names, or nil.
func (s *Store) Get(k Key) *Table {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tables[k]
}

// Entry is one table of List.
type Entry struct {
	Key   Key
	Table *Table
}

// List returns every table, sorted by key.
func (s *Store) List() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Entry
	for _, k := range sortedKeys(s.tables) {
		out = append(out, Entry{k, s.tables[k]})
	}
	return out
}

// Close closes every table. It is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	var errs []error
	for k, t := range s.tables {
		errs = append(errs, t.Close())
		delete(s.tables, k)
	}
	return errors.Join(errs...)
}
