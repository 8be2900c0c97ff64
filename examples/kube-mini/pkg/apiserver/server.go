// Package apiserver serves pods and services over HTTP with JSON, from
// in-memory stores:
//
//	GET    /version, /healthz
//	GET    /api/v1/{pods|services}                          every namespace
//	GET    /api/v1/namespaces/{ns}/{pods|services}          list
//	POST   /api/v1/namespaces/{ns}/{pods|services}          create
//	GET    /api/v1/namespaces/{ns}/{pods|services}/{name}   get
//	DELETE /api/v1/namespaces/{ns}/{pods|services}/{name}   delete
package apiserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	v1 "k8s.io/kube-mini/pkg/apis/core/v1"
	"k8s.io/kube-mini/pkg/registry"
	"k8s.io/kube-mini/pkg/runtime"
	"k8s.io/kube-mini/pkg/version"
)

// resource describes one kind the server stores.
type resource struct {
	kind   string
	store  *registry.Store
	decode func(*json.Decoder) (runtime.Named, error)
	list   func([]runtime.Named, string) runtime.Object
}

// Server is the API server's handler.
type Server struct {
	resources map[string]*resource
	now       func() time.Time
	uid       uint64 // atomic: requests are served concurrently
}

// New returns a server with empty stores.
func New() *Server {
	s := &Server{now: time.Now, resources: map[string]*resource{}}
	s.resources["pods"] = &resource{
		kind:  "Pod",
		store: registry.NewStore(),
		decode: func(d *json.Decoder) (runtime.Named, error) {
			p := &v1.Pod{}
			err := d.Decode(p)
			if p.Status.Phase == "" {
				p.Status.Phase = v1.PodPending
			}
			return p, err
		},
		list: func(objs []runtime.Named, rev string) runtime.Object {
			l := &v1.PodList{TypeMeta: v1.TypeMeta{Kind: "PodList", APIVersion: "v1"}, ListMeta: v1.ListMeta{ResourceVersion: rev}}
			for _, o := range objs {
				l.Items = append(l.Items, *o.(*v1.Pod))
			}
			return l
		},
	}
	s.resources["services"] = &resource{
		kind:  "Service",
		store: registry.NewStore(),
		decode: func(d *json.Decoder) (runtime.Named, error) {
			svc := &v1.Service{}
			err := d.Decode(svc)
			for i := range svc.Spec.Ports {
				if svc.Spec.Ports[i].Protocol == "" {
					svc.Spec.Ports[i].Protocol = v1.ProtocolTCP
				}
			}
			return svc, err
		},
		list: func(objs []runtime.Named, rev string) runtime.Object {
			l := &v1.ServiceList{TypeMeta: v1.TypeMeta{Kind: "ServiceList", APIVersion: "v1"}, ListMeta: v1.ListMeta{ResourceVersion: rev}}
			for _, o := range objs {
				l.Items = append(l.Items, *o.(*v1.Service))
			}
			return l
		},
	}
	return s
}

type status struct {
	Kind    string `json:"kind"`
	Status  string `json:"status"`
	Message string `json:"message"`
	Code    int    `json:"code"`
}

func writeJSON(w http.ResponseWriter, code int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func fail(w http.ResponseWriter, code int, format string, args ...interface{}) {
	writeJSON(w, code, status{Kind: "Status", Status: "Failure", Message: fmt.Sprintf(format, args...), Code: code})
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(p) == 1 && p[0] == "healthz":
		w.Write([]byte("ok"))
	case len(p) == 1 && p[0] == "version":
		writeJSON(w, http.StatusOK, version.Get())
	case len(p) == 3 && p[0] == "api" && p[1] == "v1":
		s.collection(w, r, "", p[2])
	case len(p) == 5 && p[0] == "api" && p[1] == "v1" && p[2] == "namespaces":
		s.collection(w, r, p[3], p[4])
	case len(p) == 6 && p[0] == "api" && p[1] == "v1" && p[2] == "namespaces":
		s.item(w, r, p[3], p[4], p[5])
	default:
		fail(w, http.StatusNotFound, "no such path %s", r.URL.Path)
	}
}

func (s *Server) collection(w http.ResponseWriter, r *http.Request, ns, res string) {
	rs, ok := s.resources[res]
	if !ok {
		fail(w, http.StatusNotFound, "no resource %q", res)
		return
	}
	switch {
	case r.Method == http.MethodGet:
		objs, rev := rs.store.List(ns)
		writeJSON(w, http.StatusOK, rs.list(objs, rev))
	case r.Method == http.MethodPost && ns != "":
		obj, err := rs.decode(json.NewDecoder(r.Body))
		if err != nil {
			fail(w, http.StatusBadRequest, "decoding a %s: %v", rs.kind, err)
			return
		}
		if obj.GetName() == "" {
			fail(w, http.StatusUnprocessableEntity, "%s has no metadata.name", rs.kind)
			return
		}
		s.fill(obj, rs.kind, ns)
		rev, err := rs.store.Create(obj)
		if errors.As(err, &registry.ErrExists{}) {
			fail(w, http.StatusConflict, "%s %s", rs.kind, err)
			return
		}
		setRev(obj, rev)
		writeJSON(w, http.StatusCreated, obj)
	default:
		fail(w, http.StatusMethodNotAllowed, "%s not allowed here", r.Method)
	}
}

func (s *Server) item(w http.ResponseWriter, r *http.Request, ns, res, name string) {
	rs, ok := s.resources[res]
	if !ok {
		fail(w, http.StatusNotFound, "no resource %q", res)
		return
	}
	var err error
	switch r.Method {
	case http.MethodGet:
		var obj runtime.Named
		if obj, err = rs.store.Get(ns, name); err == nil {
			writeJSON(w, http.StatusOK, obj)
			return
		}
	case http.MethodDelete:
		if err = rs.store.Delete(ns, name); err == nil {
			writeJSON(w, http.StatusOK, status{Kind: "Status", Status: "Success", Code: http.StatusOK})
			return
		}
	default:
		fail(w, http.StatusMethodNotAllowed, "%s not allowed here", r.Method)
		return
	}
	fail(w, http.StatusNotFound, "%s %s", rs.kind, err)
}

// fill sets what the server owns in a new object's metadata.
func (s *Server) fill(obj runtime.Named, kind, ns string) {
	var tm *v1.TypeMeta
	var om *v1.ObjectMeta
	switch o := obj.(type) {
	case *v1.Pod:
		tm, om = &o.TypeMeta, &o.ObjectMeta
	case *v1.Service:
		tm, om = &o.TypeMeta, &o.ObjectMeta
	default:
		return
	}
	tm.Kind, tm.APIVersion = kind, "v1"
	om.Namespace = ns
	n := atomic.AddUint64(&s.uid, 1)
	om.UID = fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n)
	om.CreationTimestamp = s.now().UTC().Truncate(time.Second)
}

func setRev(obj runtime.Named, rev string) {
	switch o := obj.(type) {
	case *v1.Pod:
		o.ResourceVersion = rev
	case *v1.Service:
		o.ResourceVersion = rev
	}
}
