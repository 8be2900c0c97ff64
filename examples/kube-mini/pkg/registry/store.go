// Package registry is an in-memory object store keyed by namespace and
// name.  It hands out deep copies (the generated DeepCopyObject), so a
// caller can never change a stored object behind the store's back.
package registry

import (
	"fmt"
	"sort"
	"strconv"
	"sync"

	"k8s.io/kube-mini/pkg/runtime"
)

// ErrNotFound and ErrExists are returned by Get/Delete and Create.
type (
	ErrNotFound struct{ Key string }
	ErrExists   struct{ Key string }
)

func (e ErrNotFound) Error() string { return fmt.Sprintf("%s not found", e.Key) }
func (e ErrExists) Error() string   { return fmt.Sprintf("%s already exists", e.Key) }

// Store holds objects of one kind.
type Store struct {
	mu      sync.RWMutex
	objects map[string]runtime.Named
	rev     uint64
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{objects: map[string]runtime.Named{}}
}

func key(namespace, name string) string { return namespace + "/" + name }

// Create stores a copy of obj and returns the revision it got.
func (s *Store) Create(obj runtime.Named) (string, error) {
	k := key(obj.GetNamespace(), obj.GetName())
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[k]; ok {
		return "", ErrExists{k}
	}
	s.rev++
	s.objects[k] = obj.DeepCopyObject().(runtime.Named)
	return strconv.FormatUint(s.rev, 10), nil
}

// Get returns a copy of the object.
func (s *Store) Get(namespace, name string) (runtime.Named, error) {
	k := key(namespace, name)
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.objects[k]
	if !ok {
		return nil, ErrNotFound{k}
	}
	return o.DeepCopyObject().(runtime.Named), nil
}

// Delete removes the object.
func (s *Store) Delete(namespace, name string) error {
	k := key(namespace, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[k]; !ok {
		return ErrNotFound{k}
	}
	delete(s.objects, k)
	s.rev++
	return nil
}

// List returns copies of the objects of a namespace ("" for all), sorted
// by namespace and name, and the store's revision.
func (s *Store) List(namespace string) ([]runtime.Named, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	keys := make([]string, 0, len(s.objects))
	for k, o := range s.objects {
		if namespace == "" || o.GetNamespace() == namespace {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]runtime.Named, 0, len(keys))
	for _, k := range keys {
		out = append(out, s.objects[k].DeepCopyObject().(runtime.Named))
	}
	return out, strconv.FormatUint(s.rev, 10)
}
