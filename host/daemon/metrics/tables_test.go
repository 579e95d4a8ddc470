package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/table"
)

func TestTableCollector(t *testing.T) {
	st := table.NewStore()
	defer st.Close()
	tb, err := st.Acquire(table.Key{Tenant: "blue", Scope: "north", Name: "routes"},
		table.Spec{Name: "routes", Kind: abi.TableHash, KeySize: 4, ValueSize: 4, MaxEntries: 2}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	ops := []table.Op{{Key: []byte("abcd"), Value: []byte("1234")}, {Key: []byte("efgh"), Value: []byte("1234")}}
	if err := tb.Apply(ops); err != nil {
		t.Fatal(err)
	}
	if tb.Apply([]table.Op{{Key: []byte("ijkl"), Value: []byte("1234")}}) == nil {
		t.Fatal("full table accepted a put")
	}
	c := NewTableCollector(func() *table.Store { return st })
	want := `
# HELP memif_wasm_table_entries Entries in the table (an array: its length).
# TYPE memif_wasm_table_entries gauge
memif_wasm_table_entries{interface="north",table="routes",tenant="blue"} 2
# HELP memif_wasm_table_capacity The most entries the table holds; a put beyond it is refused.
# TYPE memif_wasm_table_capacity gauge
memif_wasm_table_capacity{interface="north",table="routes",tenant="blue"} 2
# HELP memif_wasm_table_updates_total Changes applied to the table (puts, deletes, clears).
# TYPE memif_wasm_table_updates_total counter
memif_wasm_table_updates_total{interface="north",table="routes",tenant="blue"} 2
# HELP memif_wasm_table_failed_updates_total Update requests refused (wrong sizes, full table, missing key); each applied nothing.
# TYPE memif_wasm_table_failed_updates_total counter
memif_wasm_table_failed_updates_total{interface="north",table="routes",tenant="blue"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "memif_wasm_table_entries", "memif_wasm_table_capacity",
		"memif_wasm_table_updates_total", "memif_wasm_table_failed_updates_total"); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
	if n := testutil.CollectAndCount(NewTableCollector(func() *table.Store { return nil })); n != 0 {
		t.Fatalf("a nil store gave %d metrics", n)
	}
}
