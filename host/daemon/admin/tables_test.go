package admin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/memif-wasm/memif-wasm/abi"
	"github.com/memif-wasm/memif-wasm/host/table"
)

// tableBackend is fakeBackend with a store holding t/i/kv (hash, 4-byte
// keys and values, at most 3 entries) and t/i/arr (array of 4 u16).
type tableBackend struct {
	fakeBackend
	st *table.Store
}

func (b tableBackend) Tables() *table.Store { return b.st }

func newTableBackend(t testing.TB) tableBackend {
	t.Helper()
	st := table.NewStore()
	t.Cleanup(func() { st.Close() })
	for _, s := range []table.Spec{
		{Name: "kv", Kind: abi.TableHash, KeySize: 4, ValueSize: 4, MaxEntries: 3},
		{Name: "arr", Kind: abi.TableArray, KeySize: 4, ValueSize: 2, MaxEntries: 4},
	} {
		if _, err := st.Acquire(table.Key{Tenant: "t", Scope: "i", Name: s.Name}, s, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	return tableBackend{st: st}
}

func tableClient(t *testing.T) (*Client, tableBackend) {
	t.Helper()
	b := newTableBackend(t)
	s := &Server{b: b, opts: Options{Logger: quiet()}}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return NewClient(srv.URL, ""), b
}

func wantStatus(t *testing.T, err error, status int, what string) {
	t.Helper()
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != status {
		t.Fatalf("%s: %v, want status %d", what, err, status)
	}
}

func TestTableRoutes(t *testing.T) {
	c, b := tableClient(t)
	ctx := context.Background()
	kv := TableRef{"t", "i", "kv"}
	if _, err := c.TableOps(ctx, kv, []TableOp{{Key: "ip4:10.0.0.1", Value: "u32:7"}, {Op: "put", Key: "0x01020304", Value: "aabbccdd"}}); err != nil {
		t.Fatal(err)
	}
	got, err := c.TableGet(ctx, kv, "0a000001")
	if err != nil || !got.Found || got.Value != "07000000" {
		t.Fatalf("get: %+v %v", got, err)
	}
	if got, err := c.TableGet(ctx, kv, "u32:9"); err != nil || got.Found {
		t.Fatalf("get missing: %+v %v", got, err)
	}
	ts, err := c.Tables(ctx)
	if err != nil || len(ts) != 2 || ts[1].Name != "kv" || ts[1].Entries != 2 || ts[1].Updates != 2 || ts[0].Kind != "array" {
		t.Fatalf("list: %+v %v", ts, err)
	}
	var sb strings.Builder
	WriteTables(&sb, ts)
	if !strings.Contains(sb.String(), "t/i/kv") || !strings.Contains(sb.String(), "hash") {
		t.Fatalf("text list:\n%s", sb.String())
	}
	bad := []struct {
		name   string
		ops    []TableOp
		status int
	}{
		{"key size", []TableOp{{Key: "010203", Value: "00000000"}}, http.StatusBadRequest},
		{"value size", []TableOp{{Key: "u32:5", Value: "00"}}, http.StatusBadRequest},
		{"bad hex", []TableOp{{Key: "zz", Value: "00000000"}}, http.StatusBadRequest},
		{"bad op", []TableOp{{Op: "upsert", Key: "u32:1", Value: "00000000"}}, http.StatusBadRequest},
		{"delete with value", []TableOp{{Op: "delete", Key: "u32:1", Value: "00000000"}}, http.StatusBadRequest},
		{"delete missing", []TableOp{{Op: "delete", Key: "u32:1"}}, http.StatusNotFound},
		{"full, after a good op", []TableOp{{Key: "u32:1", Value: "u32:1"}, {Key: "u32:2", Value: "u32:2"}}, http.StatusConflict},
	}
	for _, x := range bad {
		_, err := c.TableOps(ctx, kv, x.ops)
		wantStatus(t, err, x.status, x.name)
		if e := b.st.Get(table.Key{Tenant: "t", Scope: "i", Name: "kv"}).Stats().Entries; e != 2 {
			t.Fatalf("%s: %d entries after a refused request, want 2", x.name, e)
		}
	}
	_, err = c.Table(ctx, TableRef{"t", "i", "nope"})
	wantStatus(t, err, http.StatusNotFound, "missing table")
	if _, err := c.TableOps(ctx, kv, []TableOp{{Op: "delete", Key: "ip4:10.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	es, err := c.TableEntries(ctx, kv)
	if err != nil || len(es) != 1 || es[0] != (TableEntry{"01020304", "aabbccdd"}) {
		t.Fatalf("entries: %+v %v", es, err)
	}
	arr := TableRef{"t", "i", "arr"}
	_, err = c.TableOps(ctx, arr, []TableOp{{Key: "u32:4", Value: "0000"}})
	wantStatus(t, err, http.StatusBadRequest, "index out of range")
	if _, err := c.TableOps(ctx, arr, []TableOp{{Key: "u32:3", Value: "beef"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.TableClear(ctx, arr); err != nil {
		t.Fatal(err)
	}
	if es, err := c.TableEntries(ctx, arr); err != nil || len(es) != 4 || es[3].Value != "0000" {
		t.Fatalf("array after clear: %+v %v", es, err)
	}
	if info, err := c.Table(ctx, kv); err != nil || info.FailedUpdates == 0 || info.MaxEntries != 3 {
		t.Fatalf("show: %+v %v", info, err)
	}
}

func TestTableRoutesWithoutTables(t *testing.T) {
	s := &Server{b: fakeBackend{}, opts: Options{Logger: quiet()}}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	_, err := NewClient(srv.URL, "").Tables(context.Background())
	wantStatus(t, err, http.StatusNotImplemented, "no TableBackend")
}

func TestReadTableOps(t *testing.T) {
	ops, err := ReadTableOps(strings.NewReader("{\"key\":\"u32:1\",\"value\":\"u32:2\"}\n\n{\"op\":\"delete\",\"key\":\"0x01\"}\n"), false)
	if err != nil || len(ops) != 2 || ops[1].Op != "delete" {
		t.Fatalf("JSON lines: %+v %v", ops, err)
	}
	ops, err = ReadTableOps(strings.NewReader("# comment\nip4:10.0.0.1,u32:1\ndelete,ip4:10.0.0.2\n"), true)
	if err != nil || len(ops) != 2 || ops[0].Key != "ip4:10.0.0.1" || ops[1] != (TableOp{Op: "delete", Key: "ip4:10.0.0.2"}) {
		t.Fatalf("CSV: %+v %v", ops, err)
	}
	for _, c := range []struct {
		name, in string
		csv      bool
		line     string
	}{
		{"bad JSON", "{\"key\":\"01\",\"value\":\"02\"}\n{nope\n", false, "line 2"},
		{"unknown field", "{\"key\":\"01\",\"value\":\"02\",\"ttl\":3}\n", false, "line 1"},
		{"two objects", "{\"key\":\"01\",\"value\":\"02\"}{\"key\":\"01\",\"value\":\"02\"}\n", false, "line 1"},
		{"bad key", "{\"key\":\"ip4:300.0.0.1\",\"value\":\"02\"}\n", false, "line 1"},
		{"csv fields", "01,02\n01,02,03\n", true, ""},
		{"csv bad value", "01,02\n01,u32:-1\n", true, "line 2"},
	} {
		_, err := ReadTableOps(strings.NewReader(c.in), c.csv)
		if !errors.Is(err, ErrBadBytes) || !strings.Contains(err.Error(), c.line) {
			t.Errorf("%s: %v, want ErrBadBytes naming %q", c.name, err, c.line)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]string{
		"0a0b": "\x0a\x0b", "0xff": "\xff", "u32:258": "\x02\x01\x00\x00", "u64:1": "\x01\x00\x00\x00\x00\x00\x00\x00",
		"ip4:1.2.3.4": "\x01\x02\x03\x04", "str:ab": "ab", "ip6:::1": strings.Repeat("\x00", 15) + "\x01",
		"ip4:10.0.0.0/8": "\x0a\x00\x00\x00\x08", "ip6:2001:db8::/32": "\x20\x01\x0d\xb8" + strings.Repeat("\x00", 12) + "\x20",
	} {
		if got, err := ParseBytes(in); err != nil || string(got) != want {
			t.Errorf("ParseBytes(%q) = %x, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0x", "abc", "u32:4294967296", "ip4:::1", "ip6:1.2.3.4", "v4:1", "u64:-1", "ip4:10.0.0.0/33", "ip4:::/8", "ip6:10.0.0.0/8"} {
		if _, err := ParseBytes(in); !errors.Is(err, ErrBadBytes) {
			t.Errorf("ParseBytes(%q) = %v, want ErrBadBytes", in, err)
		}
	}
}

func FuzzReadTableOps(f *testing.F) {
	f.Add("{\"key\":\"u32:1\",\"value\":\"u32:2\"}\n", false)
	f.Add("ip4:10.0.0.1,u32:1\ndelete,01\n", true)
	f.Fuzz(func(t *testing.T, in string, csv bool) {
		ops, err := ReadTableOps(strings.NewReader(in), csv)
		if err != nil {
			if !errors.Is(err, ErrBadBytes) {
				t.Fatalf("error without ErrBadBytes: %v", err)
			}
			return
		}
		if _, err := (&TableOpsRequest{Ops: ops}).tableOps(); err != nil {
			t.Fatalf("accepted ops that do not convert: %v", err)
		}
	})
}

// FuzzTableRequest: the table routes never answer 5xx to what a client sends.
func FuzzTableRequest(f *testing.F) {
	f.Add("POST", "/v1/tables/t/i/kv/ops", `{"ops":[{"key":"u32:1","value":"u32:2"}]}`)
	f.Add("POST", "/v1/tables/t/i/kv/get", `{"key":"0a000001"}`)
	f.Add("POST", "/v1/tables/t/i/arr/ops", `{"ops":[{"op":"delete","key":"u32:3"}]}`)
	f.Add("GET", "/v1/tables/t/i/arr/entries", "")
	f.Add("POST", "/v1/tables/t/i/kv/clear", "{}")
	s := &Server{b: newTableBackend(f), opts: Options{Logger: quiet()}}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#?") || method == "" || strings.ContainsAny(method, " \r\n\t") {
			return
		}
		req, err := http.NewRequest(method, "http://x"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, rec.Body)
		}
	})
}
