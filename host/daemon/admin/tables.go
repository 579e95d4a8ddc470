package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/memif-wasm/memif-wasm/host/table"
)

// Table routes (all JSON; keys and values are hex strings in answers):
//
//	GET  /v1/tables                              every table with its counters
//	GET  /v1/tables/{t}/{s}/{n}                  one table (tenant, scope = interface, name)
//	POST /v1/tables/{t}/{s}/{n}/get              {"key": K} → {"found": bool, "value": HEX}
//	POST /v1/tables/{t}/{s}/{n}/ops              {"ops": [{"op": "put"|"delete", "key": K, "value": V}]}, all or nothing
//	POST /v1/tables/{t}/{s}/{n}/clear            empty the table
//	GET  /v1/tables/{t}/{s}/{n}/entries          every entry
//
// A key or value K/V is hex ("0a000001", "0x0a000001") or one of
// "ip4:10.0.0.1", "ip6:2001:db8::1" (network order), "ip4:10.0.0.0/8",
// "ip6:2001:db8::/32" (an LPM key: the address, then the length byte),
// "u32:7", "u64:7" (little-endian), "str:text" (ParseBytes).

// MaxTableBody bounds the body of a table ops request: a bulk load of
// 100,000 entries of 40 bytes takes about 12 MB of JSON.
const MaxTableBody = 64 << 20

// TableBackend is what the table routes need; *daemon.Daemon implements it.
// A Backend without it answers 501 on them.
type TableBackend interface {
	Tables() *table.Store
}

// TableInfo describes one table.
type TableInfo struct {
	Tenant        string `json:"tenant"`
	Scope         string `json:"scope"`
	Name          string `json:"name"`
	Kind          string `json:"kind"`
	KeySize       uint32 `json:"key_size"`
	ValueSize     uint32 `json:"value_size"`
	MaxEntries    uint32 `json:"max_entries"`
	Entries       uint64 `json:"entries"`
	Updates       uint64 `json:"updates"`
	FailedUpdates uint64 `json:"failed_updates"`
	Publications  uint64 `json:"publications"`
	Readers       int    `json:"readers"`
	Bytes         uint64 `json:"bytes"`
}

// TableInfoOf describes t under key k.
func TableInfoOf(k table.Key, t *table.Table) TableInfo {
	s, st := t.Spec(), t.Stats()
	return TableInfo{Tenant: k.Tenant, Scope: k.Scope, Name: k.Name, Kind: s.Kind.String(),
		KeySize: s.KeySize, ValueSize: s.ValueSize, MaxEntries: s.MaxEntries,
		Entries: st.Entries, Updates: st.Updates, FailedUpdates: st.FailedUpdate, Publications: st.Publications,
		Readers: t.Readers(), Bytes: t.Layout().Bytes}
}

// TableOp is one change in an ops request.
type TableOp struct {
	Op    string `json:"op"` // "put" (default when empty) or "delete"
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// TableOpsRequest is the body of POST .../ops.
type TableOpsRequest struct {
	Ops []TableOp `json:"ops"`
}

// TableOpsReply says how many ops were applied (all of them).
type TableOpsReply struct {
	Applied int `json:"applied"`
}

// TableGetRequest is the body of POST .../get.
type TableGetRequest struct {
	Key string `json:"key"`
}

// TableGetReply is its answer.
type TableGetReply struct {
	Found bool   `json:"found"`
	Value string `json:"value,omitempty"`
}

// TableEntry is one entry of a dump.
type TableEntry struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ErrBadBytes is wrapped by ParseBytes's errors.
var ErrBadBytes = errors.New("bad key or value")

// ParseBytes reads a key or value in one of the forms the table routes
// take (see the package's route list).
func ParseBytes(s string) ([]byte, error) {
	prefix, rest, typed := strings.Cut(s, ":")
	if typed {
		switch prefix {
		case "ip4", "ip6":
			family := map[string]string{"ip4": "IPv4", "ip6": "IPv6"}[prefix]
			if strings.Contains(rest, "/") { // a prefix: the address, then its length
				p, err := netip.ParsePrefix(rest)
				if err != nil || (prefix == "ip4") != p.Addr().Is4() {
					return nil, fmt.Errorf("%w: %q is not an %s prefix", ErrBadBytes, rest, family)
				}
				return append(p.Addr().AsSlice(), byte(p.Bits())), nil
			}
			a, err := netip.ParseAddr(rest)
			if err != nil || (prefix == "ip4") != a.Is4() {
				return nil, fmt.Errorf("%w: %q is not an %s address", ErrBadBytes, rest, family)
			}
			return a.AsSlice(), nil
		case "u32", "u64":
			bits := 32
			if prefix == "u64" {
				bits = 64
			}
			v, err := strconv.ParseUint(rest, 0, bits)
			if err != nil {
				return nil, fmt.Errorf("%w: %q is not a %d-bit unsigned number", ErrBadBytes, rest, bits)
			}
			if bits == 32 {
				return binary.LittleEndian.AppendUint32(nil, uint32(v)), nil
			}
			return binary.LittleEndian.AppendUint64(nil, v), nil
		case "str":
			return []byte(rest), nil
		}
		return nil, fmt.Errorf("%w: unknown form %q (want hex, ip4:, ip6:, u32:, u64: or str:)", ErrBadBytes, prefix)
	}
	h := strings.TrimPrefix(s, "0x")
	b, err := hex.DecodeString(h)
	if err != nil || len(h) == 0 {
		return nil, fmt.Errorf("%w: %q is not hex bytes", ErrBadBytes, s)
	}
	return b, nil
}

// Ops turns a request's ops into the table's, validating each.
func (q *TableOpsRequest) tableOps() ([]table.Op, error) {
	ops := make([]table.Op, len(q.Ops))
	for i, o := range q.Ops {
		k, err := ParseBytes(o.Key)
		if err != nil {
			return nil, fmt.Errorf("op %d key: %w", i, err)
		}
		ops[i].Key = k
		switch o.Op {
		case "", "put":
			if ops[i].Value, err = ParseBytes(o.Value); err != nil {
				return nil, fmt.Errorf("op %d value: %w", i, err)
			}
		case "delete":
			if o.Value != "" {
				return nil, fmt.Errorf("%w: op %d: a delete takes no value", ErrBadBytes, i)
			}
			ops[i].Delete = true
		default:
			return nil, fmt.Errorf("%w: op %d: unknown op %q (put or delete)", ErrBadBytes, i, o.Op)
		}
	}
	return ops, nil
}

func (s *Server) tableRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/tables", s.tableList)
	mux.HandleFunc("GET /v1/tables/{t}/{s}/{n}", s.tableShow)
	mux.HandleFunc("POST /v1/tables/{t}/{s}/{n}/get", s.tableGet)
	mux.HandleFunc("POST /v1/tables/{t}/{s}/{n}/ops", s.tableOps)
	mux.HandleFunc("POST /v1/tables/{t}/{s}/{n}/clear", s.tableClear)
	mux.HandleFunc("GET /v1/tables/{t}/{s}/{n}/entries", s.tableEntries)
}

