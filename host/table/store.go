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

// Acquire returns the table k names, creating it when there is none. A table
// that exists with another shape is refused (ErrIncompatible), unless fresh
// asks for a new empty table in its place. charge, when not nil, is called
// with the pages of a table about to be created and returns the function
// that gives them back (when the table closes), or an error that refuses it.
func (s *Store) Acquire(k Key, spec Spec, fresh bool, charge func(pages uint64) (func(), error)) (*Table, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if k.Name != spec.Name {
		return nil, fmt.Errorf("table key %s names another table than %q", k, spec.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	old := s.tables[k]
	if old != nil && old.spec == spec {
		return old, nil
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
	if old != nil {
		old.Close()
	}
	s.tables[k] = t
	return t, nil
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
