// Package version holds the version of the kube-mini binaries.
//
// The variables below are set at link time by hack/lib/version.sh with
// -ldflags "-X k8s.io/kube-mini/pkg/version.gitVersion=...", from git or
// from $KUBE_GIT_VERSION_FILE.  A plain `go build` leaves the defaults,
// which say that nothing was stamped.
package version

var (
	gitMajor     string                    // major version, e.g. "1"
	gitMinor     string                    // minor version, e.g. "0" or "0+"
	gitVersion   = "v0.0.0-master+unknown" // semantic version from `git describe`
	gitCommit    = ""                      // sha1 of the commit built
	gitTreeState = ""                      // "clean", "dirty", or "" when not stamped
	buildDate    = "1970-01-01T00:00:00Z"  // RFC 3339, from SOURCE_DATE_EPOCH or the commit
)
