package harness

import "time"

type evKind uint8

const (
	evDeliver evKind = iota + 1 // a message reaches its destination host
	evTimer                     // a process timer reaches its local deadline
	evSynced                    // a disk sync completes
	evFault                     // a schedule entry (or the undoing of one) fires
	evStart                     // a process that exited is restarted
	evProbe                     // a scenario callback (observation, workload tick)
	evRefused                   // a refused message returns to its sender
)

// event is one entry of the kernel's queue. It is a small value: what it
// refers to lives in the kernel's slabs (messages, timers, syncs, faults),
// indexed by ref.
type event struct {
	at   time.Duration
	seq  uint64
	kind evKind
	proc ProcID
	inc  uint32 // incarnation of proc the event belongs to
	ref  uint32 // slab index
	gen  uint32 // timer event version
}

func (e *event) before(o *event) bool {
	if e.at != o.at {
		return e.at < o.at
	}
	return e.seq < o.seq
}

// eventQueue is a 4-ary min-heap on (at, seq): shallower than a binary
// heap, so a pop touches fewer cache lines. Sequence numbers are unique, so
// the order is total and never depends on the heap's internals.
type eventQueue struct{ h []event }

func (q *eventQueue) Len() int { return len(q.h) }

func (q *eventQueue) push(e event) {
	q.h = append(q.h, e)
	h := q.h
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 4
		if !h[i].before(&h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *eventQueue) peek() *event { return &q.h[0] }

func (q *eventQueue) pop() event {
	h := q.h
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	i := 0
	for {
		first := 4*i + 1
		if first >= n {
			break
		}
		m := first
		last := min(first+4, n)
		for c := first + 1; c < last; c++ {
			if h[c].before(&h[m]) {
				m = c
			}
		}
		if !h[m].before(&h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	q.h = h
	return top
}
