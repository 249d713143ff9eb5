// Package realetcd drives a real etcd (3.4 or later) from Go with the
// standard library only: a client of etcd's v3 JSON gateway (the
// grpc-gateway etcd serves under /v3/ on its client URL) and a manager of
// local etcd processes on loopback that can crash (SIGKILL), restart, pause
// (SIGSTOP) and resume (SIGCONT) members.
//
// It serves `hasim record`, which records a history against a real cluster
// under process faults, and the differential test of hasim's MVCC model
// (model/store), which replays the same operations on both. It is not part
// of the simulation: it uses the wall clock, goroutines and the network.
package realetcd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// KeyValue is one version of a key, as etcd's mvccpb.KeyValue.
type KeyValue struct {
	Key            string
	Value          string
	CreateRevision int64
	ModRevision    int64
	Version        int64
}

// Header is a response header.
type Header struct {
	Revision int64
	MemberID uint64
	RaftTerm uint64
}

// RangeRequest reads Key, or every key in [Key, RangeEnd) when RangeEnd is
// set (RangeEnd "\x00" with Key "\x00": every key).
type RangeRequest struct {
	Key, RangeEnd string
	Limit         int64
	Revision      int64 // 0: the latest
	// Serializable reads are served by the member from its local state,
	// without a round of the raft quorum: they may be stale.
	Serializable bool
}

// RangeResponse answers a RangeRequest.
type RangeResponse struct {
	Header Header
	KVs    []KeyValue
	Count  int64
	More   bool
}

// PutRequest writes Value to Key.
type PutRequest struct {
	Key, Value string
	PrevKV     bool
}

// PutResponse answers a PutRequest; Header.Revision is the revision the put
// created.
type PutResponse struct {
	Header Header
	PrevKV *KeyValue
}

// DeleteRangeRequest deletes Key, or every key in [Key, RangeEnd).
type DeleteRangeRequest struct {
	Key, RangeEnd string
	PrevKV        bool
}

// DeleteRangeResponse answers a DeleteRangeRequest.
type DeleteRangeResponse struct {
	Header  Header
	Deleted int64
	PrevKVs []KeyValue
}

// Compare targets and results, spelled as etcd's enums are in JSON.
const (
	TargetVersion = "VERSION"
	TargetCreate  = "CREATE"
	TargetMod     = "MOD"
	TargetValue   = "VALUE"

	ResultEqual    = "EQUAL"
	ResultNotEqual = "NOT_EQUAL"
	ResultLess     = "LESS"
	ResultGreater  = "GREATER"
)

// Compare is one guard of a transaction: Target(Key) Result Num (or Value,
// for TargetValue).
type Compare struct {
	Key    string
	Target string
	Result string
	Num    int64
	Value  string
}

// RequestOp is one operation of a transaction: exactly one field is set.
type RequestOp struct {
	Range  *RangeRequest
	Put    *PutRequest
	Delete *DeleteRangeRequest
}

// ResponseOp is the outcome of one RequestOp: the field of its kind is set.
type ResponseOp struct {
	Range  *RangeResponse
	Put    *PutResponse
	Delete *DeleteRangeResponse
}

// TxnRequest is an etcd transaction.
type TxnRequest struct {
	Compare          []Compare
	Success, Failure []RequestOp
}

// TxnResponse answers a TxnRequest.
type TxnResponse struct {
	Header    Header
	Succeeded bool
	Responses []ResponseOp
}

// StatusResponse is a member's maintenance status.
type StatusResponse struct {
	Header    Header // Header.MemberID is the member's own ID
	Version   string
	Leader    uint64 // 0: the member knows no leader
	RaftTerm  uint64
	RaftIndex uint64
}

// Error is an error etcd answered with (the gateway's JSON error body).
type Error struct {
	HTTPStatus int
	Code       int // the gRPC status code
	Message    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("etcd: %s (grpc code %d, http %d)", e.Message, e.Code, e.HTTPStatus)
}

// The messages of etcd's mvcc errors, as its gateway returns them.
const (
	MsgCompacted = "etcdserver: mvcc: required revision has been compacted"
	MsgFutureRev = "etcdserver: mvcc: required revision is a future revision"
)

// IsCompacted reports whether err is etcd's "required revision has been
// compacted".
func IsCompacted(err error) bool { return hasMessage(err, MsgCompacted) }

