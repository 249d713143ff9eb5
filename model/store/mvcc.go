// MVCC key-value state machine: the pure, deterministic store that the raft
// member applies committed entries to, with etcd's mvcc semantics (one
// cluster-wide revision, per-key create/mod revision and version, ranges at
// past revisions, transactions, compaction and a watchable event log).

package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// KeyValue is one version of a key, as etcd's mvccpb.KeyValue.
type KeyValue struct {
	Key            string
	Value          string
	CreateRevision int64
	ModRevision    int64
	Version        int64
}

// String renders kv canonically on one line.
func (kv KeyValue) String() string {
	return fmt.Sprintf("k=%s v=%s create=%d mod=%d ver=%d",
		strconv.Quote(kv.Key), strconv.Quote(kv.Value), kv.CreateRevision, kv.ModRevision, kv.Version)
}

// OpKind is the kind of a request operation.
type OpKind uint8

// Operation kinds.
const (
	OpRange OpKind = iota + 1
	OpPut
	OpDelete
)

func (k OpKind) String() string {
	switch k {
	case OpRange:
		return "range"
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	}
	return "op(" + strconv.Itoa(int(k)) + ")"
}

// Op is one operation of a transaction (or a standalone Range).
//
// Fields that do not belong to the kind must be zero (Apply and Range
// reject them): Value only on a Put; Revision and Limit only on a Range;
// PrevKV only on a Put or Delete; Prefix only on a Range or Delete.
type Op struct {
	Kind     OpKind
	Key      string
	Prefix   bool   // Range/Delete: every key with prefix Key
	Value    string // Put
	Revision int64  // Range: read at this revision (0: latest)
	Limit    int64  // Range: at most this many keys (0: no limit)
	PrevKV   bool   // Put/Delete: return the previous value(s)
}

// String renders o canonically on one line: the kind, the key, then every
// set field in a fixed order (a Put always shows its value).
func (o Op) String() string {
	var b strings.Builder
	b.WriteString(o.Kind.String())
	b.WriteString(" k=")
	b.WriteString(strconv.Quote(o.Key))
	if o.Prefix {
		b.WriteString(" prefix")
	}
	if o.Kind == OpPut || o.Value != "" {
		b.WriteString(" v=")
		b.WriteString(strconv.Quote(o.Value))
	}
	if o.Revision != 0 {
		b.WriteString(" rev=")
		b.WriteString(strconv.FormatInt(o.Revision, 10))
	}
	if o.Limit != 0 {
		b.WriteString(" limit=")
		b.WriteString(strconv.FormatInt(o.Limit, 10))
	}
	if o.PrevKV {
		b.WriteString(" prevkv")
	}
	return b.String()
}

// CompareTarget is the field of a key a Compare looks at.
type CompareTarget uint8

// Compare targets.
const (
	TargetVersion CompareTarget = iota + 1
	TargetCreate
	TargetMod
	TargetValue
)

// CompareResult is the relation a Compare requires.
type CompareResult uint8

// Compare relations.
const (
	Equal CompareResult = iota + 1
	NotEqual
	Less
	Greater
)

// Compare is one guard of a transaction: Target(Key) Result Num (or Value).
type Compare struct {
	Key    string
	Target CompareTarget
	Result CompareResult
	Num    int64  // for version/create/mod
	Value  string // for value
}

// mvccCompareString renders c, e.g. `mod("a")=5` or `value("b")!="x"`.
func mvccCompareString(c Compare) string {
	var b strings.Builder
	switch c.Target {
	case TargetVersion:
		b.WriteString("ver")
	case TargetCreate:
		b.WriteString("create")
	case TargetMod:
		b.WriteString("mod")
	case TargetValue:
		b.WriteString("value")
	default:
		b.WriteString("target" + strconv.Itoa(int(c.Target)))
	}
	b.WriteString("(")
	b.WriteString(strconv.Quote(c.Key))
	b.WriteString(")")
	switch c.Result {
	case Equal:
		b.WriteString("=")
	case NotEqual:
		b.WriteString("!=")
	case Less:
		b.WriteString("<")
	case Greater:
		b.WriteString(">")
	default:
		b.WriteString("?" + strconv.Itoa(int(c.Result)) + "?")
	}
	if c.Target == TargetValue {
		b.WriteString(strconv.Quote(c.Value))
	} else {
		b.WriteString(strconv.FormatInt(c.Num, 10))
	}
	return b.String()
}

