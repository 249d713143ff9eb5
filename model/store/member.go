package store

import (
	"encoding/binary"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"hasim/harness"
	"hasim/model"
)

// Raft and server timing: etcd's defaults.
const (
	// TickInterval is one raft tick of the host's local clock.
	TickInterval = 100 * time.Millisecond
	// ElectionTicks: a follower campaigns after 10–20 ticks without a
	// leader (raft randomizes in [election, 2*election)).
	ElectionTicks = 10
	// HeartbeatTicks: the leader heartbeats every tick.
	HeartbeatTicks = 1
	// RequestTimeout is how long a member waits for a request to be
	// served before answering CodeTimeout.
	RequestTimeout = 7 * time.Second
	// ReadIndexRetry is how often an unanswered ReadIndex is sent again.
	ReadIndexRetry = 500 * time.Millisecond
)

// Bug switches of the store.
const (
	BugAckBeforeCommit = "store-ack-before-commit"
	BugStaleRead       = "store-stale-read"
	BugSendBeforeSync  = "store-send-before-sync"
	BugNoFsync         = "store-no-fsync"
)

func init() {
	model.Register(model.Bug{Name: BugAckBeforeCommit, Scenarios: []string{"store", "election", "cluster"}, Caught: []harness.CheckName{model.CheckAckedDurable, model.CheckLinearizability},
		Plants: "a member answers a write once the entry is in its own log, before it commits"})
	model.Register(model.Bug{Name: BugStaleRead, Scenarios: []string{"store", "election", "cluster"}, Caught: []harness.CheckName{model.CheckLinearizability},
		Plants: "linearizable reads are served from the member's local state, without ReadIndex"})
	model.Register(model.Bug{Name: BugSendBeforeSync, Scenarios: []string{"store", "election", "cluster"}, Caught: []harness.CheckName{model.CheckRaftSafety},
		Plants: "a Ready's messages (votes, append acks) go out before its disk writes are synced"})
	model.Register(model.Bug{Name: BugNoFsync, Scenarios: []string{"store", "election", "cluster"}, Caught: []harness.CheckName{model.CheckRaftSafety},
		Plants: "members never fsync: raft state and log live in the page cache and die with the host"})
}

// RaftObserver hears what a member reports of its raft log and state
// machine, for observers outside it to judge (the scenario's raft-safety
// checker is one): members report facts, they never judge themselves.
type RaftObserver interface {
	// Leader: the member became leader of term.
	Leader(at time.Duration, member, term uint64)
	// LeaderLog: a new leader's log, from index first, as term reads it.
	LeaderLog(at time.Duration, member, leaderTerm, first uint64, term func(uint64) (uint64, bool))
	// Applied: the member applied the entry at index (of term, with the
	// content's digest), while it believed by was the leader's term.
	Applied(at time.Duration, member, index, term, digest, by uint64)
	// Reset: the member's state machine restarted from index (a restart
	// or a snapshot).
	Reset(member, index uint64)
	// Revision: the member's store reached rev.
	Revision(at time.Duration, member uint64, rev int64)
	// Panicked: raft panicked in the member (a broken invariant).
	Panicked(at time.Duration, member uint64, msg string)
}

// RevisionTap is a RaftObserver that hears each revision a member
// reports (Heard), then passes every fact on to Next, if set: a scenario
// learns when the store first reached a revision while its judge watches
// raft.
type RevisionTap struct {
	Next  RaftObserver
	Heard func(at time.Duration, rev int64)
}

// Leader implements RaftObserver.
func (r RevisionTap) Leader(at time.Duration, member, term uint64) {
	if r.Next != nil {
		r.Next.Leader(at, member, term)
	}
}

// LeaderLog implements RaftObserver.
func (r RevisionTap) LeaderLog(at time.Duration, member, leaderTerm, first uint64, term func(uint64) (uint64, bool)) {
	if r.Next != nil {
		r.Next.LeaderLog(at, member, leaderTerm, first, term)
	}
}

// Applied implements RaftObserver.
func (r RevisionTap) Applied(at time.Duration, member, index, term, digest, by uint64) {
	if r.Next != nil {
		r.Next.Applied(at, member, index, term, digest, by)
	}
}

// Reset implements RaftObserver.
func (r RevisionTap) Reset(member, index uint64) {
	if r.Next != nil {
		r.Next.Reset(member, index)
	}
}

// Revision implements RaftObserver: Heard first, then Next.
func (r RevisionTap) Revision(at time.Duration, member uint64, rev int64) {
	r.Heard(at, rev)
	if r.Next != nil {
		r.Next.Revision(at, member, rev)
	}
}