func (s *Server) tables(w http.ResponseWriter) *table.Store {
	tb, ok := s.b.(TableBackend)
	if !ok || tb.Tables() == nil {
		writeError(w, http.StatusNotImplemented, "this daemon has no tables")
		return nil
	}
	return tb.Tables()
}

// table finds the table the path names, or answers 404.
func (s *Server) table(w http.ResponseWriter, r *http.Request) (table.Key, *table.Table) {
	st := s.tables(w)
	if st == nil {
		return table.Key{}, nil
	}
	k := table.Key{Tenant: r.PathValue("t"), Scope: r.PathValue("s"), Name: r.PathValue("n")}
	t := st.Get(k)
	if t == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no table %s", k))
	}
	return k, t
}

func (s *Server) tableList(w http.ResponseWriter, r *http.Request) {
	st := s.tables(w)
	if st == nil {
		return
	}
	out := []TableInfo{}
	for _, e := range st.List() {
		out = append(out, TableInfoOf(e.Key, e.Table))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) tableShow(w http.ResponseWriter, r *http.Request) {
	if k, t := s.table(w, r); t != nil {
		writeJSON(w, http.StatusOK, TableInfoOf(k, t))
	}
}

func (s *Server) tableGet(w http.ResponseWriter, r *http.Request) {
	_, t := s.table(w, r)
	if t == nil {
		return
	}
	var req TableGetRequest
	if !decode(w, r, &req) {
		return
	}
	k, err := ParseBytes(req.Key)
	if err != nil {
		s.tableFail(w, r, err)
		return
	}
	val := make([]byte, t.Spec().ValueSize)
	found, err := t.Get(k, val)
	if err != nil {
		s.tableFail(w, r, err)
		return
	}
	out := TableGetReply{Found: found}
	if found {
		out.Value = hex.EncodeToString(val)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) tableOps(w http.ResponseWriter, r *http.Request) {
	_, t := s.table(w, r)
	if t == nil {
		return
	}
	var req TableOpsRequest
	if !decodeLimit(w, r, &req, MaxTableBody) {
		return
	}
	ops, err := req.tableOps()
	if err == nil {
		err = t.Apply(ops)
	}
	if err != nil {
		s.tableFail(w, r, fmt.Errorf("nothing applied: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, TableOpsReply{Applied: len(ops)})
}

func (s *Server) tableClear(w http.ResponseWriter, r *http.Request) {
	_, t := s.table(w, r)
	if t == nil {
		return
	}
	if err := t.Clear(); err != nil {
		s.tableFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, TableOpsReply{Applied: 1})
}

func (s *Server) tableEntries(w http.ResponseWriter, r *http.Request) {
	_, t := s.table(w, r)
	if t == nil {
		return
	}
	out := []TableEntry{}
	err := t.Range(func(k, v []byte) bool {
		out = append(out, TableEntry{hex.EncodeToString(k), hex.EncodeToString(v)})
		return true
	})
	if err != nil {
		s.tableFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// tableFail answers a table error with its status: the caller's mistakes
// 400, a missing entry 404, a full table 409, a closed one 503.
func (s *Server) tableFail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrBadBytes), errors.Is(err, table.ErrKeySize), errors.Is(err, table.ErrValSize), errors.Is(err, table.ErrIndex),
		errors.Is(err, table.ErrPrefix), errors.Is(err, table.ErrReadOnly):
		status = http.StatusBadRequest
	case errors.Is(err, table.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, table.ErrFull):
		status = http.StatusConflict
	case errors.Is(err, table.ErrClosed):
		status = http.StatusServiceUnavailable
	}
	if status == http.StatusInternalServerError {
		s.opts.Logger.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, status, err.Error())
}

// TableRef names a table as ctl takes it: TENANT/SCOPE/NAME.
type TableRef struct{ Tenant, Scope, Name string }

// ParseTableRef reads TENANT/SCOPE/NAME.
func ParseTableRef(s string) (TableRef, error) {
	p := strings.Split(s, "/")
	if len(p) != 3 || p[0] == "" || p[1] == "" || p[2] == "" {
		return TableRef{}, fmt.Errorf("table %q: want TENANT/INTERFACE/TABLE", s)
	}
	return TableRef{p[0], p[1], p[2]}, nil
}

func (t TableRef) path() string {
	return "/v1/tables/" + url.PathEscape(t.Tenant) + "/" + url.PathEscape(t.Scope) + "/" + url.PathEscape(t.Name)
}

// Tables lists every table.
func (c *Client) Tables(ctx context.Context) ([]TableInfo, error) {
	var out []TableInfo
	return out, c.do(ctx, http.MethodGet, "/v1/tables", nil, &out)
}

// Table describes one table.
func (c *Client) Table(ctx context.Context, t TableRef) (*TableInfo, error) {
	var out TableInfo
	return &out, c.do(ctx, http.MethodGet, t.path(), nil, &out)
}

// TableGet looks key up.
func (c *Client) TableGet(ctx context.Context, t TableRef, key string) (*TableGetReply, error) {
	var out TableGetReply
	return &out, c.do(ctx, http.MethodPost, t.path()+"/get", TableGetRequest{Key: key}, &out)
}

// TableOps applies ops, all or nothing.
func (c *Client) TableOps(ctx context.Context, t TableRef, ops []TableOp) (*TableOpsReply, error) {
	var out TableOpsReply
	return &out, c.do(ctx, http.MethodPost, t.path()+"/ops", TableOpsRequest{Ops: ops}, &out)
}

// TableClear empties a table.
func (c *Client) TableClear(ctx context.Context, t TableRef) error {
	return c.do(ctx, http.MethodPost, t.path()+"/clear", struct{}{}, nil)
}

// TableEntries dumps a table.
func (c *Client) TableEntries(ctx context.Context, t TableRef) ([]TableEntry, error) {
	var out []TableEntry
	return out, c.do(ctx, http.MethodGet, t.path()+"/entries", nil, &out)
}

// ReadTableOps reads a file of changes for a bulk load: JSON lines (one
// TableOp object per line; blank lines skipped) or, when csvFormat, CSV
// records "key,value" (a put) or "delete,key". Every line is parsed (and
// its bytes checked) before anything is sent, so a bad line loads nothing;
// errors name the line.
func ReadTableOps(r io.Reader, csvFormat bool) ([]TableOp, error) {
	var ops []TableOp
	if csvFormat {
		cr := csv.NewReader(r)
		cr.FieldsPerRecord = 2
		cr.Comment = '#'
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrBadBytes, err)
			}
			line, _ := cr.FieldPos(0)
			op := TableOp{Key: rec[0], Value: rec[1]}
			if rec[0] == "delete" {
				op = TableOp{Op: "delete", Key: rec[1]}
			}
			if err := checkOp(op); err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			ops = append(ops, op)
		}
		return ops, nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var op TableOp
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&op); err != nil || dec.More() {
			return nil, fmt.Errorf("%w: line %d: not one JSON object {\"op\",\"key\",\"value\"}", ErrBadBytes, line)
		}
		if err := checkOp(op); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		ops = append(ops, op)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadBytes, err)
	}
	return ops, nil
}

func checkOp(op TableOp) error {
	_, err := (&TableOpsRequest{Ops: []TableOp{op}}).tableOps()
	return err
}

// WriteTables writes `ctl table list`.
func WriteTables(w io.Writer, ts []TableInfo) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tKIND\tKEY\tVALUE\tENTRIES\tMAX\tUPDATES\tFAILED\tREADERS\tMEMORY")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s/%s/%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d KiB\n", t.Tenant, t.Scope, t.Name, t.Kind,
			t.KeySize, t.ValueSize, t.Entries, t.MaxEntries, t.Updates, t.FailedUpdates, t.Readers, t.Bytes>>10)
	}
	tw.Flush()
}

// WriteTableEntries writes `ctl table dump`: one "key value" line per entry, in hex.
func WriteTableEntries(w io.Writer, es []TableEntry) {
	for _, e := range es {
		fmt.Fprintf(w, "%s %s\n", e.Key, e.Value)
	}
}
