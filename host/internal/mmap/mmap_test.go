//go:build linux

package mmap

import (
	"errors"
	"testing"
)

func TestMapSharedSeesPeerWrites(t *testing.T) {
	r, err := Reserve(16 * PageSize)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Free()
	fd, err := Memfd("test", 2*PageSize)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(fd)
	peer, err := MapFile(fd, 2*PageSize)
	if err != nil {
		t.Fatal(err)
	}
	defer UnmapFile(peer)

	mem := r.Bytes()
	mem[4*PageSize] = 7 // private page, replaced by the mapping below
	if err := r.MapShared(4*PageSize, 2*PageSize, fd, 0); err != nil {
		t.Fatal(err)
	}
	peer[0], peer[PageSize+1] = 0xAA, 0xBB
	if mem[4*PageSize] != 0xAA || mem[5*PageSize+1] != 0xBB {
		t.Fatalf("reservation does not see the peer's bytes: %x %x", mem[4*PageSize], mem[5*PageSize+1])
	}
	mem[4*PageSize+2] = 0xCC
	if peer[2] != 0xCC {
		t.Fatal("peer does not see the reservation's write")
	}
	if err := r.Unmap(4*PageSize, 2*PageSize); err != nil {
		t.Fatal(err)
	}
	if mem[4*PageSize] != 0 || peer[0] != 0xAA {
		t.Fatalf("after Unmap: guest %x (want 0), peer %x (want aa)", mem[4*PageSize], peer[0])
	}
}

func TestRangeChecks(t *testing.T) {
	r, err := Reserve(4 * PageSize)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		off, n int
	}{
		{"unaligned offset", 1, PageSize},
		{"unaligned length", 0, PageSize + 1},
		{"past the end", 3 * PageSize, 2 * PageSize},
		{"empty", 0, 0},
		{"negative", -PageSize, PageSize},
	}
	for _, c := range cases {
		if err := r.Unmap(c.off, c.n); !errors.Is(err, ErrRange) {
			t.Errorf("%s: err = %v, want ErrRange", c.name, err)
		}
	}
	if err := r.Free(); err != nil {
		t.Fatal(err)
	}
	if err := r.Free(); err != nil {
		t.Fatalf("second Free: %v", err)
	}
	if err := r.Unmap(0, PageSize); !errors.Is(err, ErrFreed) {
		t.Fatalf("Unmap after Free: %v", err)
	}
	if _, err := Reserve(0); !errors.Is(err, ErrRange) {
		t.Fatalf("Reserve(0): %v", err)
	}
}

func TestPopulate(t *testing.T) {
	r, err := Reserve(16 * PageSize)
	if err != nil {
		t.Skipf("no mmap: %v", err)
	}
	defer r.Free()
	if err := r.Populate(PageSize+1, 2*PageSize); err != nil {
		t.Skipf("kernel without MADV_POPULATE_WRITE: %v", err)
	}
	b := r.Bytes()
	if b[PageSize] != 0 || b[3*PageSize] != 0 {
		t.Fatal("populated pages are not zero")
	}
	for _, c := range []struct{ off, n int }{{-1, 1}, {0, 0}, {15 * PageSize, 2 * PageSize}} {
		if err := r.Populate(c.off, c.n); err != ErrRange {
			t.Errorf("Populate(%d, %d) = %v, want ErrRange", c.off, c.n, err)
		}
	}
	r.Free()
	if err := r.Populate(0, PageSize); err != ErrFreed {
		t.Errorf("after Free: %v", err)
	}
}
