package pcapng

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/host/hosttest"
)

// block is one block read back by readBlocks.
type block struct {
	typ  uint32
	body []byte
}

// readBlocks splits a little-endian pcapng file into blocks, checking that
// each block's two lengths agree and are 32-bit aligned.
func readBlocks(t *testing.T, b []byte) []block {
	t.Helper()
	var out []block
	for len(b) > 0 {
		if len(b) < 12 {
			t.Fatalf("%d bytes left, less than a block", len(b))
		}
		n := binary.LittleEndian.Uint32(b[4:8])
		if n%4 != 0 || n < 12 || int(n) > len(b) {
			t.Fatalf("block length %d (%d bytes left)", n, len(b))
		}
		if tail := binary.LittleEndian.Uint32(b[n-4 : n]); tail != n {
			t.Fatalf("block lengths %d and %d differ", n, tail)
		}
		out = append(out, block{binary.LittleEndian.Uint32(b[0:4]), b[8 : n-4]})
		b = b[n:]
	}
	return out
}

func sample(t *testing.T) ([]byte, time.Time) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, "memif-wasm test")
	if err != nil {
		t.Fatal(err)
	}
	rx, err := w.AddInterface("blue/north rx", LinkTypeEthernet, 64)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := w.AddInterface("blue/north tx", LinkTypeEthernet, 64)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 42)
	copy(frame, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x06}) // ARP
	at := time.Unix(1700000000, 123456789)
	if err := w.WritePacket(rx, at, frame, 60, "verdict drop, dropped: drop: plugin acl", DirInbound); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(tx, at.Add(time.Microsecond), frame[:41], 41, "", DirOutbound); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), at
}

func TestWriterBlocks(t *testing.T) {
	file, at := sample(t)
	blocks := readBlocks(t, file)
	if len(blocks) != 5 {
		t.Fatalf("%d blocks, want SHB, 2 IDB, 2 EPB", len(blocks))
	}
	want := []uint32{blockSHB, blockIDB, blockIDB, blockEPB, blockEPB}
	for i, b := range blocks {
		if b.typ != want[i] {
			t.Errorf("block %d: type %#x, want %#x", i, b.typ, want[i])
		}
	}
	if m := binary.LittleEndian.Uint32(blocks[0].body); m != byteOrderMagic {
		t.Errorf("byte-order magic %#x", m)
	}
	epb := blocks[3].body
	ts := uint64(binary.LittleEndian.Uint32(epb[4:8]))<<32 | uint64(binary.LittleEndian.Uint32(epb[8:12]))
	if ts != uint64(at.UnixNano()) || binary.LittleEndian.Uint32(epb[12:16]) != 42 || binary.LittleEndian.Uint32(epb[16:20]) != 60 {
		t.Errorf("EPB header %x", epb[:20])
	}
	if !bytes.Contains(epb, []byte("verdict drop, dropped: drop: plugin acl")) {
		t.Error("EPB lacks its comment")
	}
}

func TestWriterRefuses(t *testing.T) {
	w, err := NewWriter(&bytes.Buffer{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddInterface("x", LinkTypeEthernet, 0); err == nil {
		t.Error("snaplen 0 accepted")
	}
	if _, err := w.AddInterface("x", LinkTypeEthernet, MaxSnaplen+1); err == nil {
		t.Error("snaplen beyond MaxSnaplen accepted")
	}
	if err := w.WritePacket(0, time.Now(), nil, 0, "", DirInbound); !errors.Is(err, ErrNoInterface) {
		t.Errorf("packet on no interface: %v", err)
	}
	id, _ := w.AddInterface("x", LinkTypeEthernet, 4)
	if err := w.WritePacket(id, time.Now(), make([]byte, 5), 5, "", DirInbound); !errors.Is(err, ErrTooLong) {
		t.Errorf("packet beyond snaplen: %v", err)
	}
}

// TestTsharkReads: Wireshark's tshark reads the file back: interfaces by
// name, timestamps to the nanosecond, lengths, comments and directions.
func TestTsharkReads(t *testing.T) {
	file, _ := sample(t)
	path := filepath.Join(t.TempDir(), "sample.pcapng")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	out := hosttest.Tshark(t, path, "frame.interface_name", "frame.time_epoch", "frame.cap_len", "frame.len", "frame.comment", "frame.p2p_dir", "eth.type")
	want := "blue/north rx\t1700000000.123456789\t42\t60\tverdict drop, dropped: drop: plugin acl\t1\t0x0806\n" +
		"blue/north tx\t1700000000.123457789\t41\t41\t\t0\t0x0806\n"
	if out != want {
		t.Errorf("tshark read\n%q\nwant\n%q", out, want)
	}
}
