package kube

import "hasim/model/store"

// Truth is the ground truth of the API's objects: the store's state on the
// member that has applied the most, read directly, outside the simulated
// network (observers read it; components never do).
type Truth struct{ kv *store.MVCC }

// Rev is the store revision the truth is at.
func (t *Truth) Rev() int64 { return t.kv.Rev() }

// Get returns the object of a kind and name ("default/web"), if it exists.
func (t *Truth) Get(k Kind, name string) (Object, bool) {
	res, err := t.kv.Range(store.Op{Kind: store.OpRange, Key: Key(k, name)})
	if err != nil || len(res.KVs) != 1 {
		return Object{}, false
	}
	kv := res.KVs[0]
	o, ok := decodeObject(kv.Key, kv.Value, kv.ModRevision)
	o.Created = kv.CreateRevision
	return o, ok
}

// List returns every object of a kind, in name order.
func (t *Truth) List(k Kind) []Object {
	res, err := t.kv.Range(store.Op{Kind: store.OpRange, Key: KindPrefix(k), Prefix: true})
	if err != nil {
		return nil
	}
	out := make([]Object, 0, len(res.KVs))
	for _, kv := range res.KVs {
		if o, ok := decodeObject(kv.Key, kv.Value, kv.ModRevision); ok {
			o.Created = kv.CreateRevision
			out = append(out, o)
		}
	}
	return out
}

// Version is an object's name and resourceVersion.
type Version struct {
	Name string
	RV   int64
}

// Versions returns the name and resourceVersion of every object of a kind,
// in name order, without decoding them.
func (t *Truth) Versions(k Kind) []Version {
	res, err := t.kv.Range(store.Op{Kind: store.OpRange, Key: KindPrefix(k), Prefix: true})
	if err != nil {
		return nil
	}
	out := make([]Version, 0, len(res.KVs))
	for _, kv := range res.KVs {
		if _, name, ok := splitKey(kv.Key); ok {
			out = append(out, Version{Name: name, RV: kv.ModRevision})
		}
	}
	return out
}
