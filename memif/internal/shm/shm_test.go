//go:build linux

package shm

import (
	"testing"
)

func TestMemfdSealedAndMapped(t *testing.T) {
	fd, err := Memfd("t", 8192)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(fd)
	if n, err := FileSize(fd); err != nil || n != 8192 {
		t.Fatalf("size %d, %v", n, err)
	}
	if !ShrinkSealed(fd) {
		t.Error("memfd not sealed against shrinking")
	}
	a, err := Map(fd, 8192)
	if err != nil {
		t.Fatal(err)
	}
	defer Unmap(a)
	b, err := Map(fd, 8192)
	if err != nil {
		t.Fatal(err)
	}
	defer Unmap(b)
	a[5000] = 42
	if b[5000] != 42 {
		t.Error("two mappings of one memfd do not share memory")
	}
	if IsEventfd(fd) {
		t.Error("memfd taken for an eventfd")
	}
}

func TestEventfdSignalDrain(t *testing.T) {
	fd, err := Eventfd()
	if err != nil {
		t.Fatal(err)
	}
	defer Close(fd)
	if !IsEventfd(fd) {
		t.Fatal("IsEventfd(eventfd) = false")
	}
	if n, err := Drain(fd); n != 0 || err != nil {
		t.Errorf("Drain of a fresh eventfd = %d, %v (EAGAIN is not an error)", n, err)
	}
	Signal(fd)
	Signal(fd)
	if n, err := Drain(fd); n != 2 || err != nil {
		t.Errorf("Drain = %d, %v; want 2", n, err)
	}
}

func TestParseRights(t *testing.T) {
	fd, _ := Eventfd()
	defer Close(fd)
	got, err := ParseRights(Rights(fd))
	if err != nil || len(got) != 1 {
		t.Fatalf("ParseRights = %v, %v", got, err)
	}
	// Rights only encodes; nothing was received, so there is no new fd.
	for _, bad := range [][]byte{{1, 2, 3}, make([]byte, 15), {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if fds, err := ParseRights(bad); err == nil && len(fds) > 0 {
			t.Errorf("ParseRights(% x) = %v", bad, fds)
		}
	}
}

func TestSealShrinkOnForeignMemfd(t *testing.T) {
	fd, err := unixMemfdUnsealed(t)
	if err != nil {
		t.Skipf("memfd: %v", err)
	}
	if ShrinkSealed(fd) {
		t.Fatal("fresh memfd already sealed")
	}
	if err := SealShrink(fd); err != nil {
		t.Fatal(err)
	}
	if !ShrinkSealed(fd) {
		t.Error("SealShrink did not seal")
	}
}
