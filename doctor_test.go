package gostrap

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gostrap/gostrap/internal/mirrortest"
)

// Doctor reaches the checksum database the way install does (mirror.SumDBRemote, cmd/go's
// dbClient): through the first proxy of GOPROXY that serves it, falling through as the list
// says, and directly only when the list gets to direct or off, or no proxy serves it.
func TestDoctorProbesTheDatabaseAsInstallReachesIt(t *testing.T) {
	s := mirrortest.Start(t, fixture)
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer failing.Close()
	supported := func(base string) string { return base + "/sumdb/" + fixture.DBName + "/supported" }
	direct := "https://" + fixture.DBName + "/latest"
	for _, tc := range []struct {
		goproxy string
		want    []string
		ok      bool
	}{
		{s.ProxyURL(), []string{supported(s.ProxyURL())}, true},
		{notFound.URL + "," + s.ProxyURL(), []string{supported(notFound.URL), supported(s.ProxyURL())}, true},
		{failing.URL + "," + s.ProxyURL(), []string{supported(failing.URL)}, false}, // "," stops at a failure
		{failing.URL + "|" + s.ProxyURL(), []string{supported(failing.URL), supported(s.ProxyURL())}, true},
		{notFound.URL, []string{supported(notFound.URL), direct}, false}, // no proxy serves it: direct
		{notFound.URL + ",direct", []string{supported(notFound.URL), direct}, false},
		{"direct", []string{direct}, false},
		{"off", []string{direct}, false},
	} {
		t.Run(tc.goproxy, func(t *testing.T) {
			o := testOptions(t, s)
			o.GOPROXY = tc.goproxy
			d, err := mustInstaller(t, o).Doctor(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			ok := false
			for _, src := range d.Sources {
				if src.Kind == KindSumDB {
					ok = src.OK
					for _, p := range src.Probes {
						got = append(got, p.URL)
					}
				}
			}
			if !slices.Equal(got, tc.want) || ok != tc.ok {
				t.Errorf("GOPROXY=%s: probed %v (ok %v), want %v (ok %v)", tc.goproxy, got, ok, tc.want, tc.ok)
			}
			for _, u := range got {
				if strings.Contains(u, "sum.golang.org") {
					t.Errorf("probed %s", u)
				}
			}
		})
	}
}
