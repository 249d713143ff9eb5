package kube

import (
	"slices"
	"time"

	"hasim/harness"
)

// garbageCollector is kube-controller-manager's garbage collector over the
// registered resources: a dependent whose every owner (ownerReferences) is
// gone, or was replaced by a new object of the same name (another uid), is
// deleted in the background; one that keeps some of its owners loses the
// references to the others. As the real one, it works from its informers
// but confirms that an owner is absent with a live read before it deletes
// anything (a lagging cache must not cost a dependent its life).
//
// Deviations, named: it follows the registered resources only (built-in
// kinds' owner links, such as a pod's ReplicaSet, are not collected, and
// owners of a built-in kind are taken as present); there is no foreground
// deletion and no orphan policy; a dependent is deleted on the
// resourceVersion it was judged at (the real one preconditions on its
// uid).
type garbageCollector struct {
	kinds     []Kind
	infs      map[Kind]*Informer
	sync      SyncQueue
	attempted map[string]bool // dependents whose deletion is in flight
}

func (g *garbageCollector) start(r *Replica) {
	for _, res := range r.Resources() {
		g.kinds = append(g.kinds, res.Kind)
	}
	slices.Sort(g.kinds)
	g.infs, g.attempted, g.sync = map[Kind]*Informer{}, map[string]bool{}, SyncQueue{Tag: "gc-sweep"}
}

// lead starts the informers (the controller-manager builds its
// controllers in its leader callback).
func (g *garbageCollector) lead(ctx *harness.Ctx, r *Replica) {
	for _, k := range g.kinds {
		inf := &Informer{Kind: k, Client: r.Client(),
			OnChange: func(ctx *harness.Ctx, _ Object, _ bool) { g.sync.Add(ctx) },
			OnSync:   func(ctx *harness.Ctx) { g.sync.Add(ctx) }}
		g.infs[k] = inf
		inf.Start(ctx)
	}
}

func (g *garbageCollector) handle(ctx *harness.Ctx, r *Replica, in harness.Input) bool {
	for _, k := range g.kinds {
		if inf := g.infs[k]; inf != nil && inf.Handle(ctx, in) {
			return true
		}
	}
	if g.sync.Due(in) {
		g.sweep(ctx, r)
		return true
	}
	return false
}

func (g *garbageCollector) states(dst []string) []string {
	for _, k := range g.kinds {
		if inf := g.infs[k]; inf != nil {
			dst = inf.States(dst)
		}
	}
	return dst
}

// sweep looks for dependents whose owners the informers no longer hold.
func (g *garbageCollector) sweep(ctx *harness.Ctx, r *Replica) {
	if !r.Leading() {
		return
	}
	for _, k := range g.kinds {
		if !g.infs[k].Synced() {
			return
		}
	}
	for _, k := range g.kinds {
		for _, o := range g.infs[k].List() {
			if len(o.OwnerRefs) == 0 || o.Deleting() || g.attempted[string(k)+"/"+o.Name] {
				continue
			}
			if g.someOwnerGone(o, g.cachedOwner) {
				g.attemptToDelete(ctx, r, o)
			}
		}
	}
}

// ownersGone reports whether every owner of o is absent by lookup (an
// owner of a kind the collector does not follow counts as present).
func (g *garbageCollector) ownersGone(o Object, lookup func(OwnerRef, string) (present, known bool)) bool {
	for _, ref := range o.OwnerRefs {
		if present, known := lookup(ref, o.OwnerName(ref)); present || !known {
			return false
		}
	}
	return true
}

// someOwnerGone reports whether any owner of o is absent by lookup.
func (g *garbageCollector) someOwnerGone(o Object, lookup func(OwnerRef, string) (present, known bool)) bool {
	for _, ref := range o.OwnerRefs {
		if present, known := lookup(ref, o.OwnerName(ref)); known && !present {
			return true
		}
	}
	return false
}

func (g *garbageCollector) cachedOwner(ref OwnerRef, name string) (present, known bool) {
	inf := g.infs[ref.Kind]
	if inf == nil {
		return false, false
	}
	owner, ok := inf.Get(name)
	return ok && owner.UID == ref.UID, true
}

// attemptToDelete confirms with live reads which of o's owners are gone,
// then deletes o if all are, or drops its references to the gone ones.
func (g *garbageCollector) attemptToDelete(ctx *harness.Ctx, r *Replica, o Object) {
	id := string(o.Kind) + "/" + o.Name
	g.attempted[id] = true
	retry := func() {
		delete(g.attempted, id)
		g.sync.Retry(ctx, time.Second)
	}
	live := map[string]bool{} // owner kind/name → present with the ref's uid
	refs := o.OwnerRefs
	var check func(i int)
	check = func(i int) {
		if i == len(refs) {
			lookup := func(ref OwnerRef, name string) (bool, bool) {
				if g.infs[ref.Kind] == nil {
					return false, false // not followed: present
				}
				return live[string(ref.Kind)+"/"+name], true
			}
			if !g.ownersGone(o, lookup) {
				var kept []OwnerRef
				for _, ref := range refs {
					if present, known := lookup(ref, o.OwnerName(ref)); present || !known {
						kept = append(kept, ref)
					}
				}
				if len(kept) == len(refs) {
					delete(g.attempted, id) // the cache was behind: every owner is there
					return
				}
				ctx.Notef("garbage collector: %s loses its references to owners that are gone", id)
				body := o.DeepCopy()
				body.OwnerRefs = kept
				r.Write(ctx, Request{Verb: Update, Kind: o.Kind, Name: o.Name, Obj: body}, func(resp Response) {
					switch resp.Code {
					case StatusOK, StatusNotFound, StatusConflict:
						delete(g.attempted, id)
						if resp.Code == StatusConflict {
							g.sync.Add(ctx)
						}
					default:
						retry()
					}
				})
				return
			}
			ctx.Notef("garbage collector: deleting %s, whose owners are gone", id)
			r.Write(ctx, Request{Verb: Delete, Kind: o.Kind, Name: o.Name, Obj: Object{RV: o.RV}}, func(resp Response) {
				switch resp.Code {
				case StatusOK, StatusNotFound:
					delete(g.attempted, id)
				case StatusConflict:
					delete(g.attempted, id) // changed meanwhile: judged again
					g.sync.Add(ctx)
				default:
					retry()
				}
			})
			return
		}
		ref := refs[i]
		name := o.OwnerName(ref)
		r.Client().Do(ctx, Request{Verb: Get, Kind: ref.Kind, Name: name}, 30*time.Second, func(resp Response) {
			switch resp.Code {
			case StatusOK:
				live[string(ref.Kind)+"/"+name] = resp.Obj.UID == ref.UID
			case StatusNotFound:
			default:
				retry()
				return
			}
			check(i + 1)
		})
	}
	check(0)
}
