package libmemif

import (
	"io"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
)

// MemifPacketHandle reads and writes packets of one memif queue for
// gopacket: it is a gopacket.PacketDataSource, so
// gopacket.NewPacketSource(handle, layers.LayerTypeEthernet) decodes what
// arrives on the queue.
type MemifPacketHandle struct {
	memif   *Memif
	queueID uint8
	rxCount uint16

	readMu  sync.Mutex
	pending []RawPacketData // received by the last burst, not yet read
	stamp   time.Time       // when that burst arrived

	writeMu sync.Mutex
	one     [1]RawPacketData // TxBurst argument, reused

	closeMu sync.Mutex
	stop    bool // set under readMu and writeMu
}

var _ gopacket.PacketDataSource = (*MemifPacketHandle)(nil)

// NewPacketHandle creates a gopacket packet handle on queue queueId (Rx
// and Tx queue of the same number). rxCount is how many packets each Rx
// burst reads at once; the minimum (and the value used for 0) is 1.
func (memif *Memif) NewPacketHandle(queueId uint8, rxCount uint16) *MemifPacketHandle {
	return &MemifPacketHandle{memif: memif, queueID: queueId, rxCount: max(rxCount, 1)}
}

// ReadPacketData returns the next received packet. It reads packets from
// the queue in bursts of rxCount and returns them one by one; when none
// are waiting it returns io.EOF, and the caller should stop reading until
// the queue's interrupt channel fires (or poll again later). Burst errors
// (ErrDisconnected, ErrQueueID, ErrNoConn) are returned as they are, and
// io.EOF after Close.
func (handle *MemifPacketHandle) ReadPacketData() (data []byte, ci gopacket.CaptureInfo, err error) {
	handle.readMu.Lock()
	defer handle.readMu.Unlock()
	if handle.stop {
		return nil, ci, io.EOF
	}
	if len(handle.pending) == 0 {
		pkts, err := handle.memif.RxBurst(handle.queueID, handle.rxCount)
		if err != nil {
			return nil, ci, err
		}
		if len(pkts) == 0 {
			return nil, ci, io.EOF
		}
		handle.pending, handle.stamp = pkts, time.Now()
	}
	data = handle.pending[0]
	handle.pending[0] = nil
	handle.pending = handle.pending[1:]
	ci = gopacket.CaptureInfo{Timestamp: handle.stamp, CaptureLength: len(data), Length: len(data)}
	return data, ci, nil
}

// WritePacketData sends one packet on the queue. When the ring is full
// and nothing was sent it returns io.EOF, and the caller should stop
// writing for now. Burst errors (ErrInvalArgs for an oversized packet,
// ErrDisconnected, ErrQueueID, ErrNoConn) are returned as they are, and
// io.EOF after Close.
func (handle *MemifPacketHandle) WritePacketData(data []byte) (err error) {
	handle.writeMu.Lock()
	defer handle.writeMu.Unlock()
	if handle.stop {
		return io.EOF
	}
	handle.one[0] = data
	n, err := handle.memif.TxBurst(handle.queueID, handle.one[:])
	handle.one[0] = nil
	if err != nil {
		return err
	}
	if n == 0 {
		return io.EOF
	}
	return nil
}

// Close waits for running reads and writes to finish and makes later ones
// return io.EOF. It does not close the Memif. It is idempotent.
func (handle *MemifPacketHandle) Close() {
	handle.closeMu.Lock()
	defer handle.closeMu.Unlock()
	handle.readMu.Lock()
	defer handle.readMu.Unlock()
	handle.writeMu.Lock()
	defer handle.writeMu.Unlock()
	handle.stop = true
	handle.pending = nil
}
