package example

import (
	"context"
	"slices"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// LabelFleet labels each drone with the name of its fleet.
const LabelFleet = "example.com/fleet"

// Resync is how often a fleet is reconciled when nothing changes.
const Resync = 30 * time.Second

// Bugs plants bugs in the reconciler; the zero value is the fixed
// operator. Each is a class of bug that studies of real operators found
// most often (stale reads, crashes between writes, lost updates).
type Bugs struct {
	// StaleList: drones are named by the API server (generateName), and
	// how many to create is decided from the cached List alone. The cache may not yet show the drones this replica, or the
	// leader before it, just created (a new leader's informer lists from
	// its API server's watch cache, which may lag), and it creates them
	// again. The fix: deterministic names (<fleet>-<ordinal>), so that a
	// create made twice is refused as AlreadyExists.
	StaleList bool
	// RecordAfterCreate: drones are named by the API server
	// (generateName), created one at a time, and counted from status.drones, which a status write
	// after each create records. In-memory expectations (the drones this
	// replica created that its cached status does not yet show, as the
	// ReplicaSet controller keeps) make it right while nothing fails; a
	// crash or a failover between the two writes loses them, and the
	// successor, trusting the status, creates another drone. The fix:
	// count what exists (the List), and make creates idempotent.
	RecordAfterCreate bool
	// BlindStatus: the status is written with a JSON merge patch without
	// the resourceVersion precondition. A deposed leader's status write,
	// held by a partition, lands after its successor's and overwrites a
	// newer status with an older one (a lost update: observedGeneration
	// goes back). The fix: Status().Update, conditional on the
	// resourceVersion read, which the server refuses with a conflict once
	// anything else wrote.
	BlindStatus bool
}

// Reconciler is the Fleet operator: ordinary controller-runtime code.
type Reconciler struct {
	Client client.Client
	Bugs   Bugs
	// expected are the drones the RecordAfterCreate variant created and
	// its cached status does not yet record, by fleet (namespace/name).
	expected map[string][]string
}

// Reconcile implements reconcile.Reconciler.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var f Fleet
	if err := r.Client.Get(ctx, req.NamespacedName, &f); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !f.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil // the garbage collector deletes its drones
	}
	drones, err := r.owned(ctx, &f)
	if err != nil {
		return reconcile.Result{}, err
	}
	if r.Bugs.RecordAfterCreate {
		return r.reconcileRecorded(ctx, &f, drones)
	}
	count := int32(len(drones))
	if r.Bugs.StaleList {
		for ; count < f.Spec.Replicas; count++ {
			if _, err := r.create(ctx, &f, ""); err != nil {
				return reconcile.Result{}, err
			}
		}
	} else {
		have := map[string]bool{}
		for _, d := range drones {
			have[d.Name] = true
		}
		for i := range int(f.Spec.Replicas) {
			name := f.Name + "-" + strconv.Itoa(i)
			if have[name] {
				continue
			}
			switch _, err := r.create(ctx, &f, name); {
			case apierrors.IsAlreadyExists(err):
				// Made before, not yet in the cache: it counts.
			case err != nil:
				return reconcile.Result{}, err
			}
			count++
		}
	}
	for i := range drones {
		d := &drones[i]
		if d.Spec.Version == f.Spec.Version {
			continue
		}
		d.Spec.Version = f.Spec.Version
		if err := r.Client.Update(ctx, d); err != nil {
			return reconcile.Result{}, err
		}
	}
	return reconcile.Result{RequeueAfter: Resync}, r.writeStatus(ctx, &f, FleetStatus{Replicas: count, ObservedGeneration: f.Generation})
}

// reconcileRecorded is the RecordAfterCreate variant: it counts the drones
// that status.drones records, creates one at a time and records each with
// a status write after the create. Its reads of its own status come from
// the cache, which lags its writes; so, as Kubernetes' ReplicaSet
// controller keeps expectations of the creates it made and has not yet
// observed, it remembers the drones it created until the cached status
// records them. That memory is what a crash, or a failover, loses.
func (r *Reconciler) reconcileRecorded(ctx context.Context, f *Fleet, drones []Drone) (reconcile.Result, error) {
	key := f.Namespace + "/" + f.Name
	if r.expected == nil {
		r.expected = map[string][]string{}
	}
	recorded := slices.Clone(f.Status.Drones)
	// Expectations the cached status records are met.
	r.expected[key] = slices.DeleteFunc(r.expected[key], func(name string) bool { return slices.Contains(recorded, name) })
	known := append(recorded, r.expected[key]...)
	if int32(len(known)) < f.Spec.Replicas {
		name, err := r.create(ctx, f, "")
		if err != nil {
			return reconcile.Result{}, err
		}
		r.expected[key] = append(r.expected[key], name)
		known = append(known, name)
	}
	st := FleetStatus{Replicas: int32(len(known)), ObservedGeneration: f.Generation, Drones: known}
	if err := r.writeStatus(ctx, f, st); err != nil {
		return reconcile.Result{}, err
	}
	for i := range drones {
		d := &drones[i]
		if d.Spec.Version != f.Spec.Version {
			d.Spec.Version = f.Spec.Version
			if err := r.Client.Update(ctx, d); err != nil {
				return reconcile.Result{}, err
			}
		}
	}
	if int32(len(known)) < f.Spec.Replicas {
		return reconcile.Result{Requeue: true}, nil
	}
	return reconcile.Result{RequeueAfter: Resync}, nil
}

// owned lists the fleet's drones from the cache: those labelled for it
// whose controller is this fleet, and not being deleted.
func (r *Reconciler) owned(ctx context.Context, f *Fleet) ([]Drone, error) {
	var list DroneList
	if err := r.Client.List(ctx, &list, client.InNamespace(f.Namespace), client.MatchingLabels{LabelFleet: f.Name}); err != nil {
		return nil, err
	}
	var out []Drone
	for _, d := range list.Items {
		if ref := metav1.GetControllerOf(&d); ref != nil && ref.UID == f.UID && d.DeletionTimestamp.IsZero() {
			out = append(out, d)
		}
	}
	return out, nil
}

// create creates a drone of the fleet, owned by it, and returns its name:
// the name given, or, if that is "", the one the API server generates
// (<fleet>-<five random characters>).
func (r *Reconciler) create(ctx context.Context, f *Fleet, name string) (string, error) {
	d := &Drone{ObjectMeta: metav1.ObjectMeta{Namespace: f.Namespace, Name: name, Labels: map[string]string{LabelFleet: f.Name}},
		Spec: DroneSpec{Version: f.Spec.Version}}
	if name == "" {
		d.GenerateName = f.Name + "-"
	}
	if err := controllerutil.SetControllerReference(f, d, r.Client.Scheme()); err != nil {
		return "", err
	}
	err := r.Client.Create(ctx, d)
	return d.Name, err
}

// writeStatus writes the fleet's status if it changed: conditional on the
// resourceVersion read, unless BlindStatus.
func (r *Reconciler) writeStatus(ctx context.Context, f *Fleet, st FleetStatus) error {
	if f.Status.Replicas == st.Replicas && f.Status.ObservedGeneration == st.ObservedGeneration && slices.Equal(f.Status.Drones, st.Drones) {
		return nil
	}
	if r.Bugs.BlindStatus {
		patch := client.MergeFrom(f.DeepCopy())
		f.Status = st
		return r.Client.Status().Patch(ctx, f, patch)
	}
	f.Status = st
	return r.Client.Status().Update(ctx, f)
}
