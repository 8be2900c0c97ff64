// Package client talks to kube-mini-apiserver.
package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Client is a JSON client for one server.
type Client struct {
	Server string
	HTTP   *http.Client
}

// New returns a client for the server at base (e.g. http://127.0.0.1:8080).
func New(base string) *Client {
	return &Client{Server: strings.TrimRight(base, "/"), HTTP: &http.Client{Timeout: 10 * time.Second}}
}

// Path is the collection or item path of a resource.
func Path(namespace, resource, name string) string {
	p := "/api/v1/"
	if namespace != "" {
		p += "namespaces/" + namespace + "/"
	}
	p += resource
	if name != "" {
		p += "/" + name
	}
	return p
}

// Do sends body (when not nil) as JSON and decodes the answer into out
// (when not nil).  A status of 400 or more is an error with the server's
// message.
func (c *Client) Do(method, path string, body, out interface{}) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.Server+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		var st struct{ Message string }
		if json.Unmarshal(data, &st) == nil && st.Message != "" {
			return fmt.Errorf("%s %s: %s", method, path, st.Message)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}
