package memif

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/memif-wasm/memif-wasm/memif/internal/proto"
	"github.com/memif-wasm/memif-wasm/memif/internal/ring"
	"github.com/memif-wasm/memif-wasm/memif/internal/shm"
)

func encodeMsg(m proto.Message) []byte {
	var b [proto.Size]byte
	proto.Encode(&b, m)
	return b[:]
}

// FuzzMasterHandshake feeds arbitrary message sequences to the master's
// handshake state machine over a real SEQPACKET socket pair. The input is
// cut into 128-byte messages (the last one may be short); the final byte
// of a message (padding on the wire) chooses a descriptor to attach:
// bit 0 a 64 KiB memfd whose first ring header is valid, bit 1 an eventfd.
// The state machine must never panic, must end every bad sequence with a
// DISCONNECT or keep waiting, and must close every descriptor it got.
func FuzzMasterHandshake(f *testing.F) {
	good := [][]byte{
		encodeMsg(proto.Init{Version: proto.Version, ID: 1}),
		withFD(encodeMsg(proto.AddRegion{Size: 1 << 16}), 1),
		withFD(encodeMsg(proto.AddRing{Flags: proto.RingFlagS2M, Log2RingSize: 4}), 2),
		withFD(encodeMsg(proto.AddRing{Offset: 4096, Log2RingSize: 4}), 2),
		encodeMsg(proto.Connect{Name: "fuzz"}),
	}
	var all []byte
	for _, m := range good {
		all = append(all, m...)
	}
	f.Add(all)
	f.Add(all[:3*proto.Size])
	f.Add(encodeMsg(proto.Init{Version: 0x0100, ID: 1}))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 16*proto.Size {
			return
		}
		fdsBefore, _ := shm.OpenFDs()
		s, err := NewSocket(SocketConfig{Path: "@fuzz", HandshakeTimeout: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ifc := newInterface(s, InterfaceConfig{ID: 1, Role: RoleMaster, RxQueues: 2, TxQueues: 2})
		ifc.cfg, _ = ifc.cfg.normalize()
		s.masters[1] = ifc
		a, b, err := shm.SeqpacketPair()
		if err != nil {
			t.Skip(err)
		}
		uc := fileConn(t, a)
		peer := fileConn(t, b)
		c := newConn(s, uc, false)
		go c.run(c.masterHandshake)
		for len(data) > 0 {
			n := min(len(data), proto.Size)
			msg := data[:n]
			data = data[n:]
			var oob []byte
			var sent []int
			if n == proto.Size {
				if msg[n-1]&1 != 0 {
					sent = append(sent, fuzzRegion(t))
				}
				if msg[n-1]&2 != 0 {
					efd, _ := shm.Eventfd()
					sent = append(sent, efd)
				}
				for _, fd := range sent {
					oob = append(oob, shm.Rights(fd)...)
				}
			}
			_, _, err := peer.WriteMsgUnix(msg, oob, nil)
			for _, fd := range sent {
				shm.Close(fd) // the receiver holds its own copy now
			}
			if err != nil {
				break // the master hung up
			}
		}
		// Read the master's answers until it hangs up or falls silent, so
		// that its replies do not fail just because the peer left early.
		buf := make([]byte, 256)
		for {
			peer.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			n, _, _, _, err := peer.ReadMsgUnix(buf, nil)
			if err != nil || n == 0 {
				break
			}
		}
		peer.Close()
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			t.Fatal("handshake goroutine did not end after the peer hung up")
		}
		ifc.Close()
		if after, _ := shm.OpenFDs(); after > fdsBefore {
			t.Fatalf("%d descriptors leaked", after-fdsBefore)
		}
	})
}

func withFD(m []byte, bits byte) []byte {
	m[proto.Size-1] = bits
	return m
}

func fileConn(t *testing.T, fd int) *net.UnixConn {
	f := os.NewFile(uintptr(fd), "fuzz")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*net.UnixConn)
}

// fuzzRegion is a 64 KiB memfd with valid 16-slot rings at offsets 0 and
// 4096, closed when the test ends (the receiver gets its own copy).
func fuzzRegion(t *testing.T) int {
	fd, err := shm.Memfd("fuzz", 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	if mem, err := shm.Map(fd, 1<<16); err == nil {
		for _, off := range []int{0, 4096} {
			r, _ := ring.New(mem[off:], 64, 4)
			r.Init(0)
		}
		shm.Unmap(mem)
	}
	return fd
}
