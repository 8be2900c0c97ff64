// kube-mini-proxy reads the services from kube-mini-apiserver and prints
// the forwarding rules for them, once or every --sync-period.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	v1 "k8s.io/kube-mini/pkg/apis/core/v1"
	"k8s.io/kube-mini/pkg/client"
	"k8s.io/kube-mini/pkg/proxy"
	"k8s.io/kube-mini/pkg/version/verflag"
)

func main() {
	fs := flag.NewFlagSet("kube-mini-proxy", flag.ExitOnError)
	master := fs.String("master", "http://127.0.0.1:8080", "the API server")
	period := fs.Duration("sync-period", 30*time.Second, "how often to sync the rules")
	once := fs.Bool("once", false, "sync once and exit")
	ver := verflag.Add(fs, "kube-mini-proxy")
	fs.Parse(os.Args[1:])
	ver.PrintAndExitIfRequested()

	c := client.New(*master)
	last := ""
	for {
		var l v1.ServiceList
		if err := c.Do("GET", client.Path("", "services", ""), nil, &l); err != nil {
			if *once {
				log.Fatalf("kube-mini-proxy: %v", err)
			}
			log.Printf("kube-mini-proxy: %v", err)
		} else if text := proxy.Render(proxy.Rules(l.Items)); text != last {
			fmt.Print(text)
			last = text
		}
		if *once {
			return
		}
		time.Sleep(*period)
	}
}