// Panicked implements RaftObserver.
func (r RevisionTap) Panicked(at time.Duration, member uint64, msg string) {
	if r.Next != nil {
		r.Next.Panicked(at, member, msg)
	}
}

// MemberConfig wires one member. One value is shared by every incarnation
// of the member (it is wiring, not state).
type MemberConfig struct {
	// ID is the raft ID, from 1.
	ID uint64
	// Peers are the members' processes, by raft ID - 1.
	Peers []harness.ProcID
	// SnapshotCount: a snapshot is taken every this many applied entries
	// (etcd: --snapshot-count). Default 1000.
	SnapshotCount uint64
	// CatchUpEntries stay in the log after a snapshot, for slow followers
	// (etcd keeps 5000). Default 100.
	CatchUpEntries uint64
	// Bugs turned on.
	Bugs model.Bugs
	// Safety hears the facts about the member's raft log and state
	// machine that observers judge raft's safety by; may be nil.
	Safety RaftObserver
	// Now reads true time for the checker's evidence (never for
	// behaviour); nil reads zero.
	Now func() time.Duration
}

func (c *MemberConfig) fill() {
	if c.SnapshotCount == 0 {
		c.SnapshotCount = 1000
	}
	if c.CatchUpEntries == 0 {
		c.CatchUpEntries = 100
	}
}

// Member is one etcd-like member: a raft RawNode, its log and snapshot on
// the host's disk, and the MVCC store it applies committed entries to.
type Member struct {
	cfg     *MemberConfig
	rn      *raft.RawNode
	storage *raft.MemoryStorage
	kv      *MVCC
	ctx     *harness.Ctx // the current step's context (for raft's logger)

	inflight raft.Ready // the Ready whose writes are being synced, if syncing
	syncing  bool
	// readyTerm is the member's term when raft handed over the Ready being
	// finished: its committed entries were committed in that term or an
	// earlier one (the safety checker's leader completeness is per term).
	readyTerm uint64
	readySeq  uint64
	applied   uint64
	reported  int64 // the revision last reported to the safety checker
	confState *pb.ConfState
	snapIndex uint64
	leader    bool
	// campaigning: raft is a candidate or pre-candidate. heardAt is when
	// (local time) a leader last reached this member, dueCued whether the
	// election-due cue was given since.
	campaigning bool
	heardAt     time.Duration
	dueCued     bool

	nextSeq uint64
	writes  map[uint64]*pending // by seq
	reads   map[uint64]*pending // by seq
	order   []uint64            // seqs of pending requests, oldest first

	awaiting []uint64 // seqs of reads with an index, waiting to apply it
	watches  []*watch
}

type pending struct {
	client   harness.ProcID
	id       uint64
	txn      Txn
	deadline time.Duration // local time at which it times out
	retryAt  time.Duration // reads: when to re-send ReadIndex
	index    uint64        // reads: the read index, once known
	indexed  bool
	replied  bool
}

type watch struct {
	client harness.ProcID
	req    WatchRequest
	sent   int64 // revision up to which events were sent
}

// NewMember returns the spawn function of a member.
func NewMember(cfg *MemberConfig) harness.Spawn {
	cfg.fill()
	return func() harness.Process { return &Member{cfg: cfg} }
}

// ID returns the member's raft ID.
func (m *Member) ID() uint64 { return m.cfg.ID }

// Status returns raft's basic status.
func (m *Member) Status() raft.BasicStatus {
	if m.rn == nil {
		return raft.BasicStatus{}
	}
	return m.rn.BasicStatus()
}

// IsLeader reports whether the member is raft leader now.
func (m *Member) IsLeader() bool {
	return m.rn != nil && m.rn.BasicStatus().RaftState == raft.StateLeader
}

// Applied returns the index of the last applied entry.
func (m *Member) Applied() uint64 { return m.applied }

// KV returns the member's store (read-only use).
func (m *Member) KV() *MVCC { return m.kv }

func (m *Member) now() time.Duration {
	if m.cfg.Now == nil {
		return 0
	}
	return m.cfg.Now()
}

