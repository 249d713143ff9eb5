package kube

import (
	"slices"

	"hasim/model/store"
)

// cache is an API server's watch cache: the newest state of every object it
// has heard of from etcd, at revision rev, and a window of the latest
// events per resource for watchers that resume from a resourceVersion.
// It is as stale as the etcd watch feeding it.
type cache struct {
	size  int
	rev   int64
	ready bool
	kinds map[Kind]*kindCache
	// served: every kind the server serves (built-in and registered),
	// each with its window from the list on.
	served []Kind
}

type kindCache struct {
	objs   map[string]Object
	names  []string // sorted
	events []cacheEvent
	// since: every event of this kind after this revision is in events.
	since int64
}

type cacheEvent struct {
	Type EventType
	Obj  Object
}

func (c *cache) init(size int, resources []Resource) {
	c.size = size
	c.kinds = map[Kind]*kindCache{}
	c.served = append([]Kind(nil), Kinds...)
	for _, r := range resources {
		c.served = append(c.served, r.Kind)
	}
}

// reset empties the cache for a list at revision rev.
func (c *cache) reset(rev int64) {
	c.rev, c.ready = rev, true
	clear(c.kinds)
	for _, k := range c.served {
		c.kinds[k] = &kindCache{objs: map[string]Object{}, since: rev}
	}
}

func (c *cache) kind(k Kind) *kindCache {
	kc := c.kinds[k]
	if kc == nil {
		kc = &kindCache{objs: map[string]Object{}, since: c.rev}
		c.kinds[k] = kc
	}
	return kc
}

// load adds an object of the initial list.
func (c *cache) load(o Object) {
	kc := c.kind(o.Kind)
	if _, ok := kc.objs[o.Name]; !ok {
		i, _ := slices.BinarySearch(kc.names, o.Name)
		kc.names = slices.Insert(kc.names, i, o.Name)
	}
	kc.objs[o.Name] = o
}

func (c *cache) get(k Kind, name string) (Object, bool) {
	o, ok := c.kind(k).objs[name]
	return o, ok
}

// list returns a kind's objects in name order.
func (c *cache) list(k Kind) []Object {
	kc := c.kind(k)
	out := make([]Object, 0, len(kc.names))
	for _, n := range kc.names {
		out = append(out, kc.objs[n])
	}
	return out
}

// apply folds one etcd event into the cache and returns it as an API event
// (ok false: nothing an API watcher sees, e.g. a key outside the registry).
func (c *cache) apply(e store.Event) (cacheEvent, bool) {
	k, name, ok := splitKey(e.KV.Key)
	if ok {
		// A kind first seen now has every event after the revision the
		// cache was at (looked up before it moves).
		c.kind(k)
	}
	if e.KV.ModRevision > c.rev {
		c.rev = e.KV.ModRevision
	}
	if !ok {
		return cacheEvent{}, false
	}
	kc := c.kind(k)
	old, had := kc.objs[name]
	var ev cacheEvent
	switch e.Type {
	case store.EventPut:
		o, ok := decodeObject(e.KV.Key, e.KV.Value, e.KV.ModRevision)
		if !ok {
			return cacheEvent{}, false
		}
		ev = cacheEvent{Type: Modified, Obj: o}
		if !had {
			ev.Type = Added
			i, _ := slices.BinarySearch(kc.names, name)
			kc.names = slices.Insert(kc.names, i, name)
		}
		kc.objs[name] = o
	case store.EventDelete:
		if !had {
			return cacheEvent{}, false
		}
		old.RV = e.KV.ModRevision
		ev = cacheEvent{Type: Deleted, Obj: old}
		delete(kc.objs, name)
		if i, found := slices.BinarySearch(kc.names, name); found {
			kc.names = slices.Delete(kc.names, i, i+1)
		}
	default:
		return cacheEvent{}, false
	}
	kc.events = append(kc.events, ev)
	if len(kc.events) > c.size {
		kc.since = kc.events[0].Obj.RV
		copy(kc.events, kc.events[1:])
		kc.events[len(kc.events)-1] = cacheEvent{}
		kc.events = kc.events[:len(kc.events)-1]
	}
	return ev, true
}

// since returns a kind's events after revision from; ok is false when the
// window no longer reaches back that far (410 Gone).
func (c *cache) since(k Kind, from int64) ([]cacheEvent, bool) {
	kc := c.kind(k)
	if from < kc.since {
		return nil, false
	}
	i, _ := slices.BinarySearchFunc(kc.events, from+1, func(e cacheEvent, rev int64) int {
		switch {
		case e.Obj.RV < rev:
			return -1
		case e.Obj.RV > rev:
			return 1
		}
		return 0
	})
	return kc.events[i:], true
}