// Txn is an etcd transaction: if every Compare holds, Success runs, else
// Failure.
type Txn struct {
	Compares []Compare
	Success  []Op
	Failure  []Op
}

// String renders t canonically on one line, e.g.
// `txn if(mod("a")=0) then(put k="a" v="x") else(range k="a")`.
func (t Txn) String() string {
	var b strings.Builder
	b.WriteString("txn if(")
	for i, c := range t.Compares {
		if i > 0 {
			b.WriteString(" && ")
		}
		b.WriteString(mvccCompareString(c))
	}
	b.WriteString(") then(")
	mvccWriteOps(&b, t.Success)
	b.WriteString(") else(")
	mvccWriteOps(&b, t.Failure)
	b.WriteString(")")
	return b.String()
}

func mvccWriteOps(b *strings.Builder, ops []Op) {
	for i, o := range ops {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(o.String())
	}
}

// IsWrite reports whether t has a Put or Delete in either branch.
func (t Txn) IsWrite() bool {
	for _, ops := range [2][]Op{t.Success, t.Failure} {
		for _, o := range ops {
			if o.Kind == OpPut || o.Kind == OpDelete {
				return true
			}
		}
	}
	return false
}

// OpResult is the outcome of one Op.
type OpResult struct {
	KVs     []KeyValue // Range: matching keys in key order; Put/Delete with PrevKV: previous values
	Count   int64      // Range: total matching before Limit
	More    bool       // Range: Limit cut the result
	Deleted int64      // Delete: keys deleted
}

// TxnResult is the outcome of a Txn.
type TxnResult struct {
	Succeeded bool
	Results   []OpResult
	Revision  int64 // store revision after the txn (the header revision)
}

// Errors of reads and compactions at revisions the store cannot serve.
var (
	ErrCompacted = errors.New("mvcc: required revision has been compacted")
	ErrFutureRev = errors.New("mvcc: required revision is a future revision")
)

// errMVCCInvalid is wrapped by every malformed-request error.
var errMVCCInvalid = errors.New("mvcc: invalid request")

// EventType is the kind of a watch event.
type EventType uint8

// Event types.
const (
	EventPut EventType = iota + 1
	EventDelete
)

// Event is one write as seen by a watcher.
type Event struct {
	Type EventType
	KV   KeyValue // for a delete: Key and ModRevision (= the delete's revision) set
}

// String renders e canonically on one line.
func (e Event) String() string {
	switch e.Type {
	case EventPut:
		return "put " + e.KV.String()
	case EventDelete:
		return fmt.Sprintf("delete k=%s mod=%d", strconv.Quote(e.KV.Key), e.KV.ModRevision)
	}
	return "event(" + strconv.Itoa(int(e.Type)) + ") " + e.KV.String()
}

// mvccEntry is one revision of a key: a value or a tombstone. Its ModRevision
// is rev.
type mvccEntry struct {
	rev     int64
	deleted bool
	value   string
	create  int64
	version int64
}

func (e mvccEntry) kv(key string) KeyValue {
	return KeyValue{Key: key, Value: e.value, CreateRevision: e.create, ModRevision: e.rev, Version: e.version}
}

// mvccKeyHist is the retained history of one key, oldest first, never empty.
type mvccKeyHist struct {
	key     string
	entries []mvccEntry
}

// at returns the key's live version as of rev.
func (h *mvccKeyHist) at(rev int64) (mvccEntry, bool) {
	i := sort.Search(len(h.entries), func(i int) bool { return h.entries[i].rev > rev })
	if i == 0 || h.entries[i-1].deleted {
		return mvccEntry{}, false
	}
	return h.entries[i-1], true
}