// Step implements harness.Process.
func (m *Member) Step(ctx *harness.Ctx, in harness.Input) {
	m.ctx = ctx
	defer func() {
		m.ctx = nil
		if r := recover(); r != nil {
			// raft panics when its durable state contradicts the
			// cluster (lost writes). etcd would crash; so
			// does the member, and the safety checker hears of it. Any
			// other panic is a bug in hasim itself and goes on up.
			msg := fmt.Sprint(r)
			if !raftPanic(debug.Stack()) {
				panic(r)
			}
			ctx.Notef("panic: %s", msg)
			if m.cfg.Safety != nil {
				m.cfg.Safety.Panicked(m.now(), m.cfg.ID, msg)
			}
			ctx.Exit(5 * time.Second)
		}
	}()
	switch in.Kind {
	case harness.InputStart:
		m.start(ctx)
		ctx.After(TickInterval, "tick", 0)
	case harness.InputTimer:
		m.timer(ctx, in)
	case harness.InputMessage:
		m.receive(ctx, in.Msg)
	case harness.InputSynced:
		if in.Tag == "ready" && m.syncing && in.Arg == m.readySeq {
			rd := m.inflight
			m.inflight, m.syncing = raft.Ready{}, false
			m.finish(ctx, rd)
		}
	}
	m.pump(ctx)
	if s := m.cfg.Safety; s != nil && m.kv != nil && m.kv.Rev() != m.reported {
		// Only what a step leaves behind is observable (the replay at
		// start happens within one step), and only a change is news.
		m.reported = m.kv.Rev()
		s.Revision(m.now(), m.cfg.ID, m.reported)
	}
}

func (m *Member) timer(ctx *harness.Ctx, in harness.Input) {
	if in.Tag != "tick" {
		return
	}
	m.rn.Tick()
	m.sweep(ctx)
	if !m.leader && !m.dueCued && ctx.Now()-m.heardAt >= ElectionDueAfter {
		// raft campaigns ElectionTicks to 2·ElectionTicks ticks after it
		// last heard from a leader: the earliest is this far ahead.
		m.dueCued = true
		ctx.Cue(CueElectionDue, time.Duration(ElectionTicks)*TickInterval-ElectionDueAfter)
	}
	ctx.After(TickInterval, "tick", 0)
}

// Cues the members give (harness.Ctx.Cue), and the states they report to
// faults (harness.StateReporter).
const (
	// CueReadIndex: a linearizable read asked raft for its read index.
	CueReadIndex = "read-index"
	// CueWriteProposed: a client's write was proposed to raft.
	CueWriteProposed = "write-proposed"
	// CueCampaign: the member became a (pre-)candidate: votes are racing.
	CueCampaign = "raft-campaign"
	// CueFsync: a member that does not lead wrote raft state (appended
	// entries, its vote, its term) and waits for the disk to make it
	// durable: a crash now loses it, and what it acknowledged with it.
	CueFsync = "fsync"
	// CueElectionDue: a follower has not heard from a leader for
	// ElectionDueAfter; its election timeout (randomized by raft) is at
	// the earliest the cue's deadline away.
	CueElectionDue = "election-due"
	// StateWritePending names the state of a member with client writes
	// not yet answered.
	StateWritePending = "write-pending"
)

// ElectionDueAfter is how long a follower goes without a leader's
// message before it says an election is due.
const ElectionDueAfter = 600 * time.Millisecond

// Cues lists the cues members give, with where aimed faults fit: a read
// or a write in flight, votes racing, an election timeout about to fire.
func Cues(roles ...harness.Role) []harness.CueSpec {
	return []harness.CueSpec{
		{Name: CueReadIndex, Late: 20 * time.Millisecond, Roles: roles},
		{Name: CueWriteProposed, Late: 20 * time.Millisecond, Roles: roles},
		{Name: CueCampaign, Late: 50 * time.Millisecond, Roles: roles},
		{Name: CueElectionDue, Early: -300 * time.Millisecond, Late: time.Second, Ahead: time.Second, Roles: roles},
		{Name: CueFsync, Late: time.Millisecond},
	}
}

// States implements harness.StateReporter.
func (m *Member) States(now time.Duration, dst []string) []string {
	if len(m.reads) > 0 {
		dst = append(dst, CueReadIndex)
	}
	if len(m.writes) > 0 {
		dst = append(dst, StateWritePending)
	}
	if m.campaigning {
		dst = append(dst, CueCampaign)
	}
	if m.rn != nil && !m.leader && now-m.heardAt >= ElectionDueAfter {
		dst = append(dst, CueElectionDue)
	}
	return dst
}

