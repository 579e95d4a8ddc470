package table_test

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/table"
)

func prefixKey(p netip.Prefix) []byte { return append(p.Addr().AsSlice(), byte(p.Bits())) }

// TestLPMModel checks Match against a linear scan over random prefixes of
// both families, through puts, overwrites and deletes.
func TestLPMModel(t *testing.T) {
	for _, fam := range []struct {
		kind abi.TableKind
		size int
	}{{abi.TableLPM4, 4}, {abi.TableLPM6, 16}} {
		t.Run(fam.kind.String(), func(t *testing.T) {
			tb := newTable(t, table.Spec{Name: "r", Kind: fam.kind, KeySize: uint32(fam.size), ValueSize: 2, MaxEntries: 300})
			v := view(t, tb)
			rng := rand.New(rand.NewPCG(5, uint64(fam.size)))
			randAddr := func() netip.Addr {
				b := make([]byte, fam.size)
				for i := range b {
					b[i] = byte(rng.IntN(4)) // few distinct bytes: prefixes nest often
				}
				a, _ := netip.AddrFromSlice(b)
				return a
			}
			model := map[netip.Prefix]uint16{}
			for step := range 3000 {
				p := netip.PrefixFrom(randAddr(), rng.IntN(8*fam.size+1)).Masked()
				_, had := model[p]
				if had && rng.IntN(3) == 0 {
					if err := tb.Apply([]table.Op{{Delete: true, Key: prefixKey(p)}}); err != nil {
						t.Fatal(err)
					}
					delete(model, p)
				} else if had || len(model) < 300 {
					val := uint16(step)
					if err := tb.Apply([]table.Op{{Key: prefixKey(p), Value: []byte{byte(val), byte(val >> 8)}}}); err != nil {
						t.Fatal(err)
					}
					model[p] = val
				}
				a := randAddr()
				best, found := -1, uint16(0)
				for q, val := range model {
					if q.Contains(a) && q.Bits() > best {
						best, found = q.Bits(), val
					}
				}
				got := v.Match(a.AsSlice())
				switch {
				case best < 0 && got != nil:
					t.Fatalf("step %d: %v matched %x, model has no prefix", step, a, got)
				case best >= 0 && (got == nil || uint16(got[0])|uint16(got[1])<<8 != found):
					t.Fatalf("step %d: %v matched %x, model says /%d -> %d", step, a, got, best, found)
				}
			}
			n := 0
			v.Range(func(k, val []byte) bool {
				a, _ := netip.AddrFromSlice(k[:fam.size])
				p := netip.PrefixFrom(a, int(k[fam.size]))
				if want, ok := model[p]; !ok || uint16(val[0])|uint16(val[1])<<8 != want {
					t.Fatalf("range: %v = %x, model %d %v", p, val, want, ok)
				}
				n++
				return true
			})
			if n != len(model) || int(tb.Stats().Entries) != len(model) {
				t.Fatalf("range saw %d, table says %d, model has %d", n, tb.Stats().Entries, len(model))
			}
		})
	}
}

func TestLPMBadPrefixes(t *testing.T) {
	tb := newTable(t, table.Spec{Name: "r4", Kind: abi.TableLPM4, KeySize: 4, ValueSize: 1, MaxEntries: 4})
	cases := []struct {
		name string
		key  []byte
		want error
	}{
		{"longer than 32", []byte{10, 0, 0, 0, 33}, table.ErrPrefix},
		{"host bits", []byte{10, 0, 0, 1, 24}, table.ErrPrefix},
		{"host bits in /0", []byte{0, 0, 0, 1, 0}, table.ErrPrefix},
		{"no length", []byte{10, 0, 0, 0}, table.ErrKeySize},
		{"ipv6 address", append(make([]byte, 16), 64), table.ErrKeySize},
	}
	for _, c := range cases {
		if err := tb.Apply([]table.Op{{Key: c.key, Value: []byte{1}}}); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	for _, ok := range [][]byte{{0, 0, 0, 0, 0}, {10, 0, 0, 1, 32}, {10, 128, 0, 0, 9}} {
		if err := tb.Apply([]table.Op{{Key: ok, Value: []byte{1}}}); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	v := view(t, tb)
	if got := v.Match([]byte{10, 0, 0, 1}); got == nil {
		t.Fatal("10.0.0.1 has a /32")
	}
	if v.Lookup([]byte{10, 128, 0, 0, 9}) == nil || v.Lookup([]byte{10, 128, 0, 0, 10}) != nil {
		t.Fatal("Lookup of an exact prefix")
	}
}

// TestViewLookupsDoNotAllocate: the SDK's reads are what a Go guest would
// run per packet.
func TestViewLookupsDoNotAllocate(t *testing.T) {
	h := newTable(t, table.Spec{Name: "h", Kind: abi.TableHash, KeySize: 8, ValueSize: 4, MaxEntries: 16})
	l := newTable(t, table.Spec{Name: "l", Kind: abi.TableLPM6, KeySize: 16, ValueSize: 4, MaxEntries: 16})
	if err := h.Apply([]table.Op{{Key: key8(1), Value: []byte{1, 2, 3, 4}}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Apply([]table.Op{{Key: prefixKey(netip.MustParsePrefix("2001:db8::/32")), Value: []byte{1, 2, 3, 4}}}); err != nil {
		t.Fatal(err)
	}
	hv, lv := view(t, h), view(t, l)
	k, a := key8(1), netip.MustParseAddr("2001:db8::1").AsSlice()
	if n := testing.AllocsPerRun(100, func() {
		if hv.Lookup(k) == nil || lv.Match(a) == nil {
			t.Fatal("lookup failed")
		}
	}); n != 0 {
		t.Fatalf("%v allocations per lookup", n)
	}
}
