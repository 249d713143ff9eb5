package realetcd

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"
)

// fakeGateway answers each path with a canned body and status, and keeps
// the last request body it got per path.
type fakeGateway struct {
	answers map[string]string
	status  map[string]int
	got     map[string]map[string]any
}

func (f *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req map[string]any
	if err := json.Unmarshal(b, &req); err != nil || r.Method != http.MethodPost {
		http.Error(w, "bad request", http.StatusTeapot)
		return
	}
	f.got[r.URL.Path] = req
	if s, ok := f.status[r.URL.Path]; ok {
		w.WriteHeader(s)
	}
	io.WriteString(w, f.answers[r.URL.Path])
}

// TestGatewayWireForm checks the JSON the client sends and decodes against
// what etcd 3.4's gateway was seen to send and accept: snake_case names,
// bytes in base64, 64-bit integers as strings, enums by name.
func TestGatewayWireForm(t *testing.T) {
	f := &fakeGateway{got: map[string]map[string]any{}, status: map[string]int{
		"/v3/kv/range": http.StatusBadRequest,
	}, answers: map[string]string{
		"/v3/kv/range": `{"error":"etcdserver: mvcc: required revision has been compacted","message":"etcdserver: mvcc: required revision has been compacted","code":11}`,
		"/v3/kv/txn": `{"header":{"cluster_id":"1","member_id":"2","revision":"3","raft_term":"2"},"succeeded":true,` +
			`"responses":[{"response_put":{"header":{"revision":"3"},"prev_kv":{"key":"YQ==","create_revision":"2","mod_revision":"2","version":"1","value":"MQ=="}}},` +
			`{"response_range":{"header":{"revision":"3"},"kvs":[{"key":"YQ==","create_revision":"2","mod_revision":"3","version":"2","value":"Mg=="}],"count":"2","more":true}},` +
			`{"response_delete_range":{"header":{"revision":"3"}}}]}`,
		"/v3/maintenance/status": `{"header":{"member_id":"13668033151171901709","revision":"2"},"version":"3.4.23","leader":"13668033151171901709","raftIndex":"5","raftTerm":"2"}`,
	}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := &Client{Endpoint: srv.URL}
	ctx := context.Background()

	_, err := c.Range(ctx, RangeRequest{Key: "a", RangeEnd: "b", Revision: 7, Limit: 2, Serializable: true})
	if !IsCompacted(err) || IsFutureRev(err) {
		t.Errorf("range: %v, want the compacted error", err)
	}
	wantRange := map[string]any{"key": "YQ==", "range_end": "Yg==", "revision": "7", "limit": "2", "serializable": true}
	if !reflect.DeepEqual(f.got["/v3/kv/range"], wantRange) {
		t.Errorf("range sent %v, want %v", f.got["/v3/kv/range"], wantRange)
	}

	resp, err := c.Txn(ctx, TxnRequest{
		Compare: []Compare{{Key: "a", Target: TargetMod, Result: ResultEqual, Num: 0}, {Key: "a", Target: TargetValue, Result: ResultLess, Value: ""}},
		Success: []RequestOp{{Put: &PutRequest{Key: "a", Value: "2", PrevKV: true}}, {Range: &RangeRequest{Key: "a"}}, {Delete: &DeleteRangeRequest{Key: "z"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A compare's operand is sent even when it is zero or empty: it is a
	// oneof, which would otherwise be left unset.
	wantTxn := map[string]any{
		"compare": []any{
			map[string]any{"key": "YQ==", "target": "MOD", "result": "EQUAL", "mod_revision": "0"},
			map[string]any{"key": "YQ==", "target": "VALUE", "result": "LESS", "value": ""},
		},
		"success": []any{
			map[string]any{"request_put": map[string]any{"key": "YQ==", "value": "Mg==", "prev_kv": true}},
			map[string]any{"request_range": map[string]any{"key": "YQ=="}},
			map[string]any{"request_delete_range": map[string]any{"key": "eg=="}},
		},
		"failure": []any{},
	}
	if !reflect.DeepEqual(f.got["/v3/kv/txn"], wantTxn) {
		t.Errorf("txn sent %v, want %v", f.got["/v3/kv/txn"], wantTxn)
	}
	want := &TxnResponse{Header: Header{Revision: 3, MemberID: 2, RaftTerm: 2}, Succeeded: true, Responses: []ResponseOp{
		{Put: &PutResponse{Header: Header{Revision: 3}, PrevKV: &KeyValue{"a", "1", 2, 2, 1}}},
		{Range: &RangeResponse{Header: Header{Revision: 3}, KVs: []KeyValue{{"a", "2", 2, 3, 2}}, Count: 2, More: true}},
		{Delete: &DeleteRangeResponse{Header: Header{Revision: 3}}},
	}}
	if !reflect.DeepEqual(resp, want) {
		t.Errorf("txn decoded %+v, want %+v", resp, want)
	}

	st, err := c.Status(ctx)
	if err != nil || st.Leader != 13668033151171901709 || st.Header.MemberID != st.Leader || st.Version != "3.4.23" || st.RaftTerm != 2 {
		t.Errorf("status %+v, %v", st, err)
	}

	if _, err := c.Txn(ctx, TxnRequest{Success: []RequestOp{{}}}); err == nil {
		t.Error("a txn op of no kind was sent")
	}
}

func TestNotSent(t *testing.T) {
	// A port nothing listens on: the dial is refused, nothing was sent.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := &Client{Endpoint: "http://" + addr}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Put(ctx, PutRequest{Key: "a", Value: "1"}); err == nil || !NotSent(err) {
		t.Errorf("put to a closed port: %v, want a not-sent error", err)
	}

	// A server that takes the request and hangs up without answering:
	// the request may have been acted on.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	c = &Client{Endpoint: srv.URL}
	_, err = c.Put(ctx, PutRequest{Key: "a", Value: "1"})
	var e *Error
	if err == nil || NotSent(err) || errors.As(err, &e) {
		t.Errorf("put answered by a hang-up: %v, want an error of unknown outcome", err)
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a", "b"}, {"ab", "ac"}, {"a\xff", "b"}, {"\xff\xff", "\x00"}, {"", "\x00"},
	} {
		if got := PrefixEnd(tc.in); got != tc.want {
			t.Errorf("PrefixEnd(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