// sweep runs on every tick: it answers requests past the request timeout
// with CodeTimeout and re-sends ReadIndex for reads still without an index
// every ReadIndexRetry. Deviation from etcd, named: deadlines are checked
// on the 100ms tick rather than by a timer per request, so a request may
// time out up to one tick late; it keeps the event queue small.
func (m *Member) sweep(ctx *harness.Ctx) {
	now := ctx.Now()
	n := 0
	for _, seq := range m.order {
		if w := m.writes[seq]; w != nil {
			if now >= w.deadline {
				delete(m.writes, seq)
				if !w.replied {
					ctx.Send(w.client, Response{ID: w.id, Err: CodeTimeout, Member: m.cfg.ID})
				}
				continue
			}
		} else if r := m.reads[seq]; r != nil {
			if now >= r.deadline {
				delete(m.reads, seq)
				ctx.Send(r.client, Response{ID: r.id, Err: CodeTimeout, Member: m.cfg.ID})
				continue
			}
			if !r.indexed && now >= r.retryAt {
				ctx.Mark("read-index-resent")
				m.rn.ReadIndex(seqBytes(seq))
				r.retryAt = now + ReadIndexRetry
			}
		} else {
			continue // answered
		}
		m.order[n] = seq
		n++
	}
	m.order = m.order[:n]
}