// IsFutureRev reports whether err is etcd's "required revision is a future
// revision".
func IsFutureRev(err error) bool { return hasMessage(err, MsgFutureRev) }

func hasMessage(err error, msg string) bool {
	var e *Error
	return errors.As(err, &e) && e.Message == msg
}

// NotSent reports whether err means the request never reached etcd: the
// connection could not be made (a killed member refuses it). A write that
// failed so certainly had no effect; any other failure of a write leaves its
// outcome unknown.
func NotSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// Client calls one etcd member's JSON gateway. It is safe for concurrent
// use; each call takes its deadline from its context.
type Client struct {
	// Endpoint is the member's client URL, such as http://127.0.0.1:2379.
	Endpoint string
	// HTTP carries the calls; nil: a client of its own (see NewTransport).
	HTTP *http.Client
}

// NewTransport returns a transport for gateway clients: no proxy (the
// members are on loopback), and enough idle connections per member for
// conns concurrent callers.
func NewTransport(conns int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConns:        4 * conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
}

var defaultHTTP = &http.Client{Transport: NewTransport(16)}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// call POSTs req as JSON to the gateway's path and decodes the answer into
// resp.
func (c *Client) call(ctx context.Context, path string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.Endpoint, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hresp, err := c.http().Do(hreq)
	if err != nil {
		return err
	}
	defer hresp.Body.Close()
	b, err := io.ReadAll(hresp.Body)
	if err != nil {
		return fmt.Errorf("%s: reading the answer: %w", path, err)
	}
	if hresp.StatusCode != http.StatusOK {
		var we struct {
			Error   string `json:"error"`
			Message string `json:"message"`
			Code    int    `json:"code"`
		}
		if json.Unmarshal(b, &we) != nil || (we.Message == "" && we.Error == "") {
			return &Error{HTTPStatus: hresp.StatusCode, Code: -1, Message: strings.TrimSpace(string(b))}
		}
		msg := we.Message
		if msg == "" {
			msg = we.Error
		}
		return &Error{HTTPStatus: hresp.StatusCode, Code: we.Code, Message: msg}
	}
	if err := json.Unmarshal(b, resp); err != nil {
		return fmt.Errorf("%s: bad answer %q: %w", path, b, err)
	}
	return nil
}

// Range reads keys.
func (c *Client) Range(ctx context.Context, r RangeRequest) (*RangeResponse, error) {
	var w wireRangeResponse
	if err := c.call(ctx, "/v3/kv/range", toWireRange(r), &w); err != nil {
		return nil, err
	}
	return w.decode()
}

// Put writes a key.
func (c *Client) Put(ctx context.Context, r PutRequest) (*PutResponse, error) {
	var w wirePutResponse
	if err := c.call(ctx, "/v3/kv/put", toWirePut(r), &w); err != nil {
		return nil, err
	}
	return w.decode()
}

// DeleteRange deletes keys.
func (c *Client) DeleteRange(ctx context.Context, r DeleteRangeRequest) (*DeleteRangeResponse, error) {
	var w wireDeleteResponse
	if err := c.call(ctx, "/v3/kv/deleterange", toWireDelete(r), &w); err != nil {
		return nil, err
	}
	return w.decode()
}

// Txn runs a transaction.
func (c *Client) Txn(ctx context.Context, r TxnRequest) (*TxnResponse, error) {
	req := wireTxnRequest{Compare: make([]wireCompare, 0, len(r.Compare))}
	for _, cmp := range r.Compare {
		wc := wireCompare{Key: []byte(cmp.Key), Target: cmp.Target, Result: cmp.Result}
		switch cmp.Target {
		case TargetVersion:
			wc.Version = &wireInt{cmp.Num}
		case TargetCreate:
			wc.CreateRevision = &wireInt{cmp.Num}
		case TargetMod:
			wc.ModRevision = &wireInt{cmp.Num}
		case TargetValue:
			v := []byte(cmp.Value)
			wc.Value = &v
		default:
			return nil, fmt.Errorf("txn: compare on %q: unknown target %q", cmp.Key, cmp.Target)
		}
		req.Compare = append(req.Compare, wc)
	}
	var err error
	if req.Success, err = toWireOps(r.Success); err != nil {
		return nil, err
	}
	if req.Failure, err = toWireOps(r.Failure); err != nil {
		return nil, err
	}
	var w wireTxnResponse
	if err := c.call(ctx, "/v3/kv/txn", req, &w); err != nil {
		return nil, err
	}
	out := &TxnResponse{Header: w.Header.decode(), Succeeded: w.Succeeded}
	for i, ro := range w.Responses {
		var o ResponseOp
		switch {
		case ro.Range != nil:
			o.Range, err = ro.Range.decode()
		case ro.Put != nil:
			o.Put, err = ro.Put.decode()
		case ro.Delete != nil:
			o.Delete, err = ro.Delete.decode()
		default:
			err = fmt.Errorf("txn: response %d has no known kind", i)
		}
		if err != nil {
			return nil, err
		}
		out.Responses = append(out.Responses, o)
	}
	return out, nil
}

