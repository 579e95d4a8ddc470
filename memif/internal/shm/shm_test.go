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

// TestPlaceholderKeepsAddressesDropsSharing: after Placeholder, the old
// view still reads and writes (zeros, privately), the other mapping of the
// file no longer sees its writes, and Unmap still removes it.
func TestPlaceholderKeepsAddressesDropsSharing(t *testing.T) {
	fd, err := Memfd("t", 8192)
	if err != nil {
		t.Fatal(err)
	}
	defer Close(fd)
	a, err := Map(fd, 8192)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Map(fd, 8192)
	if err != nil {
		t.Fatal(err)
	}
	defer Unmap(b)
	a[100], b[7000] = 1, 2
	if err := Placeholder(a); err != nil {
		t.Fatal(err)
	}
	if a[100] != 0 || a[7000] != 0 {
		t.Errorf("placeholder reads %d, %d; want zeros", a[100], a[7000])
	}
	a[200] = 3
	if b[200] != 0 || b[100] != 1 {
		t.Errorf("placeholder still shares the file: b[200]=%d b[100]=%d", b[200], b[100])
	}
	if err := Unmap(a); err != nil {
		t.Errorf("unmap placeholder: %v", err)
	}
	if err := Placeholder(nil); err != nil {
		t.Errorf("Placeholder(nil) = %v", err)
	}
}