func seqBytes(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func (m *Member) receive(ctx *harness.Ctx, msg harness.Message) {
	switch p := msg.Payload.(type) {
	case raftMsg:
		rm := p.m
		switch rm.GetType() {
		case pb.MsgApp, pb.MsgHeartbeat, pb.MsgSnap:
			m.heardAt, m.dueCued = ctx.Now(), false
		}
		if rm.GetType() == pb.MsgProp {
			// A leader stamps term and index into the entries of a
			// forwarded proposal: it gets its own copy, since the
			// network may deliver the same message twice. Other
			// messages are only read, and the entries they carry are
			// never modified once in a log, so they are shared.
			rm = proto.Clone(rm).(*pb.Message)
		}
		// An error is raft refusing a message (e.g. a stale one); raft
		// logged why.
		_ = m.rn.Step(rm)
	case Request:
		m.request(ctx, msg.From, p)
	case WatchRequest:
		m.openWatch(ctx, msg.From, p)
	case WatchCancel:
		for i, w := range m.watches {
			if w.client == msg.From && w.req.ID == p.ID {
				m.watches = append(m.watches[:i], m.watches[i+1:]...)
				ctx.Send(msg.From, WatchResponse{ID: p.ID, Revision: m.kv.Rev(), Canceled: true, Member: m.cfg.ID})
				break
			}
		}
	case WatchProgress:
		for _, w := range m.watches {
			if w.client == msg.From {
				ctx.Send(w.client, WatchResponse{ID: w.req.ID, Revision: w.sent, Member: m.cfg.ID})
			}
		}
	}
}

func (m *Member) request(ctx *harness.Ctx, from harness.ProcID, r Request) {
	if !r.Txn.IsWrite() && len(r.Txn.Compares) == 0 && r.Compact == 0 {
		if r.Serializable || m.cfg.Bugs.Has(BugStaleRead) {
			m.serve(ctx, from, r.ID, r.Txn)
			return
		}
		m.nextSeq++
		seq := m.nextSeq
		now := ctx.Now()
		m.reads[seq] = &pending{client: from, id: r.ID, txn: r.Txn,
			deadline: now + RequestTimeout, retryAt: now + ReadIndexRetry}
		m.order = append(m.order, seq)
		m.rn.ReadIndex(seqBytes(seq))
		ctx.Cue(CueReadIndex, 0)
		return
	}
	// Writes and transactions with compares go through the log, as in
	// etcd (a txn's compares must be evaluated at its place in the order).
	m.nextSeq++
	seq := m.nextSeq
	m.writes[seq] = &pending{client: from, id: r.ID, txn: r.Txn, deadline: ctx.Now() + RequestTimeout}
	m.order = append(m.order, seq)
	// A dropped proposal (no leader known) is not retried: the client
	// sees the request time out, as etcd's does.
	if err := m.rn.Propose(encodeProposal(proposal{origin: m.cfg.ID, seq: seq, txn: r.Txn, compact: r.Compact})); err != nil {
		ctx.Mark("proposal-dropped")
	} else {
		ctx.Cue(CueWriteProposed, 0)
	}
}

// serve answers a read from local state now.
func (m *Member) serve(ctx *harness.Ctx, to harness.ProcID, id uint64, txn Txn) {
	res, err := m.kv.Apply(txn)
	ctx.Send(to, Response{ID: id, Err: errno(err), Result: res, Member: m.cfg.ID})
}

func errno(err error) Code {
	switch err {
	case nil:
		return CodeOK
	case ErrCompacted:
		return CodeCompacted
	case ErrFutureRev:
		return CodeFutureRevision
	}
	// The MVCC refuses malformed transactions (an empty key, a field that
	// does not belong to the op) without changing anything.
	return CodeInvalid
}

// start rebuilds the member from its disk: the snapshot, then the WAL
// (entries and the last HardState). raft hands the committed entries after
// the snapshot back in the first Ready, which is handled before this step
// ends, so the store is replayed (conf changes included) before any
// request is served and its revision never goes back.
func (m *Member) start(ctx *harness.Ctx) {
	m.storage = raft.NewMemoryStorage()
	m.kv = NewMVCC()
	m.writes = map[uint64]*pending{}
	m.reads = map[uint64]*pending{}
	m.order = nil
	m.inflight, m.syncing = raft.Ready{}, false
	m.heardAt = ctx.Now()
	// Request numbers tag proposals and read contexts; an entry proposed
	// by an earlier incarnation may still commit after a restart, so each
	// incarnation numbers from its own range (as etcd's ID generator
	// prefixes its counter with the start time).
	m.nextSeq = uint64(ctx.Incarnation()) << 40
	d := ctx.Disk()
	fresh := true
	if snaps := d.Read("snap"); len(snaps) > 0 {
		snap := snaps[len(snaps)-1].(*pb.Snapshot)
		if err := m.storage.ApplySnapshot(snap); err != nil {
			panic(fmt.Sprintf("recovering snapshot: %v", err))
		}
		kv, err := UnmarshalMVCC(snap.GetData())
		if err != nil {
			panic(fmt.Sprintf("recovering snapshot data: %v", err))
		}
		m.kv = kv
		m.applied = snap.GetMetadata().GetIndex()
		m.snapIndex = m.applied
		m.confState = snap.GetMetadata().GetConfState()
		fresh = false
	}
	var hs *pb.HardState
	for _, r := range d.Read("wal") {
		fresh = false
		switch rec := r.(type) {
		case *pb.Entry:
			if rec.GetIndex() <= m.snapIndex {
				continue
			}
			if err := m.storage.Append([]*pb.Entry{rec}); err != nil {
				panic(fmt.Sprintf("replaying the WAL: %v", err))
			}
		case *pb.HardState:
			hs = rec
		}
	}
	if hs != nil {
		if err := m.storage.SetHardState(hs); err != nil {
			panic(err)
		}
	}
	if m.cfg.Safety != nil {
		m.cfg.Safety.Reset(m.cfg.ID, m.applied)
	}
	ctx.Notef("recovered snapshot=%d rev=%d", m.applied, m.kv.Rev())
	c := &raft.Config{
		ID:              m.cfg.ID,
		ElectionTick:    ElectionTicks,
		HeartbeatTick:   HeartbeatTicks,
		Storage:         m.storage,
		Applied:         m.applied,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 256,
		PreVote:         true,
		CheckQuorum:     true,
		ReadOnlyOption:  raft.ReadOnlySafe,
		Logger:          &traceLogger{m: m},
	}
	rn, err := raft.NewRawNode(c)
	if err != nil {
		panic(err)
	}
	m.rn = rn
	if fresh {
		peers := make([]raft.Peer, len(m.cfg.Peers))
		for i := range peers {
			peers[i] = raft.Peer{ID: uint64(i + 1)}
		}
		if err := rn.Bootstrap(peers); err != nil {
			panic(fmt.Sprintf("bootstrap: %v", err))
		}
	}
}

// pump takes the next Ready, if any, and writes it to disk; sending,
// applying and Advance wait until the writes are durable (raft's contract).
func (m *Member) pump(ctx *harness.Ctx) {
	for !m.syncing && m.rn != nil && m.rn.HasReady() {
		rd := m.rn.Ready()
		term := m.rn.BasicStatus().GetTerm()
		d := ctx.Disk()
		wrote := false
		if !raft.IsEmptySnap(rd.Snapshot) {
			d.Replace("snap", proto.Clone(rd.Snapshot))
			// The snapshot supersedes the log: the WAL restarts after it.
			d.Replace("wal")
			if err := m.storage.ApplySnapshot(rd.Snapshot); err != nil {
				panic(err)
			}
			wrote = true
		}
		if len(rd.Entries) > 0 {
			recs := make([]any, len(rd.Entries))
			for i, e := range rd.Entries {
				recs[i] = e
			}
			d.Append("wal", recs...)
			if err := m.storage.Append(rd.Entries); err != nil {
				panic(err)
			}
			wrote = true
		}
		if !raft.IsEmptyHardState(rd.HardState) {
			// raft builds a fresh HardState for every Ready: it can be
			// kept as it is.
			d.Append("wal", rd.HardState)
			if err := m.storage.SetHardState(rd.HardState); err != nil {
				panic(err)
			}
			wrote = true
		}
		m.noteLeadership(ctx, &rd, term)
		m.readyTerm = term
		if !wrote || m.cfg.Bugs.Has(BugNoFsync) {
			m.finish(ctx, rd)
			continue
		}
		if m.cfg.Bugs.Has(BugSendBeforeSync) {
			m.send(ctx, rd.Messages)
			rd.Messages = nil
		}
		m.readySeq++
		m.inflight, m.syncing = rd, true
		d.Sync("ready", m.readySeq)
		if !m.leader {
			ctx.Cue(CueFsync, 0)
		}
	}
}

func (m *Member) send(ctx *harness.Ctx, msgs []*pb.Message) {
	for _, msg := range msgs {
		to := msg.GetTo()
		if to == 0 || to > uint64(len(m.cfg.Peers)) {
			continue
		}
		ctx.Send(m.cfg.Peers[to-1], raftMsg{m: msg})
		if msg.GetType() == pb.MsgSnap {
			ctx.Mark("snapshot-sent")
			// The snapshot is handed to the transport; like etcd, report
			// it finished once sent (a lost one is probed again).
			m.rn.ReportSnapshot(to, raft.SnapshotFinish)
		}
	}
}

// noteLeadership reports a leadership change in a Ready as raft made it:
// the term is the one at the moment of the Ready (the member may step down
// again while the Ready's writes sync), and the leader's log is checked
// once the Ready's entries are in it.
func (m *Member) noteLeadership(ctx *harness.Ctx, rd *raft.Ready, term uint64) {
	if rd.SoftState == nil {
		return
	}
	isLeader := rd.SoftState.RaftState == raft.StateLeader
	campaigning := rd.SoftState.RaftState == raft.StateCandidate || rd.SoftState.RaftState == raft.StatePreCandidate
	if campaigning && !m.campaigning {
		ctx.Cue(CueCampaign, 0)
	}
	m.campaigning = campaigning
	if isLeader && !m.leader {
		ctx.Notef("became leader term=%d", term)
		if len(m.writes)+len(m.reads) > 0 {
			ctx.Mark("leader-change-under-load")
		}
		if s := m.cfg.Safety; s != nil {
			s.Leader(m.now(), m.cfg.ID, term)
			first, _ := m.storage.FirstIndex()
			s.LeaderLog(m.now(), m.cfg.ID, term, first, func(i uint64) (uint64, bool) {
				t, err := m.storage.Term(i)
				return t, err == nil
			})
		}
	}
	m.leader = isLeader
}

// finish completes a Ready whose writes are durable: send its messages,
// apply what committed, then Advance.
func (m *Member) finish(ctx *harness.Ctx, rd raft.Ready) {
	m.send(ctx, rd.Messages)
	if !raft.IsEmptySnap(rd.Snapshot) {
		kv, err := UnmarshalMVCC(rd.Snapshot.GetData())
		if err != nil {
			panic(fmt.Sprintf("snapshot data: %v", err))
		}
		m.kv = kv
		m.applied = rd.Snapshot.GetMetadata().GetIndex()
		m.snapIndex = m.applied
		m.confState = rd.Snapshot.GetMetadata().GetConfState()
		ctx.Notef("restored snapshot index=%d rev=%d", m.applied, m.kv.Rev())
		ctx.Mark("snapshot-restored")
		if s := m.cfg.Safety; s != nil {
			s.Reset(m.cfg.ID, m.applied)
		}
	}
	if m.cfg.Bugs.Has(BugAckBeforeCommit) {
		m.ackAppended(ctx, rd.Entries)
	}
	for _, e := range rd.CommittedEntries {
		m.apply(ctx, e, true)
	}
	for _, rs := range rd.ReadStates {
		if len(rs.RequestCtx) != 8 {
			continue
		}
		seq := binary.BigEndian.Uint64(rs.RequestCtx)
		if p := m.reads[seq]; p != nil && !p.indexed {
			p.indexed, p.index = true, rs.Index
			m.awaiting = append(m.awaiting, seq)
		}
	}
	m.serveReads(ctx)
	m.maybeSnapshot(ctx)
	m.rn.Advance(rd)
}

// ackAppended answers writes whose entries just reached this member's log,
// before they commit: the planted bug.
func (m *Member) ackAppended(ctx *harness.Ctx, ents []*pb.Entry) {
	for _, e := range ents {
		if e.GetType() != pb.EntryNormal || len(e.GetData()) == 0 {
			continue
		}
		p, err := decodeProposal(e.GetData())
		if err != nil || p.origin != m.cfg.ID {
			continue
		}
		w := m.writes[p.seq]
		if w == nil || w.replied {
			continue
		}
		// Predict the outcome on a copy of the current state.
		guess, _ := UnmarshalMVCC(m.kv.Marshal())
		res, _ := guess.Apply(w.txn)
		w.replied = true
		ctx.Send(w.client, Response{ID: w.id, Result: res, Member: m.cfg.ID})
	}
}

// apply applies one committed entry; reply says whether to answer the
// client that is waiting for it (not during replay at start).
func (m *Member) apply(ctx *harness.Ctx, e *pb.Entry, reply bool) {
	idx := e.GetIndex()
	if idx <= m.applied {
		return
	}
	switch e.GetType() {
	case pb.EntryConfChange:
		var cc pb.ConfChange
		if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
			panic(fmt.Sprintf("conf change: %v", err))
		}
		m.confState = m.rn.ApplyConfChange(&cc)
	case pb.EntryConfChangeV2:
		var cc pb.ConfChangeV2
		if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
			panic(fmt.Sprintf("conf change: %v", err))
		}
		m.confState = m.rn.ApplyConfChange(&cc)
	case pb.EntryNormal:
		if len(e.GetData()) > 0 {
			p, err := decodeProposal(e.GetData())
			if err != nil {
				panic(fmt.Sprintf("entry %d: %v", idx, err))
			}
			var res TxnResult
			var aerr error
			if p.compact > 0 {
				aerr = m.kv.Compact(p.compact)
				res = TxnResult{Succeeded: aerr == nil, Revision: m.kv.Rev()}
				ctx.Notef("compacted to revision %d: %v", p.compact, aerr)
			} else {
				res, aerr = m.kv.Apply(p.txn)
			}
			if reply && p.origin == m.cfg.ID {
				if w := m.writes[p.seq]; w != nil {
					delete(m.writes, p.seq)
					if !w.replied {
						ctx.Send(w.client, Response{ID: w.id, Err: errno(aerr), Result: res, Member: m.cfg.ID})
					}
				}
			}
			m.notifyWatches(ctx)
		}
	}
	m.applied = idx
	if s := m.cfg.Safety; s != nil {
		s.Applied(m.now(), m.cfg.ID, idx, e.GetTerm(), digest(int32(e.GetType()), e.GetData()), m.readyTerm)
	}
}