// Compact compacts the key-value history up to rev.
func (c *Client) Compact(ctx context.Context, rev int64) (*Header, error) {
	var w struct {
		Header wireHeader `json:"header"`
	}
	req := struct {
		Revision int64 `json:"revision,string"`
	}{rev}
	if err := c.call(ctx, "/v3/kv/compaction", req, &w); err != nil {
		return nil, err
	}
	h := w.Header.decode()
	return &h, nil
}

// Status asks the member for its maintenance status (its ID, the leader it
// knows, its raft term and index).
func (c *Client) Status(ctx context.Context) (*StatusResponse, error) {
	var w struct {
		Header    wireHeader `json:"header"`
		Version   string     `json:"version"`
		Leader    uint64     `json:"leader,string"`
		RaftTerm  uint64     `json:"raftTerm,string"`
		RaftIndex uint64     `json:"raftIndex,string"`
	}
	if err := c.call(ctx, "/v3/maintenance/status", struct{}{}, &w); err != nil {
		return nil, err
	}
	return &StatusResponse{Header: w.Header.decode(), Version: w.Version, Leader: w.Leader,
		RaftTerm: w.RaftTerm, RaftIndex: w.RaftIndex}, nil
}

// The wire forms: the gateway speaks protobuf's JSON mapping with the
// original (snake_case) field names, bytes as base64 (a Go []byte), and
// 64-bit integers as strings.

type wireHeader struct {
	Revision int64  `json:"revision,string"`
	MemberID uint64 `json:"member_id,string"`
	RaftTerm uint64 `json:"raft_term,string"`
}

func (h wireHeader) decode() Header {
	return Header{Revision: h.Revision, MemberID: h.MemberID, RaftTerm: h.RaftTerm}
}

type wireKV struct {
	Key            []byte `json:"key"`
	Value          []byte `json:"value"`
	CreateRevision int64  `json:"create_revision,string"`
	ModRevision    int64  `json:"mod_revision,string"`
	Version        int64  `json:"version,string"`
}

func (kv wireKV) decode() KeyValue {
	return KeyValue{Key: string(kv.Key), Value: string(kv.Value), CreateRevision: kv.CreateRevision,
		ModRevision: kv.ModRevision, Version: kv.Version}
}

func decodeKVs(w []wireKV) []KeyValue {
	var out []KeyValue
	for _, kv := range w {
		out = append(out, kv.decode())
	}
	return out
}

// wireInt is a 64-bit integer that is always sent, even when zero: a
// compare's target value is a oneof, and leaving it out would leave the
// oneof unset.
type wireInt struct{ v int64 }

func (w wireInt) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(w.v, 10) + `"`), nil
}

type wireRangeRequest struct {
	Key          []byte `json:"key"`
	RangeEnd     []byte `json:"range_end,omitempty"`
	Limit        int64  `json:"limit,omitempty,string"`
	Revision     int64  `json:"revision,omitempty,string"`
	Serializable bool   `json:"serializable,omitempty"`
}

func toWireRange(r RangeRequest) wireRangeRequest {
	return wireRangeRequest{Key: []byte(r.Key), RangeEnd: bytesOrNil(r.RangeEnd), Limit: r.Limit,
		Revision: r.Revision, Serializable: r.Serializable}
}

