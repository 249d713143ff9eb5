package store

import (
	"strconv"
	"strings"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// raftMsg is a raft message between members. Its String is raft's own
// description of the message, stable and free of pointers.
type raftMsg struct{ m *pb.Message }

func (r raftMsg) String() string { return raft.DescribeMessage(r.m, nil) }

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
}

func (r Request) String() string {
	var b strings.Builder
	b.WriteString("req id=")
	b.WriteString(strconv.FormatUint(r.ID, 10))
	if r.Serializable {
		b.WriteString(" serializable")
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
