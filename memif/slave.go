package memif

import (
	"fmt"
	"os"

	"github.com/memif-wasm/memif-wasm/memif/internal/proto"
	"github.com/memif-wasm/memif-wasm/memif/internal/ring"
	"github.com/memif-wasm/memif-wasm/memif/internal/shm"
)

// slaveHandshake runs the slave side: read HELLO, allocate regions, rings
// and eventfds within the master's limits, then INIT, ADD_REGION*,
// ADD_RING* (all S2M, then all M2S), CONNECT, each acknowledged.
func (c *conn) slaveHandshake() error {
	m, err := c.expectMsg()
	if err != nil {
		return err
	}
	hello, ok := m.(proto.Hello)
	if !ok {
		return refuse(ErrProtocol, "got %s, want HELLO", m.Type())
	}
	if hello.MinVersion > proto.Version || hello.MaxVersion < proto.Version {
		return refuse(ErrVersion, "peer speaks versions 0x%04x..0x%04x, want 0x%04x", hello.MinVersion, hello.MaxVersion, proto.Version)
	}
	c.peerApp = hello.Name
	if err := c.allocate(hello); err != nil {
		return err
	}
	cfg := c.ifc.cfg
	err = c.send(proto.Init{Version: proto.Version, ID: cfg.ID, Mode: uint8(cfg.Mode), Secret: cfg.Secret, Name: c.s.cfg.AppName}, -1)
	if err != nil {
		return err
	}
	if err := c.expectAck("INIT"); err != nil {
		return err
	}
	for k, r := range c.regions {
		if err := c.send(proto.AddRegion{Index: uint16(k), Size: r.size}, r.fd); err != nil {
			return err
		}
		if err := c.expectAck("ADD_REGION"); err != nil {
			return err
		}
	}
	for _, sp := range c.specs {
		var flags uint16
		if sp.s2m {
			flags = proto.RingFlagS2M
		}
		err := c.send(proto.AddRing{Flags: flags, Index: sp.index, Region: sp.region, Offset: sp.offset, Log2RingSize: sp.log2}, sp.fd)
		if err != nil {
			return err
		}
		if err := c.expectAck("ADD_RING"); err != nil {
			return err
		}
	}
	if err := c.send(proto.Connect{Name: cfg.Name}, -1); err != nil {
		return err
	}
	m, err = c.expectMsg()
	if err != nil {
		return err
	}
	connected, ok := m.(proto.Connected)
	if !ok {
		return refuse(ErrProtocol, "got %s, want CONNECTED", m.Type())
	}
	c.peerName = connected.Name
	if err := c.buildQueues(); err != nil {
		return err
	}
	// Post every receive buffer only now: some masters reset head and tail
	// when they process CONNECT, which would erase an earlier refill.
	for _, q := range c.rx {
		q.mu.Lock()
		q.post(int(q.size))
		q.mu.Unlock()
	}
	return nil
}

func roundPage(n uint64) uint64 {
	p := uint64(os.Getpagesize())
	return (n + p - 1) &^ (p - 1)
}

// allocate creates the regions, rings and eventfds. Rings go to region 0
// and buffers to a separate page-aligned region 1, so the buffers can be
// mapped into a guest without exposing the rings; a master that allows
// only one region gets rings and buffers in region 0.
func (c *conn) allocate(h proto.Hello) error {
	cfg := c.ifc.cfg
	c.nS2M = min(cfg.TxQueues, int(h.MaxS2MRing)+1)
	c.nM2S = min(cfg.RxQueues, int(h.MaxM2SRing)+1)
	c.log2 = min(cfg.Log2RingSize, h.MaxLog2RingSize)
	c.bufSize = uint32(cfg.BufferSize)
	cl := c.s.cfg.CacheLine
	ringBytes := uint64(ring.Bytes(cl, c.log2))
	nRings := uint64(c.nS2M + c.nM2S)
	ringsTotal := nRings * ringBytes
	bufTotal := nRings << c.log2 * uint64(c.bufSize)

	sizes := []uint64{roundPage(ringsTotal), roundPage(bufTotal)}
	c.bufRegion, c.bufBase = 1, 0
	if h.MaxRegion == 0 {
		sizes = []uint64{roundPage(ringsTotal + bufTotal)}
		c.bufRegion, c.bufBase = 0, uint32(ringsTotal)
	}
	if uint64(c.bufBase)+bufTotal > maxRegionSize {
		return refuse(ErrInvalid, "buffers need %d bytes, above the 4 GiB a region can address", bufTotal)
	}
	for k, size := range sizes {
		fd, err := shm.Memfd(fmt.Sprintf("memif region %d", k), int(size))
		if err != nil {
			return refuse(err, "region %d: %v", k, err)
		}
		data, err := shm.Map(fd, int(size))
		if err != nil {
			shm.Close(fd)
			return refuse(err, "region %d: %v", k, err)
		}
		c.regions = append(c.regions, region{data: data, fd: fd, size: size, rings: k == 0, sealed: true})
		c.views = append(c.views, data)
	}
	for k := 0; k < c.nS2M+c.nM2S; k++ {
		s2m := k < c.nS2M
		idx := k
		if !s2m {
			idx -= c.nS2M
		}
		off := uint64(k) * ringBytes
		r, err := ring.New(c.regions[0].data[off:off+ringBytes], cl, c.log2)
		if err != nil {
			return refuse(err, "ring %d: %v", k, err)
		}
		var flags uint16
		if !s2m && cfg.RxMode == RxModePolling {
			flags = ring.FlagMaskInt // we receive on M2S rings
		}
		r.Init(flags)
		for j := uint32(0); j < r.Size(); j++ {
			*r.Desc(uint16(j)) = ring.Desc{
				Region: c.bufRegion, Length: c.bufSize,
				Offset: c.bufBase + ((uint32(k)<<c.log2)+j)*c.bufSize,
			}
		}
		fd, err := shm.Eventfd()
		if err != nil {
			return refuse(err, "ring %d: %v", k, err)
		}
		c.specs = append(c.specs, ringSpec{s2m: s2m, index: uint16(idx), region: 0, offset: uint32(off), log2: c.log2, fd: fd, r: r})
	}
	return nil
}