func bytesOrNil(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

type wireRangeResponse struct {
	Header wireHeader `json:"header"`
	KVs    []wireKV   `json:"kvs"`
	Count  int64      `json:"count,string"`
	More   bool       `json:"more"`
}

func (w *wireRangeResponse) decode() (*RangeResponse, error) {
	return &RangeResponse{Header: w.Header.decode(), KVs: decodeKVs(w.KVs), Count: w.Count, More: w.More}, nil
}

type wirePutRequest struct {
	Key    []byte `json:"key"`
	Value  []byte `json:"value"`
	PrevKV bool   `json:"prev_kv,omitempty"`
}

func toWirePut(r PutRequest) wirePutRequest {
	return wirePutRequest{Key: []byte(r.Key), Value: []byte(r.Value), PrevKV: r.PrevKV}
}

type wirePutResponse struct {
	Header wireHeader `json:"header"`
	PrevKV *wireKV    `json:"prev_kv"`
}

func (w *wirePutResponse) decode() (*PutResponse, error) {
	out := &PutResponse{Header: w.Header.decode()}
	if w.PrevKV != nil {
		kv := w.PrevKV.decode()
		out.PrevKV = &kv
	}
	return out, nil
}

type wireDeleteRequest struct {
	Key      []byte `json:"key"`
	RangeEnd []byte `json:"range_end,omitempty"`
	PrevKV   bool   `json:"prev_kv,omitempty"`
}

func toWireDelete(r DeleteRangeRequest) wireDeleteRequest {
	return wireDeleteRequest{Key: []byte(r.Key), RangeEnd: bytesOrNil(r.RangeEnd), PrevKV: r.PrevKV}
}

type wireDeleteResponse struct {
	Header  wireHeader `json:"header"`
	Deleted int64      `json:"deleted,string"`
	PrevKVs []wireKV   `json:"prev_kvs"`
}

func (w *wireDeleteResponse) decode() (*DeleteRangeResponse, error) {
	return &DeleteRangeResponse{Header: w.Header.decode(), Deleted: w.Deleted, PrevKVs: decodeKVs(w.PrevKVs)}, nil
}

type wireCompare struct {
	Key            []byte   `json:"key"`
	Target         string   `json:"target"`
	Result         string   `json:"result"`
	Version        *wireInt `json:"version,omitempty"`
	CreateRevision *wireInt `json:"create_revision,omitempty"`
	ModRevision    *wireInt `json:"mod_revision,omitempty"`
	Value          *[]byte  `json:"value,omitempty"`
}

type wireRequestOp struct {
	Range  *wireRangeRequest  `json:"request_range,omitempty"`
	Put    *wirePutRequest    `json:"request_put,omitempty"`
	Delete *wireDeleteRequest `json:"request_delete_range,omitempty"`
}

func toWireOps(ops []RequestOp) ([]wireRequestOp, error) {
	out := make([]wireRequestOp, 0, len(ops))
	for i, o := range ops {
		var w wireRequestOp
		n := 0
		if o.Range != nil {
			r := toWireRange(*o.Range)
			w.Range, n = &r, n+1
		}
		if o.Put != nil {
			p := toWirePut(*o.Put)
			w.Put, n = &p, n+1
		}
		if o.Delete != nil {
			d := toWireDelete(*o.Delete)
			w.Delete, n = &d, n+1
		}
		if n != 1 {
			return nil, fmt.Errorf("txn: op %d sets %d kinds, want exactly one", i, n)
		}
		out = append(out, w)
	}
	return out, nil
}

type wireTxnRequest struct {
	Compare []wireCompare   `json:"compare"`
	Success []wireRequestOp `json:"success"`
	Failure []wireRequestOp `json:"failure"`
}

type wireResponseOp struct {
	Range  *wireRangeResponse  `json:"response_range"`
	Put    *wirePutResponse    `json:"response_put"`
	Delete *wireDeleteResponse `json:"response_delete_range"`
}

type wireTxnResponse struct {
	Header    wireHeader       `json:"header"`
	Succeeded bool             `json:"succeeded"`
	Responses []wireResponseOp `json:"responses"`
}

// PrefixEnd returns the range end that makes [prefix, end) every key with
// the prefix, as clientv3's WithPrefix does; for the empty prefix, "\x00"
// (with the key "\x00": every key).
func PrefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return "\x00"
}
