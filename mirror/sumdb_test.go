package mirror_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/mirror"
)

// A failure to find the checksum database through the proxies is not kept: one network blip
// does not decide the rest of the run. The base found is kept.
func TestSumDBRemoteKeepsTheBaseNotTheFailure(t *testing.T) {
	os.Setenv(download.TestNetworkEnv, "loopback")
	var down atomic.Bool
	down.Store(true)
	var supported atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if r.URL.Path == "/sumdb/sum.test/supported" {
			supported.Add(1)
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	c, err := download.New(download.Config{RetryMax: -1, RetryWaitMin: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	list, _ := mirror.ParseGOPROXY(srv.URL)
	r := &mirror.SumDBRemote{Client: c, Proxies: list, Name: "sum.test"}
	if _, err := r.Read(context.Background(), "/latest"); err == nil {
		t.Fatal("read through a failing proxy succeeded")
	}
	down.Store(false)
	for range 2 {
		if data, err := r.Read(context.Background(), "/latest"); err != nil || string(data) != "ok" {
			t.Fatalf("after the blip: %q %v", data, err)
		}
	}
	if n := supported.Load(); n != 1 {
		t.Fatalf("supported asked %d times once it answered, want once", n)
	}
}
