package layout

import (
	"net/url"
	"path/filepath"
	"runtime"
	"testing"
)

func TestFileURL(t *testing.T) {
	cases := map[string]string{
		"/home/ann/.cache/gostrap/dl/go1.22.3.linux-amd64.tar.gz": "file:///home/ann/.cache/gostrap/dl/go1.22.3.linux-amd64.tar.gz",
		"/home/ann lee/100%/x#y":                                  "file:///home/ann%20lee/100%25/x%23y",
	}
	if runtime.GOOS == "windows" {
		cases = map[string]string{
			`C:\Users\Ann Lee\AppData\Local\gostrap\cache\dl\go1.22.3.windows-amd64.zip`: "file:///C:/Users/Ann%20Lee/AppData/Local/gostrap/cache/dl/go1.22.3.windows-amd64.zip",
			`\\fileserver\share\gostrap\dl\x.zip`:                                        "file://fileserver/share/gostrap/dl/x.zip",
		}
	}
	for path, want := range cases {
		got := FileURL(path)
		if got != want {
			t.Errorf("FileURL(%q) = %q, want %q", path, got, want)
		}
		if u, err := url.Parse(got); err != nil || u.Scheme != "file" {
			t.Errorf("%q does not parse back: %v", got, err)
		}
	}
}

// TestUpdateSeenMakesTheCache: the rollback record is kept even when nothing else has used
// the cache directory yet (an install from a bundle).
func TestUpdateSeenMakesTheCache(t *testing.T) {
	c := Cache{Dir: filepath.Join(t.TempDir(), "new", "cache")}
	if err := c.UpdateSeen(func(sn *Seen, _ error) { sn.Latest = "go1.22.3" }); err != nil {
		t.Fatal(err)
	}
	if sn, err := c.ReadSeen(); err != nil || sn.Latest != "go1.22.3" {
		t.Errorf("seen: %+v, %v", sn, err)
	}
}
