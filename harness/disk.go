package harness

import "time"

// The disk model. Each host has one disk holding named files of records.
// Writes land in the page cache first: they are visible to reads at once
// but volatile until a sync covering them completes, which takes the host's
// SyncLatency; syncs complete in the order they were issued, like one
// device queue. A host crash loses every write not yet durable; a process
// crash (kill, exit) does not, since the page cache survives it.
//
// Records are opaque values and are stored, not copied: a process must not
// modify a record after writing it.

type diskOpKind uint8

const (
	opAppend diskOpKind = iota + 1
	opReplace
	opRemove
)

type diskOp struct {
	seq  uint64
	file string
	kind diskOpKind
	recs []any
}

type disk struct {
	durable  map[string][]any
	pending  []diskOp
	nextSeq  uint64
	lastDone time.Duration // true time at which the last issued sync completes
}

func newDisk() disk { return disk{durable: map[string][]any{}} }

func (d *disk) write(file string, kind diskOpKind, recs []any) {
	d.nextSeq++
	d.pending = append(d.pending, diskOp{seq: d.nextSeq, file: file, kind: kind, recs: recs})
}

func applyOp(cur []any, op diskOp) []any {
	switch op.kind {
	case opAppend:
		return append(cur, op.recs...)
	case opReplace:
		return append([]any(nil), op.recs...)
	default:
		return nil
	}
}

func (d *disk) read(file string) []any {
	cur := d.durable[file]
	copied := false
	for _, op := range d.pending {
		if op.file != file {
			continue
		}
		if !copied {
			cur = append([]any(nil), cur...)
			copied = true
		}
		cur = applyOp(cur, op)
	}
	if !copied {
		cur = append([]any(nil), cur...)
	}
	return cur
}

// makeDurable applies every pending op up to seq to the durable image.
func (d *disk) makeDurable(seq uint64) {
	n := 0
	for _, op := range d.pending {
		if op.seq > seq {
			break
		}
		n++
		if v := applyOp(d.durable[op.file], op); v != nil {
			d.durable[op.file] = v
		} else {
			delete(d.durable, op.file)
		}
	}
	d.pending = append(d.pending[:0], d.pending[n:]...)
}

// crash drops every write not yet durable.
func (d *disk) crash() int {
	n := len(d.pending)
	d.pending = d.pending[:0]
	d.lastDone = 0 // the syncs in the device queue died with the power
	return n
}

// DiskView is one process's files on its host's disk; names are private to
// the process (stored as "process/file").
type DiskView struct {
	s *Sim
	p *proc
}

func (v DiskView) path(file string) string { return v.p.local + "/" + file }

func (v DiskView) disk() *disk { return &v.s.hosts[v.p.host].disk }

// Append adds records at the end of file.
func (v DiskView) Append(file string, recs ...any) {
	v.disk().write(v.path(file), opAppend, recs)
}

// Replace atomically replaces file's content (a write to a temporary file and
// a rename).
func (v DiskView) Replace(file string, recs ...any) {
	v.disk().write(v.path(file), opReplace, append([]any(nil), recs...))
}

// Remove deletes file.
func (v DiskView) Remove(file string) { v.disk().write(v.path(file), opRemove, nil) }

// Read returns the file's records as the process sees them (durable and
// pending writes alike). The slice is the caller's.
func (v DiskView) Read(file string) []any { return v.disk().read(v.path(file)) }

// Pending reports how many writes on the whole disk are not yet durable.
func (v DiskView) Pending() int { return len(v.disk().pending) }

// Sync asks for every write issued so far on this disk to become durable.
// When it is, the process gets an InputSynced step with tag and arg. A crash
// of the host before then loses the writes and the notification.
func (v DiskView) Sync(tag string, arg uint64) {
	s := v.s
	h := s.hosts[v.p.host]
	d := &h.disk
	done := s.now + h.syncLatency
	if d.lastDone > done {
		done = d.lastDone
	}
	d.lastDone = done
	r := syncReq{proc: v.p.id, inc: v.p.inc, upTo: d.nextSeq, tag: tag, arg: arg}
	var i uint32
	if n := len(s.freeSyncs); n > 0 {
		i = s.freeSyncs[n-1]
		s.freeSyncs = s.freeSyncs[:n-1]
		s.syncs[i] = r
	} else {
		s.syncs = append(s.syncs, r)
		i = uint32(len(s.syncs) - 1)
	}
	s.push(event{at: done, kind: evSynced, proc: v.p.id, inc: v.p.inc, ref: i, gen: h.inc})
}

// Durable returns the durable records of one of a process's files; checkers
// use it to look at what survived. file is "process/file".
func (s *Sim) Durable(hostName, file string) []any {
	return append([]any(nil), s.host(hostName).disk.durable[file]...)
}
