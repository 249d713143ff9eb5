package ctrl

import (
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"hasim/checkers/judge"
	"hasim/harness"
	"hasim/model/kube"
)

// Change is a write a user of the API makes during a run: at At (simulated
// time from the run's start), Object's spec and labels replace those of
// the object of its kind, namespace and name, which is created if absent.
type Change struct {
	At     time.Duration
	Object client.Object
}

// DriverHost is the host of the process that creates Setup.Objects and
// makes Setup.Changes: a user of the API outside the fault model (no
// generated fault names it), talking to the API servers through the load
// balancer on host lb (with a standby load balancer too, always that one).
const DriverHost = "driver"

// tagDriver is the driver's timer: its argument is the write due.
const tagDriver = "ctrl-driver"

// driverRetry is how long the driver waits before trying a write again.
const driverRetry = time.Second

// plannedWrite is one of the driver's writes, in the API model's terms.
type plannedWrite struct {
	at     time.Duration
	obj    kube.Object
	create bool // create only (Setup.Objects); else a change
}

// plan converts the objects and changes into the driver's writes, in
// time order (objects first, then changes as given, stably by time).
func (m *Manager) plan(objects []client.Object, changes []Change) ([]plannedWrite, error) {
	var out []plannedWrite
	for i, o := range objects {
		mo, _, err := m.toModel(o)
		if err != nil {
			return nil, fmt.Errorf("objects[%d]: %w", i, err)
		}
		if mo.RV != 0 || mo.UID != "" {
			return nil, fmt.Errorf("objects[%d] %s: resourceVersion and uid are the server's to set", i, mo.Name)
		}
		out = append(out, plannedWrite{obj: mo, create: true})
	}
	last := time.Duration(0)
	for i, c := range changes {
		if c.At < last {
			return nil, fmt.Errorf("changes[%d]: at %s, before the change before it (%s): give changes in time order", i, c.At, last)
		}
		last = c.At
		mo, _, err := m.toModel(c.Object)
		if err != nil {
			return nil, fmt.Errorf("changes[%d]: %w", i, err)
		}
		out = append(out, plannedWrite{at: c.At, obj: mo})
	}
	return out, nil
}

// withDriver is the judged cluster with the driver added to it.
type withDriver struct {
	*judge.Cluster
	writes []plannedWrite
}

// Build implements harness.Scenario: the cluster, then the driver's host
// and process.
func (w *withDriver) Build(s *harness.Sim) error {
	if err := w.Cluster.Build(s); err != nil {
		return err
	}
	if len(w.writes) == 0 {
		return nil
	}
	lb := s.MustLookup("lb/lb")
	s.AddHost(harness.HostConfig{Name: DriverHost})
	s.AddProcess(DriverHost, "driver", harness.Connection, func() harness.Process {
		return &driver{writes: w.writes, lb: lb}
	})
	return nil
}

// driver makes the planned writes one after the other, each at its time
// or once the one before it is done, retrying each until the API has
// taken it.
type driver struct {
	writes []plannedWrite
	lb     harness.ProcID
	client kube.Client
	next   int
}

// Step implements harness.Process.
func (d *driver) Step(ctx *harness.Ctx, in harness.Input) {
	switch {
	case in.Kind == harness.InputStart:
		d.client = kube.Client{Server: d.lb, ID: ctx.ClientID(0), Agent: "hasim-driver"}
		d.next = 0
		d.schedule(ctx)
	case in.Kind == harness.InputTimer && in.Tag == tagDriver:
		if int(in.Arg) == d.next {
			d.write(ctx)
		}
	default:
		d.client.Handle(ctx, in)
	}
}

// schedule sets the timer of the next write.
func (d *driver) schedule(ctx *harness.Ctx) {
	if d.next < len(d.writes) {
		ctx.After(max(d.writes[d.next].at-ctx.Now(), 0), tagDriver, uint64(d.next))
	}
}

// done moves on to the next write.
func (d *driver) done(ctx *harness.Ctx, what string) {
	ctx.Notef("driver: %s", what)
	d.next++
	d.schedule(ctx)
}

// retry tries the current write again after driverRetry.
func (d *driver) retry(ctx *harness.Ctx, what string, resp kube.Response) {
	ctx.Notef("driver: %s: code %d%s; again in %s", what, resp.Code, kube.ReasonSuffix(resp.Reason), driverRetry)
	ctx.After(driverRetry, tagDriver, uint64(d.next))
}

// write makes the current write: a create, or a change (a quorum read,
// then an update conditional on what it read, or a create).
func (d *driver) write(ctx *harness.Ctx) {
	w := d.writes[d.next]
	key := string(w.obj.Kind) + "/" + w.obj.Name
	create := func() {
		d.client.Do(ctx, kube.Request{Verb: kube.Create, Kind: w.obj.Kind, Name: w.obj.Name, Obj: w.obj, Agent: "hasim-driver"}, 30*time.Second,
			func(resp kube.Response) {
				switch {
				case resp.Code == kube.StatusCreated:
					d.done(ctx, "created "+key)
				case resp.Code == kube.StatusConflict && w.create:
					d.done(ctx, key+" exists")
				default:
					d.retry(ctx, "create "+key, resp)
				}
			})
	}
	if w.create {
		create()
		return
	}
	d.client.Do(ctx, kube.Request{Verb: kube.Get, Kind: w.obj.Kind, Name: w.obj.Name, Agent: "hasim-driver"}, 30*time.Second,
		func(resp kube.Response) {
			switch resp.Code {
			case kube.StatusNotFound:
				create()
			case kube.StatusOK:
				o := resp.Obj
				o.Spec, o.Labels = w.obj.Spec, w.obj.Labels
				d.client.Do(ctx, kube.Request{Verb: kube.Update, Kind: w.obj.Kind, Name: w.obj.Name, Obj: o, Agent: "hasim-driver"}, 30*time.Second,
					func(resp kube.Response) {
						if resp.Code == kube.StatusOK {
							d.done(ctx, "changed "+key)
							return
						}
						d.retry(ctx, "update "+key, resp)
					})
			default:
				d.retry(ctx, "get "+key, resp)
			}
		})
}