// latest returns the key's newest live version.
func (h *mvccKeyHist) latest() (mvccEntry, bool) {
	if len(h.entries) == 0 {
		return mvccEntry{}, false
	}
	e := h.entries[len(h.entries)-1]
	return e, !e.deleted
}

// set records e as the key's newest entry; a second write of the same
// revision (within one txn) replaces the first.
func (h *mvccKeyHist) set(e mvccEntry) {
	if n := len(h.entries); n > 0 && h.entries[n-1].rev == e.rev {
		h.entries[n-1] = e
		return
	}
	h.entries = append(h.entries, e)
}

// MVCC is the multi-version key-value store. It is not safe for concurrent
// use (simulation code has one goroutine).
type MVCC struct {
	rev        int64
	compactRev int64
	keys       []*mvccKeyHist          // sorted by key
	index      map[string]*mvccKeyHist // lookup only; never iterated
	events     []Event                 // revision order; revisions > compactRev
}

// NewMVCC returns an empty store at revision 1.
func NewMVCC() *MVCC {
	return &MVCC{rev: 1, index: map[string]*mvccKeyHist{}}
}

// Rev returns the current revision (1 for an empty store).
func (s *MVCC) Rev() int64 { return s.rev }

// CompactRev returns the revision of the last compaction (0 if none).
func (s *MVCC) CompactRev() int64 { return s.compactRev }

// span returns the half-open index range of s.keys matching key (or every
// key with prefix key).
func (s *MVCC) span(key string, prefix bool) (int, int) {
	n := len(s.keys)
	lo := sort.Search(n, func(i int) bool { return s.keys[i].key >= key })
	if !prefix {
		if lo < n && s.keys[lo].key == key {
			return lo, lo + 1
		}
		return lo, lo
	}
	hi := lo + sort.Search(n-lo, func(i int) bool { return !strings.HasPrefix(s.keys[lo+i].key, key) })
	return lo, hi
}

// hist returns key's history, creating an empty one if create is set.
func (s *MVCC) hist(key string, create bool) *mvccKeyHist {
	if h := s.index[key]; h != nil || !create {
		return h
	}
	h := &mvccKeyHist{key: key}
	i := sort.Search(len(s.keys), func(i int) bool { return s.keys[i].key >= key })
	s.keys = append(s.keys, nil)
	copy(s.keys[i+1:], s.keys[i:])
	s.keys[i] = h
	s.index[key] = h
	return h
}

// mvccValidateOp rejects a malformed op.
//
// Deviation: etcd reads a negative revision as the latest one and a
// negative limit as no limit; the model refuses both as malformed.
// (etcd_diff_test.go compares the model with a real etcd and pins each
// deviation named in this file.)
func mvccValidateOp(o Op) error {
	switch o.Kind {
	case OpRange, OpPut, OpDelete:
	default:
		return fmt.Errorf("%w: unknown op kind %d", errMVCCInvalid, o.Kind)
	}
	switch {
	case o.Key == "" && !o.Prefix:
		return fmt.Errorf("%w: %s: empty key", errMVCCInvalid, o)
	case o.Kind == OpPut && o.Prefix:
		return fmt.Errorf("%w: %s: prefix on a put", errMVCCInvalid, o)
	case o.Kind != OpPut && o.Value != "":
		return fmt.Errorf("%w: %s: value on a %s", errMVCCInvalid, o, o.Kind)
	case o.Kind != OpRange && (o.Revision != 0 || o.Limit != 0):
		return fmt.Errorf("%w: %s: revision or limit on a %s", errMVCCInvalid, o, o.Kind)
	case o.Kind == OpRange && o.PrevKV:
		return fmt.Errorf("%w: %s: prevkv on a range", errMVCCInvalid, o)
	case o.Revision < 0 || o.Limit < 0:
		return fmt.Errorf("%w: %s: negative revision or limit", errMVCCInvalid, o)
	}
	return nil
}

