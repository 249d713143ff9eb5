package ctrl

import (
	"slices"
	"testing"
	"time"
)

// The queue hands out each item once at a time, as client-go's does: an
// item added while queued stays queued once; added while processed, it is
// queued again when done.
func TestQueueDeduplicates(t *testing.T) {
	q := newQueue()
	q.Add("ns/a")
	q.Add("ns/b")
	q.Add("ns/a")
	if q.Len() != 2 {
		t.Fatalf("%d queued, want 2", q.Len())
	}
	a, _ := q.Get()
	q.Add("ns/a") // while processing
	if q.Len() != 1 {
		t.Fatalf("%d queued while ns/a is processed, want 1", q.Len())
	}
	q.Done(a)
	var order []string
	for {
		item, ok := q.Get()
		if !ok {
			break
		}
		order = append(order, item)
		q.Done(item)
	}
	if want := []string{"ns/b", "ns/a"}; a != "ns/a" || !slices.Equal(order, want) {
		t.Fatalf("got %s then %v, want ns/a then %v", a, order, want)
	}
}

// A failing item backs off 5ms, 10ms, 20ms, ... up to 1000s, and starts
// again from 5ms once forgotten.
func TestQueueBackoff(t *testing.T) {
	q := newQueue()
	for i, want := range []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond} {
		if got := q.backoff("ns/a"); got != want {
			t.Fatalf("failure %d: %s, want %s", i+1, got, want)
		}
	}
	if got := q.backoff("ns/b"); got != BackoffBase {
		t.Fatalf("another item: %s", got)
	}
	for range 100 {
		q.backoff("ns/a")
	}
	if got := q.backoff("ns/a"); got != BackoffMax {
		t.Fatalf("after many failures: %s, want %s", got, BackoffMax)
	}
	q.Forget("ns/a")
	if got := q.backoff("ns/a"); got != BackoffBase {
		t.Fatalf("after Forget: %s", got)
	}
}
