// kube-mini-apiserver serves pods and services from memory over HTTP.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"k8s.io/kube-mini/pkg/apiserver"
	"k8s.io/kube-mini/pkg/version/verflag"
)

func main() {
	fs := flag.NewFlagSet("kube-mini-apiserver", flag.ExitOnError)
	addr := fs.String("bind-address", "127.0.0.1", "address to listen on")
	port := fs.Int("insecure-port", 8080, "port to serve plain HTTP on")
	ver := verflag.Add(fs, "kube-mini-apiserver")
	fs.Parse(os.Args[1:])
	ver.PrintAndExitIfRequested()

	listen := net.JoinHostPort(*addr, fmt.Sprint(*port))
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		log.Fatalf("kube-mini-apiserver: %v", err)
	}
	log.Printf("kube-mini-apiserver: serving on http://%s", ln.Addr())
	log.Fatal(http.Serve(ln, apiserver.New()))
}