// mvccValidateTxn rejects a malformed txn.
//
// Deviation: etcd refuses a branch that puts one key twice, or puts a key
// that a delete of the same branch covers ("duplicate key given in txn
// request"); the model applies it, each write in turn at the txn's one
// revision (the last put of a key wins). etcd also caps a txn at 128 ops
// (--max-txn-ops) and a request at 1.5 MiB; the model has no caps.
// hasim's clients send none of these.
func mvccValidateTxn(t Txn) error {
	for _, c := range t.Compares {
		if c.Target < TargetVersion || c.Target > TargetValue {
			return fmt.Errorf("%w: unknown compare target %d", errMVCCInvalid, c.Target)
		}
		if c.Result < Equal || c.Result > Greater {
			return fmt.Errorf("%w: unknown compare result %d", errMVCCInvalid, c.Result)
		}
	}
	for _, ops := range [2][]Op{t.Success, t.Failure} {
		for _, o := range ops {
			if err := mvccValidateOp(o); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkReadRev reports whether a read at rev (0: latest) can be served.
func (s *MVCC) checkReadRev(rev int64) error {
	switch {
	case rev > s.rev:
		return ErrFutureRev
	case rev > 0 && rev < s.compactRev:
		return ErrCompacted
	}
	return nil
}

// holds evaluates one Compare against the current state.
func (s *MVCC) holds(c Compare) bool {
	var e mvccEntry
	ok := false
	if h := s.index[c.Key]; h != nil {
		if e, ok = h.latest(); !ok {
			e = mvccEntry{} // deleted: compares as missing
		}
	}
	var cmp int
	switch c.Target {
	case TargetValue:
		if !ok {
			return false // a missing key has no value to compare
		}
		cmp = strings.Compare(e.value, c.Value)
	case TargetVersion:
		cmp = mvccCmpInt(e.version, c.Num)
	case TargetCreate:
		cmp = mvccCmpInt(e.create, c.Num)
	case TargetMod:
		cmp = mvccCmpInt(e.rev, c.Num)
	default:
		return false
	}
	switch c.Result {
	case Equal:
		return cmp == 0
	case NotEqual:
		return cmp != 0
	case Less:
		return cmp < 0
	case Greater:
		return cmp > 0
	}
	return false
}

func mvccCmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Apply executes t atomically. A malformed txn, or a Range of the executed
// branch at a compacted or future revision, fails with an error and changes
// nothing. The revision goes up by one only if the executed branch actually
// wrote (a Put, or a Delete that removed something).
func (s *MVCC) Apply(t Txn) (TxnResult, error) {
	if err := mvccValidateTxn(t); err != nil {
		return TxnResult{Revision: s.rev}, err
	}
	ok := true
	for _, c := range t.Compares {
		if !s.holds(c) {
			ok = false
			break
		}
	}
	ops := t.Failure
	if ok {
		ops = t.Success
	}
	for _, o := range ops {
		if o.Kind == OpRange {
			if err := s.checkReadRev(o.Revision); err != nil {
				return TxnResult{Revision: s.rev}, err
			}
		}
	}

	newRev := s.rev + 1
	wrote := false
	var evs []Event
	results := make([]OpResult, 0, len(ops))
	for _, o := range ops {
		var r OpResult
		switch o.Kind {
		case OpRange:
			at := o.Revision
			if at == 0 {
				at = s.rev
				if wrote {
					at = newRev // read your own writes
				}
			}
			r = s.rangeAt(o, at)
		case OpPut:
			h := s.hist(o.Key, true)
			prev, had := h.latest()
			e := mvccEntry{rev: newRev, value: o.Value, create: newRev, version: 1}
			if had {
				e.create, e.version = prev.create, prev.version+1
				if o.PrevKV {
					r.KVs = []KeyValue{prev.kv(o.Key)}
				}
			}
			h.set(e)
			evs = append(evs, Event{Type: EventPut, KV: e.kv(o.Key)})
			wrote = true
		case OpDelete:
			lo, hi := s.span(o.Key, o.Prefix)
			for _, h := range s.keys[lo:hi] {
				prev, live := h.latest()
				if !live {
					continue
				}
				if o.PrevKV {
					r.KVs = append(r.KVs, prev.kv(h.key))
				}
				h.set(mvccEntry{rev: newRev, deleted: true})
				evs = append(evs, Event{Type: EventDelete, KV: KeyValue{Key: h.key, ModRevision: newRev}})
				r.Deleted++
				wrote = true
			}
		}
		results = append(results, r)
	}
	if wrote {
		s.rev = newRev
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].KV.Key < evs[j].KV.Key })
		s.events = append(s.events, evs...)
	}
	return TxnResult{Succeeded: ok, Results: results, Revision: s.rev}, nil
}

