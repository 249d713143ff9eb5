package ctrl

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"hasim/model/kube"
)

// Client is the client.Client a replica hands its reconciler, as a
// controller-runtime manager's default client: reads (Get, List) come from
// the replica's informers, at once and as stale as they are; writes go to
// its master's API server, the calling Reconcile waiting (suspended) for
// the answer. Writes must be made from Reconcile, with the context it was
// given (or one derived from it).
type Client struct{ h *host }

var _ client.Client = (*Client)(nil)

// Scheme implements client.Client.
func (c *Client) Scheme() *runtime.Scheme { return c.h.spec.m.scheme }

// RESTMapper implements client.Client: it knows the served kinds, all
// namespaced.
func (c *Client) RESTMapper() meta.RESTMapper { return c.h.spec.m.mapper }

// GroupVersionKindFor implements client.Client.
func (c *Client) GroupVersionKindFor(obj runtime.Object) (schema.GroupVersionKind, error) {
	return apiutil.GVKForObject(obj, c.h.spec.m.scheme)
}

// IsObjectNamespaced implements client.Client.
func (c *Client) IsObjectNamespaced(obj runtime.Object) (bool, error) {
	return apiutil.IsObjectNamespaced(obj, c.h.spec.m.scheme, c.h.spec.m.mapper)
}

// informer returns the kind of obj and the replica's informer of it.
func (c *Client) informer(obj runtime.Object) (kindInfo, *kube.Informer, error) {
	k, err := c.h.spec.m.kindOf(obj)
	if err != nil {
		return k, nil, err
	}
	inf := c.h.infs[k.res]
	if inf == nil {
		return k, nil, unsupported("reads of %s: reads come from the informers of the reconciler's For and Owns kinds", k.gvk.Kind)
	}
	return k, inf, nil
}

// Get implements client.Client, from the informer's cache.
func (c *Client) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	k, inf, err := c.informer(obj)
	if err != nil {
		return err
	}
	o, ok := inf.Get(key.Namespace + "/" + key.Name)
	if !ok {
		return apierrors.NewNotFound(k.groupResource(), key.Name)
	}
	return c.h.spec.m.fromModel(o, k, obj)
}

// List implements client.Client, from the informer's cache, in name
// order. It takes a namespace and a label selector; field selectors and
// paging are unsupported.
func (c *Client) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.h.spec.m.list(list, opts, func(k kindInfo) ([]kube.Object, error) {
		_, inf, err := c.informer(list)
		if err != nil {
			return nil, err
		}
		return inf.List(), nil
	})
}

// list sets list to the objects source gives for its kind that match the
// options (a namespace and a label selector).
func (m *Manager) list(list client.ObjectList, opts []client.ListOption, source func(kindInfo) ([]kube.Object, error)) error {
	lo := (&client.ListOptions{}).ApplyOptions(opts)
	switch {
	case lo.FieldSelector != nil && !lo.FieldSelector.Empty():
		return unsupported("field selectors on LIST")
	case lo.Limit > 0 || lo.Continue != "":
		return unsupported("paging a LIST (limit, continue)")
	}
	k, err := m.kindOf(list)
	if err != nil {
		return err
	}
	objs, err := source(k)
	if err != nil {
		return err
	}
	items := []any{}
	for _, o := range objs {
		if lo.Namespace != "" && o.Namespace() != lo.Namespace {
			continue
		}
		if lo.LabelSelector != nil && !lo.LabelSelector.Matches(labels.Set(o.Labels)) {
			continue
		}
		u, err := m.unstructuredOf(o, k)
		if err != nil {
			return err
		}
		items = append(items, u)
	}
	return fill(map[string]any{"apiVersion": k.gvk.GroupVersion().String(), "kind": k.gvk.Kind + "List",
		"metadata": map[string]any{}, "items": items}, list)
}

// Create implements client.Client.
func (c *Client) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if o := (&client.CreateOptions{}).ApplyOptions(opts); len(o.DryRun) > 0 {
		return unsupported("dry-run writes")
	}
	mo, k, err := c.h.spec.m.toModel(obj)
	if err != nil {
		return err
	}
	if mo.RV != 0 {
		return apierrors.NewInternalError(errors.New("resourceVersion should not be set on objects to be created"))
	}
	return c.call(ctx, k, obj, kube.Request{Verb: kube.Create, Kind: k.res, Name: mo.Name, Obj: mo})
}

