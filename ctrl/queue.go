package ctrl

import (
	"time"

	"hasim/harness"
)

// Backoff of a failing item, as controller-runtime's default rate limiter
// (client-go's ItemExponentialFailureRateLimiter): BackoffBase after the
// first failure, doubling with each further one, at most BackoffMax, until
// the item succeeds.
const (
	BackoffBase = 5 * time.Millisecond
	BackoffMax  = 1000 * time.Second
)

// tagRequeue is the timer of an item waiting to be added (AddAfter); its
// argument names the wait.
const tagRequeue = "ctrl-requeue"

// queue is client-go's rate-limited delaying work queue, as
// controller-runtime's controllers use it, on simulated time: an item
// added while queued is not queued twice; an item added while it is being
// processed is queued again when it is done; an item added with a delay
// waits on a timer of the process's clock (an earlier wait for the same
// item wins); a failing item waits longer each time until it is
// forgotten. Items are "namespace/name" strings.
type queue struct {
	items      []string
	dirty      map[string]bool
	processing map[string]bool
	// waiting holds the pending delayed add of each item; waits names
	// the item of each wait timer.
	waiting  map[string]wait
	waits    map[uint64]string
	waitSeq  uint64
	failures map[string]int
}

type wait struct {
	at    time.Duration // on the process's clock
	id    uint64
	timer harness.TimerID
}

func newQueue() queue {
	return queue{dirty: map[string]bool{}, processing: map[string]bool{}, waiting: map[string]wait{},
		waits: map[uint64]string{}, failures: map[string]int{}}
}

// Add queues item unless it is queued already; an item being processed is
// queued again when it is done.
func (q *queue) Add(item string) {
	if q.dirty[item] {
		return
	}
	q.dirty[item] = true
	if !q.processing[item] {
		q.items = append(q.items, item)
	}
}

// AddAfter adds item once d has passed on the process's clock.
func (q *queue) AddAfter(ctx *harness.Ctx, item string, d time.Duration) {
	if d <= 0 {
		q.Add(item)
		return
	}
	at := ctx.Now() + d
	if w, ok := q.waiting[item]; ok {
		if w.at <= at {
			return
		}
		ctx.Cancel(w.timer)
		delete(q.waits, w.id)
	}
	q.waitSeq++
	q.waits[q.waitSeq] = item
	q.waiting[item] = wait{at: at, id: q.waitSeq, timer: ctx.After(d, tagRequeue, q.waitSeq)}
}

// AddRateLimited adds item after its backoff, which grows with each call
// until Forget.
func (q *queue) AddRateLimited(ctx *harness.Ctx, item string) {
	q.AddAfter(ctx, item, q.backoff(item))
}

// backoff returns the item's next backoff and counts the failure.
func (q *queue) backoff(item string) time.Duration {
	n := q.failures[item]
	q.failures[item] = n + 1
	if n >= 40 { // 5ms·2^40 is far past the maximum
		return BackoffMax
	}
	return min(BackoffBase<<n, BackoffMax)
}

// Forget resets the item's backoff.
func (q *queue) Forget(item string) { delete(q.failures, item) }

// Len is the number of items ready to be handed out.
func (q *queue) Len() int { return len(q.items) }

// Get hands out the next item, which is being processed until Done.
func (q *queue) Get() (string, bool) {
	if len(q.items) == 0 {
		return "", false
	}
	item := q.items[0]
	q.items = q.items[1:]
	delete(q.dirty, item)
	q.processing[item] = true
	return item, true
}

// Done ends the processing of item, queueing it again if it was added
// meanwhile.
func (q *queue) Done(item string) {
	delete(q.processing, item)
	if q.dirty[item] {
		q.items = append(q.items, item)
	}
}

// Due takes the queue's timer input: it adds the item whose wait ended and
// reports whether in was the queue's.
func (q *queue) Due(in harness.Input) bool {
	if in.Kind != harness.InputTimer || in.Tag != tagRequeue {
		return false
	}
	item, ok := q.waits[in.Arg]
	delete(q.waits, in.Arg)
	if ok && q.waiting[item].id == in.Arg {
		delete(q.waiting, item)
		q.Add(item)
	}
	return true
}
