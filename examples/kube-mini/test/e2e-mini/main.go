// e2e-mini is kube-mini's end-to-end test binary, the counterpart of
// Kubernetes' e2e.test: it is built by `make cross` for the test
// platforms and shipped in the test tarballs and the conformance image.
// It checks a running kube-mini-apiserver: the version answers, and a pod
// can be created, read back and deleted.
//
//	e2e-mini [--server URL] [--namespace NS]
package main

import (
	"flag"
	"fmt"
	"os"

	v1 "k8s.io/kube-mini/pkg/apis/core/v1"
	"k8s.io/kube-mini/pkg/client"
	"k8s.io/kube-mini/pkg/version"
	"k8s.io/kube-mini/pkg/version/verflag"
)

func main() {
	fs := flag.NewFlagSet("e2e-mini", flag.ContinueOnError)
	server := fs.String("server", envOr("KUBE_MINI_SERVER", "http://127.0.0.1:8080"), "the API server")
	ns := fs.String("namespace", "e2e-mini", "namespace the test pod is made in")
	ver := verflag.Add(fs, "e2e-mini")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	ver.PrintAndExitIfRequested()

	c := client.New(*server)
	failed := 0
	step := func(name string, f func() error) {
		if err := f(); err != nil {
			fmt.Printf("FAIL %s: %v\n", name, err)
			failed++
			return
		}
		fmt.Printf("ok   %s\n", name)
	}
	step("the server answers /version", func() error {
		var info version.Info
		return c.Do("GET", "/version", nil, &info)
	})
	pod := &v1.Pod{
		TypeMeta:   v1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: v1.ObjectMeta{Name: "e2e-mini", Namespace: *ns},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "e2e-mini"}}},
	}
	step("a pod is created", func() error {
		return c.Do("POST", client.Path(*ns, "pods", ""), pod, nil)
	})
	step("the pod reads back", func() error {
		var got v1.Pod
		if err := c.Do("GET", client.Path(*ns, "pods", pod.Name), nil, &got); err != nil {
			return err
		}
		if got.Name != pod.Name {
			return fmt.Errorf("got pod %q", got.Name)
		}
		return nil
	})
	step("the pod is deleted", func() error {
		return c.Do("DELETE", client.Path(*ns, "pods", pod.Name), nil, nil)
	})
	if failed > 0 {
		fmt.Printf("%d failed\n", failed)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