// Update implements client.Client: an update conditional on the object's
// resourceVersion (custom resources take no unconditional update).
func (c *Client) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	if o := (&client.UpdateOptions{}).ApplyOptions(opts); len(o.DryRun) > 0 {
		return unsupported("dry-run writes")
	}
	return c.update(ctx, obj, "")
}

func (c *Client) update(ctx context.Context, obj client.Object, sub string) error {
	mo, k, err := c.h.spec.m.toModel(obj)
	if err != nil {
		return err
	}
	if obj.GetName() == "" {
		return apierrors.NewBadRequest("metadata.name: required")
	}
	return c.call(ctx, k, obj, kube.Request{Verb: kube.Update, Kind: k.res, Name: mo.Name, Obj: mo, Subresource: sub})
}

// Patch implements client.Client for JSON merge patches (client.MergeFrom,
// client.MergeFromWithOptions with an optimistic lock, client.RawPatch of
// types.MergePatchType); other patch types are unsupported.
func (c *Client) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	if o := (&client.PatchOptions{}).ApplyOptions(opts); len(o.DryRun) > 0 {
		return unsupported("dry-run writes")
	}
	return c.patch(ctx, obj, patch, "")
}

func (c *Client) patch(ctx context.Context, obj client.Object, patch client.Patch, sub string) error {
	if patch.Type() != types.MergePatchType {
		return unsupported("%s patches (the API model takes JSON merge patches: client.MergeFrom)", patch.Type())
	}
	k, err := c.h.spec.m.kindOf(obj)
	if err != nil {
		return err
	}
	name, err := objectName(obj)
	if err != nil {
		return err
	}
	data, err := patch.Data(obj)
	if err != nil {
		return err
	}
	body, rv, err := c.h.spec.m.patchToModel(data)
	if err != nil {
		return err
	}
	return c.call(ctx, k, obj, kube.Request{Verb: kube.Patch, Kind: k.res, Name: name, Obj: kube.Object{RV: rv},
		PatchBody: body, Subresource: sub})
}

// Delete implements client.Client: a background deletion, conditional on
// a resourceVersion precondition if one is given. An object with
// finalizers is only marked (its deletionTimestamp set).
func (c *Client) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	o := (&client.DeleteOptions{}).ApplyOptions(opts)
	var rv int64
	switch {
	case len(o.DryRun) > 0:
		return unsupported("dry-run writes")
	case o.PropagationPolicy != nil && *o.PropagationPolicy != metav1.DeletePropagationBackground:
		return unsupported("%s deletion (the garbage collector deletes dependents in the background)", *o.PropagationPolicy)
	case o.Preconditions != nil && o.Preconditions.UID != nil:
		return unsupported("uid preconditions on DELETE")
	case o.Preconditions != nil && o.Preconditions.ResourceVersion != nil:
		var err error
		if rv, err = parseRV(*o.Preconditions.ResourceVersion); err != nil {
			return apierrors.NewBadRequest("preconditions.resourceVersion: " + err.Error())
		}
	}
	k, err := c.h.spec.m.kindOf(obj)
	if err != nil {
		return err
	}
	name, err := objectName(obj)
	if err != nil {
		return err
	}
	return c.call(ctx, k, nil, kube.Request{Verb: kube.Delete, Kind: k.res, Name: name, Obj: kube.Object{RV: rv}})
}

// DeleteAllOf implements client.Client; it is unsupported.
func (c *Client) DeleteAllOf(context.Context, client.Object, ...client.DeleteAllOfOption) error {
	return unsupported("DeleteAllOf (DELETE of a collection)")
}

// Apply implements client.Client; server-side apply is unsupported.
func (c *Client) Apply(context.Context, runtime.ApplyConfiguration, ...client.ApplyOption) error {
	return unsupported("server-side apply")
}

// Status implements client.Client: writes to the status subresource.
func (c *Client) Status() client.SubResourceWriter {
	return &subResource{c: c, name: kube.SubresourceStatus}
}

