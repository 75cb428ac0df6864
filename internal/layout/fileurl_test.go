package layout

import (
	"net/url"
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
