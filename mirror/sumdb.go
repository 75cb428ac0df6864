package mirror

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/gostrap/gostrap/download"
	"github.com/gostrap/gostrap/verify"
)

// SumDBRemote reaches a checksum database as the go command does (cmd/go's
// dbClient.initBase): at the URL GOSUMDB gives, if it gives one; else through the first proxy
// of the GOPROXY list whose <proxy>/sumdb/<name>/supported answers 200, falling through on 404
// and 410 (on any error after "|"); "direct", "off", or running out of proxies on not-found
// means https://<name> itself. The base found is kept for the run; a failure to find it is
// not, so one network blip does not decide the rest of the run.
type SumDBRemote struct {
	Client  *download.Client
	Proxies ProxyList
	// Name is the database's name; URL the address GOSUMDB gave, if any.
	Name, URL string

	mu   sync.Mutex
	base string
}

// Read fetches a path of the database's protocol (/lookup/..., /tile/..., /latest).
func (r *SumDBRemote) Read(ctx context.Context, path string) ([]byte, error) {
	base, err := r.Base(ctx)
	if err != nil {
		return nil, err
	}
	return r.Client.Get(ctx, base+path, verify.MaxSumDBDoc)
}

// Base is where the database is reached.
func (r *SumDBRemote) Base(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.base != "" {
		return r.base, nil
	}
	if r.URL != "" {
		r.base = r.URL
		return r.base, nil
	}
	var found string
	err := errProxyless
	if len(r.Proxies) > 0 {
		err = r.Proxies.Try(func(proxy string) error {
			if proxy == DirectToolchainBase {
				return errProxyless
			}
			_, err := r.Client.Get(ctx, proxy+"/sumdb/"+r.Name+"/supported", verify.MaxSumDBDoc)
			if err == nil {
				found = proxy + "/sumdb/" + r.Name
			}
			return err
		})
	}
	switch {
	case err == nil:
		r.base = found
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, ErrProxyOff):
		r.base = "https://" + r.Name
	default:
		return "", err
	}
	return r.base, nil
}

// errProxyless marks "direct": stop looking at proxies and connect to the database itself. It
// matches fs.ErrNotExist so that ProxyList.Try treats it as a fall-through.
var errProxyless = fmt.Errorf("direct connection: %w", fs.ErrNotExist)