// serveReads answers the linearizable reads whose read index is applied.
func (m *Member) serveReads(ctx *harness.Ctx) {
	n := 0
	for _, seq := range m.awaiting {
		p := m.reads[seq]
		if p == nil {
			continue // timed out meanwhile
		}
		if p.index > m.applied {
			m.awaiting[n] = seq
			n++
			continue
		}
		delete(m.reads, seq)
		m.serve(ctx, p.client, p.id, p.txn)
	}
	m.awaiting = m.awaiting[:n]
}

// maybeSnapshot takes a snapshot every SnapshotCount applied entries and
// compacts the log (keeping CatchUpEntries), rewriting the WAL on disk.
func (m *Member) maybeSnapshot(ctx *harness.Ctx) {
	if m.applied-m.snapIndex < m.cfg.SnapshotCount {
		return
	}
	cs := m.confState
	if cs == nil {
		cs = &pb.ConfState{}
	}
	snap, err := m.storage.CreateSnapshot(m.applied, cs, m.kv.Marshal())
	if err != nil {
		return // raft.ErrSnapOutOfDate: a newer one exists
	}
	m.snapIndex = m.applied
	if m.applied > m.cfg.CatchUpEntries {
		compact := m.applied - m.cfg.CatchUpEntries
		if first, _ := m.storage.FirstIndex(); compact > first {
			if err := m.storage.Compact(compact); err != nil {
				panic(err)
			}
		}
	}
	d := ctx.Disk()
	d.Replace("snap", snap)
	first, _ := m.storage.FirstIndex()
	last, _ := m.storage.LastIndex()
	var recs []any
	if last >= first {
		ents, err := m.storage.Entries(first, last+1, 1<<62)
		if err != nil {
			panic(err)
		}
		for _, e := range ents {
			recs = append(recs, e)
		}
	}
	hs, _, _ := m.storage.InitialState()
	recs = append(recs, proto.Clone(hs))
	d.Replace("wal", recs...)
	ctx.Notef("snapshot index=%d compacted-to=%d", m.applied, first-1)
}

