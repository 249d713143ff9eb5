package ctrl

import (
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"hasim/model/kube"
)

// State is the ground truth of the API's objects at one store revision,
// read through the user's scheme: what invariants and Settled judge. It
// reads the store directly, outside the simulated network, so it is never
// stale (unlike a reconciler's cache). A State is valid only during the
// call it is handed to.
type State struct {
	m *Manager
	t *kube.Truth
}

// Rev is the store revision the state is at.
func (s State) Rev() int64 { return s.t.Rev() }

// Get sets obj to the object of obj's kind named by key, or returns a
// NotFound error (apierrors.IsNotFound) when there is none. The kind must
// be one the registered reconcilers use (For, Owns) or Setup.Objects name.
func (s State) Get(key client.ObjectKey, obj client.Object) error {
	k, err := s.m.kindOf(obj)
	if err != nil {
		return err
	}
	o, ok := s.t.Get(k.res, key.Namespace+"/"+key.Name)
	if !ok {
		return apierrors.NewNotFound(k.groupResource(), key.Name)
	}
	return s.m.fromModel(o, k, obj)
}

// List sets list to the objects of its kind, in namespace/name order. It
// takes client.InNamespace and label selectors (client.MatchingLabels,
// client.MatchingLabelsSelector); field selectors and paging are
// unsupported.
func (s State) List(list client.ObjectList, opts ...client.ListOption) error {
	return s.m.list(list, opts, func(k kindInfo) ([]kube.Object, error) { return s.t.List(k.res), nil })
}
