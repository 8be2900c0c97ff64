package registry

import (
	"errors"
	"testing"

	v1 "k8s.io/kube-mini/pkg/apis/core/v1"
)

func TestStoreCopies(t *testing.T) {
	s := NewStore()
	p := &v1.Pod{ObjectMeta: v1.ObjectMeta{Name: "a", Namespace: "default", Labels: map[string]string{"app": "x"}}}
	if _, err := s.Create(p); err != nil {
		t.Fatal(err)
	}
	p.Labels["app"] = "changed after create"
	got, err := s.Get("default", "a")
	if err != nil {
		t.Fatal(err)
	}
	gp := got.(*v1.Pod)
	if gp.Labels["app"] != "x" {
		t.Fatalf("store kept the caller's map: label is %q", gp.Labels["app"])
	}
	gp.Labels["app"] = "changed after get"
	again, _ := s.Get("default", "a")
	if again.(*v1.Pod).Labels["app"] != "x" {
		t.Fatal("Get returned the stored object itself")
	}
	if _, err := s.Create(p); !errors.As(err, &ErrExists{}) {
		t.Fatalf("second create: got %v, want ErrExists", err)
	}
}

func TestStoreListAndDelete(t *testing.T) {
	s := NewStore()
	for _, n := range []string{"b", "a", "c"} {
		ns := "default"
		if n == "c" {
			ns = "other"
		}
		if _, err := s.Create(&v1.Service{ObjectMeta: v1.ObjectMeta{Name: n, Namespace: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	l, _ := s.List("default")
	if len(l) != 2 || l[0].GetName() != "a" || l[1].GetName() != "b" {
		t.Fatalf("List(default) = %v", l)
	}
	if all, _ := s.List(""); len(all) != 3 {
		t.Fatalf("List(\"\") has %d objects, want 3", len(all))
	}
	if err := s.Delete("default", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("default", "a"); !errors.As(err, &ErrNotFound{}) {
		t.Fatalf("Get after Delete: got %v, want ErrNotFound", err)
	}
}