// rangeAt reads the keys of o as of revision rev.
func (s *MVCC) rangeAt(o Op, rev int64) OpResult {
	var r OpResult
	lo, hi := s.span(o.Key, o.Prefix)
	for _, h := range s.keys[lo:hi] {
		e, ok := h.at(rev)
		if !ok {
			continue
		}
		r.Count++
		if o.Limit > 0 && int64(len(r.KVs)) >= o.Limit {
			r.More = true
			continue
		}
		r.KVs = append(r.KVs, e.kv(h.key))
	}
	return r
}

// Range reads outside a transaction (o.Kind must be OpRange).
func (s *MVCC) Range(o Op) (OpResult, error) {
	if o.Kind != OpRange {
		return OpResult{}, fmt.Errorf("%w: %s: not a range", errMVCCInvalid, o)
	}
	if err := mvccValidateOp(o); err != nil {
		return OpResult{}, err
	}
	if err := s.checkReadRev(o.Revision); err != nil {
		return OpResult{}, err
	}
	at := o.Revision
	if at == 0 {
		at = s.rev
	}
	return s.rangeAt(o, at), nil
}

// Compact discards history no read at rev or later needs: for each key,
// everything older than its latest version at rev (and that version too if
// it is a tombstone), keys left with no history, and events at or before
// rev (a watch must start after the compaction revision).
//
// Deviation: etcd's compaction revision starts at -1, so there compacting
// a fresh store at revision 0 succeeds (and changes nothing); the model's
// starts at 0 (CompactRev's "none yet") and answers ErrCompacted.
func (s *MVCC) Compact(rev int64) error {
	if rev > s.rev {
		return ErrFutureRev
	}
	if rev <= s.compactRev {
		return ErrCompacted
	}
	s.compactRev = rev
	kept := make([]*mvccKeyHist, 0, len(s.keys))
	for _, h := range s.keys {
		i := sort.Search(len(h.entries), func(i int) bool { return h.entries[i].rev > rev })
		start := i
		if i > 0 && !h.entries[i-1].deleted {
			start = i - 1
		}
		if start > 0 {
			h.entries = append([]mvccEntry(nil), h.entries[start:]...)
		}
		if len(h.entries) == 0 {
			delete(s.index, h.key)
			continue
		}
		kept = append(kept, h)
	}
	s.keys = kept
	j := sort.Search(len(s.events), func(i int) bool { return s.events[i].KV.ModRevision > rev })
	if j > 0 {
		s.events = append([]Event(nil), s.events[j:]...)
	}
	return nil
}

// Events returns every event on key (or every key with prefix key) with
// revision >= fromRev, in revision order (key order within a revision).
// fromRev 0 means "from the next revision on" and returns nothing; fromRev
// at or below the compaction revision fails with ErrCompacted.
func (s *MVCC) Events(key string, prefix bool, fromRev int64) ([]Event, error) {
	switch {
	case fromRev < 0:
		return nil, fmt.Errorf("%w: negative revision %d", errMVCCInvalid, fromRev)
	case fromRev == 0:
		return nil, nil
	case fromRev <= s.compactRev:
		return nil, ErrCompacted
	}
	i := sort.Search(len(s.events), func(i int) bool { return s.events[i].KV.ModRevision >= fromRev })
	var out []Event
	for _, e := range s.events[i:] {
		if e.KV.Key == key || (prefix && strings.HasPrefix(e.KV.Key, key)) {
			out = append(out, e)
		}
	}
	return out, nil
}