// SubResource implements client.Client: the status subresource can be
// updated and patched; everything else is unsupported.
func (c *Client) SubResource(name string) client.SubResourceClient {
	return &subResource{c: c, name: name}
}

// objectName returns the API model's name of obj ("namespace/name").
func objectName(obj client.Object) (string, error) {
	switch {
	case obj.GetName() == "":
		return "", apierrors.NewBadRequest("metadata.name: required")
	case obj.GetNamespace() == "":
		return "", unsupported("%s without a namespace (the API model serves namespaced kinds only)", obj.GetName())
	}
	return obj.GetNamespace() + "/" + obj.GetName(), nil
}

// call makes a write and, when into is set, sets it to the object the
// server answered with.
func (c *Client) call(ctx context.Context, k kindInfo, into client.Object, req kube.Request) error {
	resp, err := c.do(ctx, req, false)
	if err != nil {
		return err
	}
	if err := apiError(req.Verb, k, req.Name, resp); err != nil {
		return err
	}
	if into == nil {
		return nil
	}
	return c.h.spec.m.fromModel(resp.Obj, k, into)
}

// do suspends the calling reconcile until the API's answer to req (a
// write; a read, if read) comes, or until the context's deadline.
func (c *Client) do(ctx context.Context, req kube.Request, read bool) (kube.Response, error) {
	r, _ := ctx.Value(runKey{}).(*run)
	switch {
	case r == nil || r.h != c.h:
		what := "a write"
		if read {
			what = "a read of the API reader"
		}
		return kube.Response{}, fmt.Errorf("hasim/ctrl: %s must be made from Reconcile, with the context it was given", what)
	case r.aborted:
		return kube.Response{}, ErrAbandoned
	}
	if err := ctx.Err(); err != nil {
		return kube.Response{}, err
	}
	cl := &call{req: req, read: read}
	if deadline, ok := ctx.Deadline(); ok {
		if left, simulated := c.h.spec.m.clock.remaining(deadline); simulated {
			if left <= 0 {
				return kube.Response{}, context.DeadlineExceeded
			}
			cl.timeout = left
		}
	}
	if !r.yield(cl) {
		return kube.Response{}, ErrAbandoned
	}
	if cl.err != nil {
		return kube.Response{}, cl.err
	}
	return cl.resp, nil
}

// apiError maps an answer of the simulated API to the error
// controller-runtime's client returns for it (nil for success).
func apiError(verb kube.Verb, k kindInfo, name string, resp kube.Response) error {
	_, short, _ := strings.Cut(name, "/")
	gr := k.groupResource()
	switch resp.Code {
	case kube.StatusOK, kube.StatusCreated:
		return nil
	case kube.StatusNotFound:
		return apierrors.NewNotFound(gr, short)
	case kube.StatusConflict:
		if verb == kube.Create {
			return apierrors.NewAlreadyExists(gr, short)
		}
		return apierrors.NewConflict(gr, short, fmt.Errorf("%s; please apply your changes to the latest version and try again", resp.Reason))
	case kube.StatusBadRequest:
		return apierrors.NewBadRequest(resp.Reason)
	case kube.StatusInvalid:
		return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: kube.StatusInvalid,
			Reason:  metav1.StatusReasonInvalid,
			Details: &metav1.StatusDetails{Group: gr.Group, Kind: k.gvk.Kind, Name: short},
			Message: fmt.Sprintf("%s %q is invalid: %s", k.gvk.Kind, short, resp.Reason)}}
	case kube.StatusTooMany:
		return apierrors.NewTooManyRequests(resp.Reason, 1)
	case kube.StatusInternal:
		return apierrors.NewInternalError(errors.New(resp.Reason))
	case kube.StatusUnavailable:
		return apierrors.NewServiceUnavailable(resp.Reason)
	case kube.StatusTimeout:
		return apierrors.NewTimeoutError(resp.Reason, 0)
	case kube.StatusClientTimeout:
		return fmt.Errorf("%s %s %q: %w (the client's 30s timeout; the write may still land)", verb, gr, short, context.DeadlineExceeded)
	case kube.StatusConnLost:
		return fmt.Errorf("%s %s %q: connection lost (the write may still land)", verb, gr, short)
	}
	return apierrors.NewGenericServerResponse(resp.Code, string(verb), gr, short, resp.Reason, 0, false)
}

