package libmemif

import (
	"reflect"
	"testing"

	"github.com/gopacket/gopacket"
	logger "github.com/sirupsen/logrus"
)

// The adapter's exported functions and methods, with the exact signatures
// of go.fd.io/govpp/extras/libmemif: a program written against it must
// compile here after only its import path changes.
var (
	_ func(string) error                                             = Init
	_ func() error                                                   = Cleanup
	_ func(*logger.Logger)                                           = SetLogger
	_ func(*MemifConfig, *MemifCallbacks) (*Memif, error)            = CreateInterface
	_ func(*Memif) error                                             = (*Memif).Close
	_ func(*Memif) (*MemifDetails, error)                            = (*Memif).GetDetails
	_ func(*Memif) <-chan uint8                                      = (*Memif).GetInterruptChan
	_ func(*Memif) <-chan error                                      = (*Memif).GetInterruptErrorChan
	_ func(*Memif, uint8) (<-chan struct{}, error)                   = (*Memif).GetQueueInterruptChan
	_ func(*Memif, uint8, uint16) *MemifPacketHandle                 = (*Memif).NewPacketHandle
	_ func(*Memif, uint8, uint16) ([]RawPacketData, error)           = (*Memif).RxBurst
	_ func(*Memif, uint8, RxMode) error                              = (*Memif).SetRxMode
	_ func(*Memif, uint8, []RawPacketData) (uint16, error)           = (*Memif).TxBurst
	_ func(*MemifPacketHandle)                                       = (*MemifPacketHandle).Close
	_ func(*MemifPacketHandle, []byte) error                         = (*MemifPacketHandle).WritePacketData
	_ func(*MemifPacketHandle) ([]byte, gopacket.CaptureInfo, error) = (*MemifPacketHandle).ReadPacketData
	_ func(*MemifError) int                                          = (*MemifError).Code
	_ ConnUpdateCallback                                             = func(*Memif) error { return nil }
	_                                                                = []IfMode{IfModeEthernet, IfModeIP, IfModePuntInject}
	_                                                                = []RxMode{RxModeInterrupt, RxModePolling}
	_                                                                = []*MemifError{ErrNotInit, ErrAlreadyInit, ErrUnsupported, ErrUnknown}
	_                                                                = Context{}
	_                                                                = CPacketBuffers{}
)

// TestAPIFields pins the exported fields of the adapter's structs, in the
// adapter's order, so that composite literals written for it compile.
func TestAPIFields(t *testing.T) {
	tests := []struct {
		v    any
		want []string
	}{
		{MemifMeta{}, []string{"IfName string", "InstanceName string", "ConnID uint32", "SocketFilename string", "Secret string", "IsMaster bool", "Mode libmemif.IfMode"}},
		{MemifShmSpecs{}, []string{"NumRxQueues uint8", "NumTxQueues uint8", "BufferSize uint16", "Log2RingSize uint8"}},
		{MemifConfig{}, []string{"MemifMeta libmemif.MemifMeta", "MemifShmSpecs libmemif.MemifShmSpecs"}},
		{MemifCallbacks{}, []string{"OnConnect libmemif.ConnUpdateCallback", "OnDisconnect libmemif.ConnUpdateCallback"}},
		{MemifDetails{}, []string{"MemifMeta libmemif.MemifMeta", "MemifConnDetails libmemif.MemifConnDetails"}},
		{MemifConnDetails{}, []string{"RemoteIfName string", "RemoteInstanceName string", "HasLink bool", "RxQueues []libmemif.MemifQueueDetails", "TxQueues []libmemif.MemifQueueDetails"}},
		{MemifQueueDetails{}, []string{"QueueID uint8", "RingSize uint32", "BufferSize uint16"}},
		{Memif{}, []string{"MemifMeta libmemif.MemifMeta"}},
		{MemifPacketHandle{}, nil},
		{MemifError{}, nil},
	}
	for _, tc := range tests {
		typ := reflect.TypeOf(tc.v)
		var got []string
		for i := range typ.NumField() {
			if f := typ.Field(i); f.IsExported() {
				got = append(got, f.Name+" "+f.Type.String())
			}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s exported fields\n%q\nwant\n%q", typ.Name(), got, tc.want)
		}
	}
	if reflect.TypeOf(RawPacketData(nil)).Kind() != reflect.Slice || reflect.TypeOf(IfMode(0)).Kind() != reflect.Int || reflect.TypeOf(RxMode(0)).Kind() != reflect.Int {
		t.Error("RawPacketData, IfMode or RxMode has the wrong kind")
	}
}
