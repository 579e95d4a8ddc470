package fuel

import (
	"bytes"
	"testing"

	"github.com/memif-wasm/memif-wasm/host/internal/leb128"
)

// sections splits a module into its raw sections (header included).
func sections(t *testing.T, m []byte) (ids []byte, raw [][]byte) {
	t.Helper()
	for off := 8; off < len(m); {
		size, n, err := leb128.U32(m, off+1)
		if err != nil {
			t.Fatal(err)
		}
		end := off + 1 + n + int(size)
		ids, raw = append(ids, m[off]), append(raw, m[off:end])
		off = end
	}
	return ids, raw
}

func custom(name string, data ...byte) []byte {
	return sec(secCustom, append(append([]byte{byte(len(name))}, name...), data...)...)
}

// TestSectionsCopiedVerbatim: every section the rewrite does not need to
// change appears in the output byte for byte and in the same order, debug
// sections are dropped, and the changed ones come where the format says.
func TestSectionsCopiedVerbatim(t *testing.T) {
	orig := wat(t, equivalenceModule)
	// Add custom sections around the code section: two to keep, three to drop.
	ids, raw := sections(t, orig)
	var in []byte
	in = append(in, orig[:8]...)
	for i, s := range raw {
		if ids[i] == secCode {
			in = append(in, custom("producers", 1, 2, 3)...)
			in = append(in, custom(".debug_info", 4, 5)...)
		}
		in = append(in, s...)
	}
	in = append(in, custom("sourceMappingURL", 'x')...)
	in = append(in, custom("external_debug_info", 'y')...)
	in = append(in, custom("name", 0, 2, 1, 'm')...) // module name "m"

	out, st := instrument(t, in, Config{})
	if st.StrippedSections != 3 {
		t.Errorf("stripped %d sections, want 3", st.StrippedSections)
	}
	inIDs, inRaw := sections(t, in)
	outIDs, outRaw := sections(t, out)
	var want []byte
	k := 0
	for i, s := range inRaw {
		switch {
		case inIDs[i] == secGlobal || inIDs[i] == secExport || inIDs[i] == secCode,
			inIDs[i] == secType: // gains a type for a multi-value body's block (TestWrapperTypes)
			want = append(want, inIDs[i])
		case inIDs[i] == secCustom && (bytes.Contains(s, []byte("debug")) || bytes.Contains(s, []byte("sourceMappingURL"))):
			continue
		default:
			want = append(want, inIDs[i])
			for k < len(outRaw) && !bytes.Equal(outRaw[k], s) {
				k++
			}
			if k == len(outRaw) {
				t.Errorf("section %d (id %d) not copied verbatim, or out of order", i, inIDs[i])
				k = 0
			}
		}
	}
	if !bytes.Equal(outIDs, want) {
		t.Errorf("output section ids %v, want %v", outIDs, want)
	}
	instantiate(t, newRuntime(t), out) // and wazero still accepts it
}
