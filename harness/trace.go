package harness

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"time"
)

// TraceOptions say what the kernel does with its trace lines.
type TraceOptions struct {
	// Off disables the trace entirely: no line is formatted and the
	// result's TraceHash is empty. Only benchmarks want this.
	Off bool
	// File, if set, receives every line as it is produced.
	File io.Writer
	// Keep keeps the whole trace in memory (Result.Trace); determinism
	// tests compare it byte for byte.
	Keep bool
}

// tracer turns events into canonical lines, hashes them and optionally
// writes or keeps them. Lines are batched so that hashing and writing work
// on large blocks.
type tracer struct {
	on   bool
	h    hash.Hash
	buf  []byte
	file io.Writer
	keep bool
	all  []byte
	err  error
	n    uint64
}

const traceFlush = 64 << 10

func newTracer(o TraceOptions) *tracer {
	t := &tracer{on: !o.Off, file: o.File, keep: o.Keep}
	if t.on {
		t.h = sha256.New()
		t.buf = make([]byte, 0, traceFlush+4096)
	}
	return t
}

// begin starts a trace line at time at and returns the buffer to append to;
// the caller finishes it with end.
func (t *tracer) begin(at time.Duration) []byte {
	return append(appendTime(t.buf, at), ' ')
}

func (t *tracer) end(b []byte) {
	b = append(b, '\n')
	t.buf = b
	t.n++
	if len(b) >= traceFlush {
		t.flush()
	}
}

func (t *tracer) flush() {
	if !t.on || len(t.buf) == 0 {
		return
	}
	t.h.Write(t.buf)
	if t.keep {
		t.all = append(t.all, t.buf...)
	}
	if t.file != nil && t.err == nil {
		_, t.err = t.file.Write(t.buf)
	}
	t.buf = t.buf[:0]
}

// sum flushes and returns the hex SHA-256 of every line so far.
func (t *tracer) sum() string {
	if !t.on {
		return ""
	}
	t.flush()
	return hex.EncodeToString(t.h.Sum(nil))
}
