package apiserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	v1 "k8s.io/kube-mini/pkg/apis/core/v1"
)

func do(t *testing.T, h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	return rec
}

func TestCreateGetList(t *testing.T) {
	s := New()
	rec := do(t, s, "POST", "/api/v1/namespaces/default/pods", `{"metadata":{"name":"web"},"spec":{"containers":[{"name":"c","image":"i"}]}}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, s, "POST", "/api/v1/namespaces/default/pods", `{"metadata":{"name":"web"}}`); rec.Code != http.StatusConflict {
		t.Fatalf("second create: %d, want 409", rec.Code)
	}
	rec = do(t, s, "GET", "/api/v1/namespaces/default/pods/web", "")
	var p v1.Pod
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Name != "web" || p.Status.Phase != v1.PodPending || p.UID == "" {
		t.Fatalf("get: %v %+v", err, p)
	}
	rec = do(t, s, "GET", "/api/v1/pods", "")
	var l v1.PodList
	if err := json.Unmarshal(rec.Body.Bytes(), &l); err != nil || len(l.Items) != 1 || l.Kind != "PodList" {
		t.Fatalf("list: %v %+v", err, l)
	}
	if rec := do(t, s, "DELETE", "/api/v1/namespaces/default/pods/web", ""); rec.Code != http.StatusOK {
		t.Fatalf("delete: %d", rec.Code)
	}
	if rec := do(t, s, "GET", "/api/v1/namespaces/default/pods/web", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("get after delete: %d", rec.Code)
	}
}

func TestVersionAndHealth(t *testing.T) {
	s := New()
	if rec := do(t, s, "GET", "/healthz", ""); rec.Body.String() != "ok" {
		t.Fatalf("healthz: %q", rec.Body)
	}
	if rec := do(t, s, "GET", "/version", ""); !strings.Contains(rec.Body.String(), "gitVersion") {
		t.Fatalf("version: %s", rec.Body)
	}
}