// Encoding (all integers unsigned varints, strings length-prefixed):
//
//	magic
//	rev compactRev
//	nkeys { key nentries { rev kind(0 put, 1 tombstone) [value create version] } }
//	nevents { type key mod [value create version] }
const mvccMagic = "hasim-mvcc/1\n"

// Marshal returns the canonical bytes of the whole state.
func (s *MVCC) Marshal() []byte {
	b := []byte(mvccMagic)
	b = binary.AppendUvarint(b, uint64(s.rev))
	b = binary.AppendUvarint(b, uint64(s.compactRev))
	b = binary.AppendUvarint(b, uint64(len(s.keys)))
	for _, h := range s.keys {
		b = mvccAppendString(b, h.key)
		b = binary.AppendUvarint(b, uint64(len(h.entries)))
		for _, e := range h.entries {
			b = binary.AppendUvarint(b, uint64(e.rev))
			if e.deleted {
				b = append(b, 1)
				continue
			}
			b = append(b, 0)
			b = mvccAppendString(b, e.value)
			b = binary.AppendUvarint(b, uint64(e.create))
			b = binary.AppendUvarint(b, uint64(e.version))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(s.events)))
	for _, e := range s.events {
		b = append(b, byte(e.Type))
		b = mvccAppendString(b, e.KV.Key)
		b = binary.AppendUvarint(b, uint64(e.KV.ModRevision))
		if e.Type == EventPut {
			b = mvccAppendString(b, e.KV.Value)
			b = binary.AppendUvarint(b, uint64(e.KV.CreateRevision))
			b = binary.AppendUvarint(b, uint64(e.KV.Version))
		}
	}
	return b
}

// Hash returns the hex SHA-256 of Marshal().
func (s *MVCC) Hash() string {
	sum := sha256.Sum256(s.Marshal())
	return hex.EncodeToString(sum[:])
}

func mvccAppendString(b []byte, v string) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// mvccDecoder reads the encoding; the first error sticks.
type mvccDecoder struct {
	b   []byte
	err error
}

func (d *mvccDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("mvcc: corrupt state: "+format, args...)
	}
}

func (d *mvccDecoder) int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > math.MaxInt64 {
		d.fail("bad integer")
		return 0
	}
	d.b = d.b[n:]
	return int64(v)
}