// apiReader is the client.Reader a replica's GetAPIReader gives: as
// controller-runtime's manager.GetAPIReader, it bypasses the cache. Each
// Get and List goes to the replica's master's API server as a quorum read
// (resourceVersion "": GET through raft's read index, LIST a consistent
// list), the calling Reconcile waiting (suspended) for the answer, and
// may fail as writes do (a cut master times out, an API server without
// its store answers 5xx). Reads must be made from Reconcile, with the
// context it was given.
type apiReader struct{ c *Client }

// Get implements client.Reader. A GET at a given resourceVersion is
// unsupported.
func (a apiReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	o := (&client.GetOptions{}).ApplyOptions(opts)
	if o.Raw != nil && o.Raw.ResourceVersion != "" {
		return unsupported("GET at a resourceVersion (the API reader reads the latest)")
	}
	m := a.c.h.spec.m
	k, err := m.kindOf(obj)
	if err != nil {
		return err
	}
	if key.Namespace == "" {
		return unsupported("%s without a namespace (the API model serves namespaced kinds only)", key.Name)
	}
	req := kube.Request{Verb: kube.Get, Kind: k.res, Name: key.Namespace + "/" + key.Name}
	resp, err := a.c.do(ctx, req, true)
	if err != nil {
		return err
	}
	if err := apiError(req.Verb, k, req.Name, resp); err != nil {
		return err
	}
	return m.fromModel(resp.Obj, k, obj)
}

// List implements client.Reader: a consistent list of the kind, in name
// order, narrowed to a namespace and a label selector; field selectors
// and paging are unsupported.
func (a apiReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return a.c.h.spec.m.list(list, opts, func(k kindInfo) ([]kube.Object, error) {
		req := kube.Request{Verb: kube.List, Kind: k.res}
		resp, err := a.c.do(ctx, req, true)
		if err != nil {
			return nil, err
		}
		if err := apiError(req.Verb, k, "", resp); err != nil {
			return nil, err
		}
		return resp.Items, nil
	})
}

// subResource is a client of one subresource; only status is served.
type subResource struct {
	c    *Client
	name string
}

func (s *subResource) served() error {
	if s.name != kube.SubresourceStatus {
		return unsupported("subresource %q (only status is served)", s.name)
	}
	return nil
}

// Get implements client.SubResourceReader; it is unsupported.
func (s *subResource) Get(context.Context, client.Object, client.Object, ...client.SubResourceGetOption) error {
	return unsupported("GET of subresource %q", s.name)
}

// Create implements client.SubResourceWriter; it is unsupported.
func (s *subResource) Create(context.Context, client.Object, client.Object, ...client.SubResourceCreateOption) error {
	return unsupported("CREATE of subresource %q", s.name)
}

// writable refuses what a subresource write may ask that hasim does not
// serve (a dry run, a body of its own), and subresources other than
// status.
func (s *subResource) writable(dryRun []string, body client.Object) error {
	switch {
	case len(dryRun) > 0:
		return unsupported("dry-run writes")
	case body != nil:
		return unsupported("a subresource body")
	}
	return s.served()
}

// Update implements client.SubResourceWriter: an update of the object's
// status, conditional on its resourceVersion.
func (s *subResource) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	o := (&client.SubResourceUpdateOptions{}).ApplyOptions(opts)
	if err := s.writable(o.DryRun, o.SubResourceBody); err != nil {
		return err
	}
	return s.c.update(ctx, obj, s.name)
}

// Patch implements client.SubResourceWriter: a JSON merge patch of the
// object's status.
func (s *subResource) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	o := (&client.SubResourcePatchOptions{}).ApplyOptions(opts)
	if err := s.writable(o.DryRun, o.SubResourceBody); err != nil {
		return err
	}
	return s.c.patch(ctx, obj, patch, s.name)
}

// Apply implements client.SubResourceWriter; server-side apply is
// unsupported.
func (s *subResource) Apply(context.Context, runtime.ApplyConfiguration, ...client.SubResourceApplyOption) error {
	return unsupported("server-side apply")
}