func (m *Member) openWatch(ctx *harness.Ctx, from harness.ProcID, req WatchRequest) {
	w := &watch{client: from, req: req, sent: req.FromRev - 1}
	if req.FromRev <= 0 {
		w.sent = m.kv.Rev()
	}
	if req.FromRev > 0 && req.FromRev <= m.kv.CompactRev() {
		ctx.Send(from, WatchResponse{ID: req.ID, Revision: m.kv.Rev(), Canceled: true, Err: CodeCompacted, Member: m.cfg.ID})
		return
	}
	m.watches = append(m.watches, w)
	m.sendEvents(ctx, w, true)
}

func (m *Member) notifyWatches(ctx *harness.Ctx) {
	for _, w := range m.watches {
		m.sendEvents(ctx, w, false)
	}
}

// sendEvents sends a watch every event after what it has seen; when the
// store has moved on with nothing for it and always is set, a progress
// notification instead.
func (m *Member) sendEvents(ctx *harness.Ctx, w *watch, always bool) {
	rev := m.kv.Rev()
	if w.sent >= rev {
		if always {
			ctx.Send(w.client, WatchResponse{ID: w.req.ID, Revision: rev, Member: m.cfg.ID})
		}
		return
	}
	evs, err := m.kv.Events(w.req.Key, w.req.Prefix, w.sent+1)
	if err != nil {
		ctx.Send(w.client, WatchResponse{ID: w.req.ID, Revision: rev, Canceled: true, Err: errno(err), Member: m.cfg.ID})
		return
	}
	w.sent = rev
	if len(evs) > 0 || always {
		ctx.Send(w.client, WatchResponse{ID: w.req.ID, Events: evs, Revision: rev, Member: m.cfg.ID})
	}
}