// count reads a number of items that each take at least one byte.
func (d *mvccDecoder) count() int {
	n := d.int()
	if n > int64(len(d.b)) {
		d.fail("count %d exceeds remaining %d bytes", n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *mvccDecoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *mvccDecoder) string() string {
	n := d.int()
	if d.err != nil {
		return ""
	}
	if n > int64(len(d.b)) {
		d.fail("string length %d exceeds remaining %d bytes", n, len(d.b))
		return ""
	}
	v := string(d.b[:n])
	d.b = d.b[n:]
	return v
}

// UnmarshalMVCC rebuilds a store from Marshal's bytes. It checks the
// encoding and the store's invariants and rejects anything Marshal would not
// have produced.
func UnmarshalMVCC(b []byte) (*MVCC, error) {
	if !bytes.HasPrefix(b, []byte(mvccMagic)) {
		return nil, errors.New("mvcc: corrupt state: bad magic")
	}
	d := &mvccDecoder{b: b[len(mvccMagic):]}
	s := &MVCC{index: map[string]*mvccKeyHist{}}
	s.rev = d.int()
	s.compactRev = d.int()
	if d.err == nil && (s.rev < 1 || s.compactRev > s.rev) {
		d.fail("revision %d, compact revision %d", s.rev, s.compactRev)
	}
	nkeys := d.count()
	for i := 0; i < nkeys && d.err == nil; i++ {
		h := &mvccKeyHist{key: d.string()}
		if len(s.keys) > 0 && h.key <= s.keys[len(s.keys)-1].key {
			d.fail("key %q out of order", h.key)
		}
		n := d.count()
		if d.err == nil && n == 0 {
			d.fail("key %q without history", h.key)
		}
		h.entries = make([]mvccEntry, 0, n)
		for j := 0; j < n && d.err == nil; j++ {
			e := mvccEntry{rev: d.int()}
			switch d.byte() {
			case 0:
				e.value = d.string()
				e.create = d.int()
				e.version = d.int()
			case 1:
				e.deleted = true
			default:
				d.fail("key %q: bad entry kind", h.key)
			}
			if d.err == nil {
				mvccCheckEntry(d, s, h, e)
			}
			h.entries = append(h.entries, e)
		}
		s.keys = append(s.keys, h)
		s.index[h.key] = h
	}
	nev := d.count()
	for i := 0; i < nev && d.err == nil; i++ {
		var e Event
		e.Type = EventType(d.byte())
		e.KV.Key = d.string()
		e.KV.ModRevision = d.int()
		switch e.Type {
		case EventPut:
			e.KV.Value = d.string()
			e.KV.CreateRevision = d.int()
			e.KV.Version = d.int()
		case EventDelete:
		default:
			d.fail("bad event type %d", e.Type)
		}
		if d.err != nil {
			break
		}
		r := e.KV.ModRevision
		switch {
		case r <= s.compactRev || r > s.rev:
			d.fail("event revision %d outside (%d, %d]", r, s.compactRev, s.rev)
		case e.Type == EventPut && (e.KV.CreateRevision < 2 || e.KV.CreateRevision > r || e.KV.Version < 1):
			d.fail("event %s inconsistent", e)
		case len(s.events) > 0:
			last := s.events[len(s.events)-1].KV
			if r < last.ModRevision || (r == last.ModRevision && e.KV.Key < last.Key) {
				d.fail("event %s out of order", e)
			}
		}
		s.events = append(s.events, e)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	if !bytes.Equal(s.Marshal(), b) {
		return nil, errors.New("mvcc: corrupt state: not in canonical form")
	}
	return s, nil
}

// mvccCheckEntry checks e against the entries of h before it and the store's
// revisions.
func mvccCheckEntry(d *mvccDecoder, s *MVCC, h *mvccKeyHist, e mvccEntry) {
	if e.rev < 2 || e.rev > s.rev {
		d.fail("key %q: revision %d outside [2, %d]", h.key, e.rev, s.rev)
		return
	}
	n := len(h.entries)
	if n > 0 && e.rev <= h.entries[n-1].rev {
		d.fail("key %q: revision %d out of order", h.key, e.rev)
		return
	}
	if e.rev <= s.compactRev && (n > 0 || e.deleted) {
		d.fail("key %q: history at revision %d kept past compaction at %d", h.key, e.rev, s.compactRev)
		return
	}
	if e.deleted {
		return
	}
	if e.version < 1 || e.create < 2 || e.create > e.rev || (e.version == 1 && e.create != e.rev) {
		d.fail("key %q: bad version %d or create revision %d at %d", h.key, e.version, e.create, e.rev)
		return
	}
	// A version is either a (re)creation at its own revision, or follows a
	// live version of the same generation; history older than the
	// compaction revision may be gone.
	if e.create == e.rev {
		return
	}
	switch {
	case n == 0 && e.rev > s.compactRev:
		d.fail("key %q: first version at %d has create revision %d", h.key, e.rev, e.create)
	case n > 0 && (h.entries[n-1].deleted || e.create != h.entries[n-1].create || e.version <= h.entries[n-1].version):
		d.fail("key %q: revision %d does not follow %d", h.key, e.rev, h.entries[n-1].rev)
	}
}
