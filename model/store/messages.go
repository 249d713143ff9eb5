package store

import (
	"encoding/hex"
	"strconv"
	"strings"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// raftMsg is a raft message between members. Senders hand it over and
// never touch it again; see Member.receive for what receivers copy.
type raftMsg struct{ m *pb.Message }

// String describes the message on one line, in the spirit of raft's own
// DescribeMessage ("1->2 MsgApp Term:2 Log:1/11 Commit:11 Entries:3[12..14]")
// but without fmt: it is on the kernel's hot path, once per trace line.
func (r raftMsg) String() string {
	b, _ := r.AppendText(make([]byte, 0, 96))
	return string(b)
}

// AppendText appends String's text to b (encoding.TextAppender): the kernel
// writes trace lines this way without building a string.
func (r raftMsg) AppendText(b []byte) ([]byte, error) {
	m := r.m
	b = strconv.AppendUint(b, m.GetFrom(), 10)
	b = append(b, "->"...)
	b = strconv.AppendUint(b, m.GetTo(), 10)
	b = append(b, ' ')
	b = append(b, msgTypeName(m.GetType())...)
	b = append(b, " Term:"...)
	b = strconv.AppendUint(b, m.GetTerm(), 10)
	b = append(b, " Log:"...)
	b = strconv.AppendUint(b, m.GetLogTerm(), 10)
	b = append(b, '/')
	b = strconv.AppendUint(b, m.GetIndex(), 10)
	if c := m.GetCommit(); c != 0 {
		b = append(b, " Commit:"...)
		b = strconv.AppendUint(b, c, 10)
	}
	if v := m.GetVote(); v != 0 {
		b = append(b, " Vote:"...)
		b = strconv.AppendUint(b, v, 10)
	}
	if m.GetReject() {
		b = append(b, " Rejected (Hint: "...)
		b = strconv.AppendUint(b, m.GetRejectHint(), 10)
		b = append(b, ')')
	}
	if ents := m.GetEntries(); len(ents) > 0 {
		b = append(b, " Entries:"...)
		b = strconv.AppendInt(b, int64(len(ents)), 10)
		b = append(b, '[')
		b = strconv.AppendUint(b, ents[0].GetIndex(), 10)
		b = append(b, ".."...)
		b = strconv.AppendUint(b, ents[len(ents)-1].GetIndex(), 10)
		b = append(b, ']')
	}
	if snap := m.GetSnapshot(); !raft.IsEmptySnap(snap) {
		b = append(b, " Snapshot:"...)
		b = strconv.AppendUint(b, snap.GetMetadata().GetIndex(), 10)
		b = append(b, '/')
		b = strconv.AppendUint(b, snap.GetMetadata().GetTerm(), 10)
	}
	c := m.GetContext()
	if t := m.GetType(); (t == pb.MsgReadIndex || t == pb.MsgReadIndexResp) && len(m.GetEntries()) > 0 {
		c = m.GetEntries()[0].GetData() // raft carries a read's context there
	}
	if len(c) > 0 {
		b = append(b, " Context:"...)
		b = hex.AppendEncode(b, c)
	}
	return b, nil
}

var msgTypeNames = func() []string {
	var out []string
	for t := 0; t < 32; t++ {
		out = append(out, pb.MessageType(t).String())
	}
	return out
}()

func msgTypeName(t pb.MessageType) string {
	if int(t) >= 0 && int(t) < len(msgTypeNames) {
		return msgTypeNames[t]
	}
	return pb.MessageType(t).String()
}

// Code is a store error as a client sees it.
type Code string

const (
	// CodeOK: success.
	CodeOK Code = ""
	// CodeTimeout: the member gave up after its request timeout, or the
	// client after its own. For a write the outcome is unknown: it may
	// still commit.
	CodeTimeout Code = "timeout"
	// CodeCompacted: the read asked for a compacted revision.
	CodeCompacted Code = "compacted"
	// CodeFutureRevision: the read asked for a revision not yet reached.
	CodeFutureRevision Code = "future-revision"
	// CodeInvalid: the member refused a malformed request.
	CodeInvalid Code = "invalid-request"
	// CodeUnavailable: the request never reached a serving member
	// (connection refused); it did not take effect.
	CodeUnavailable Code = "unavailable"
)

// Request is a client's call to a member: a transaction (a read when it has
// no writes) with a client-chosen ID echoed in the response.
type Request struct {
	ID  uint64
	Txn Txn
	// Serializable reads are served from the member's local state, which
	// may be stale; otherwise reads are linearizable (ReadIndex).
	Serializable bool
	// Compact, if positive, asks to compact the store up to this revision
	// (through the log, as etcd's Compact does) instead of running Txn.
	Compact int64
}

func (r Request) String() string {
	var b strings.Builder
	b.WriteString("req id=")
	b.WriteString(strconv.FormatUint(r.ID, 10))
	if r.Serializable {
		b.WriteString(" serializable")
	}
	if r.Compact > 0 {
		b.WriteString(" compact=")
		b.WriteString(strconv.FormatInt(r.Compact, 10))
		return b.String()
	}
	b.WriteByte(' ')
	b.WriteString(r.Txn.String())
	return b.String()
}

// Response answers a Request.
type Response struct {
	ID     uint64
	Err    Code
	Result TxnResult
	Member uint64
}

func (r Response) String() string {
	var b strings.Builder
	b.WriteString("resp id=")
	b.WriteString(strconv.FormatUint(r.ID, 10))
	b.WriteString(" member=")
	b.WriteString(strconv.FormatUint(r.Member, 10))
	if r.Err != CodeOK {
		b.WriteString(" err=")
		b.WriteString(string(r.Err))
		return b.String()
	}
	b.WriteString(" rev=")
	b.WriteString(strconv.FormatInt(r.Result.Revision, 10))
	if r.Result.Succeeded {
		b.WriteString(" succeeded")
	} else {
		b.WriteString(" failed")
	}
	for _, res := range r.Result.Results {
		for _, kv := range res.KVs {
			b.WriteByte(' ')
			b.WriteString(kv.String())
		}
		if res.Deleted > 0 {
			b.WriteString(" deleted=")
			b.WriteString(strconv.FormatInt(res.Deleted, 10))
		}
	}
	return b.String()
}

// WatchRequest opens a watch of Key (or every key under it, with Prefix)
// from revision FromRev on; ID is the client's, echoed in every
// WatchResponse.
type WatchRequest struct {
	ID      uint64
	Key     string
	Prefix  bool
	FromRev int64
}

func (w WatchRequest) String() string {
	s := "watch id=" + strconv.FormatUint(w.ID, 10) + " key=" + strconv.Quote(w.Key)
	if w.Prefix {
		s += " prefix"
	}
	return s + " from=" + strconv.FormatInt(w.FromRev, 10)
}

// WatchCancel closes a watch.
type WatchCancel struct{ ID uint64 }

func (w WatchCancel) String() string { return "watch-cancel id=" + strconv.FormatUint(w.ID, 10) }

// WatchProgress asks a member for a progress notification on every watch
// of the asking client.
type WatchProgress struct{}

func (WatchProgress) String() string { return "watch-progress" }

// WatchResponse carries a watch's events in revision order, or a progress
// notification (no events: every event up to Revision has been sent), or
// the watch's end (Canceled, with Err, e.g. compacted).
type WatchResponse struct {
	ID       uint64
	Events   []Event
	Revision int64
	Canceled bool
	Err      Code
	Member   uint64
}

func (w WatchResponse) String() string {
	var b strings.Builder
	b.WriteString("watch-resp id=")
	b.WriteString(strconv.FormatUint(w.ID, 10))
	b.WriteString(" rev=")
	b.WriteString(strconv.FormatInt(w.Revision, 10))
	if w.Canceled {
		b.WriteString(" canceled")
		if w.Err != CodeOK {
			b.WriteString(" err=" + string(w.Err))
		}
	}
	if len(w.Events) == 0 && !w.Canceled {
		b.WriteString(" progress")
	}
	for _, e := range w.Events {
		b.WriteByte(' ')
		b.WriteString(e.String())
	}
	return b.String()
}