// traceLogger routes raft's log into the trace; nothing reaches stderr.
type traceLogger struct{ m *Member }

func (l *traceLogger) note(level, s string) {
	if l.m.ctx != nil && l.m.ctx.Tracing() {
		l.m.ctx.Notef("raft %s %s", level, s)
	}
}

func (l *traceLogger) Debug(v ...interface{})                 {}
func (l *traceLogger) Debugf(format string, v ...interface{}) {}
func (l *traceLogger) Info(v ...interface{})                  { l.note("info", fmt.Sprint(v...)) }
func (l *traceLogger) Infof(format string, v ...interface{}) {
	l.note("info", fmt.Sprintf(format, v...))
}
func (l *traceLogger) Warning(v ...interface{}) { l.note("warn", fmt.Sprint(v...)) }
func (l *traceLogger) Warningf(format string, v ...interface{}) {
	l.note("warn", fmt.Sprintf(format, v...))
}
func (l *traceLogger) Error(v ...interface{}) { l.note("error", fmt.Sprint(v...)) }
func (l *traceLogger) Errorf(format string, v ...interface{}) {
	l.note("error", fmt.Sprintf(format, v...))
}
func (l *traceLogger) Fatal(v ...interface{}) { panic("raft fatal: " + fmt.Sprint(v...)) }
func (l *traceLogger) Fatalf(format string, v ...interface{}) {
	panic("raft fatal: " + fmt.Sprintf(format, v...))
}
func (l *traceLogger) Panic(v ...interface{}) { panic("raft: " + fmt.Sprint(v...)) }
func (l *traceLogger) Panicf(format string, v ...interface{}) {
	panic("raft: " + fmt.Sprintf(format, v...))
}

// MemberProc is the process name of a member on its host.
const MemberProc = "etcd"

// raftPanic reports whether a panic was raised by raft itself (directly or
// through its logger), from the stack of the deferred function that
// recovered it: the frame right after the runtime's panic.
func raftPanic(stack []byte) bool {
	lines := strings.Split(string(stack), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "panic(") && i+2 < len(lines) {
			f := lines[i+2]
			return strings.Contains(f, "go.etcd.io/raft/") || strings.Contains(f, "(*traceLogger).Panic") ||
				strings.Contains(f, "(*traceLogger).Fatal")
		}
	}
	return false
}
