package gostrap

import (
	"context"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/gostrap/gostrap/internal/failure"
	"github.com/gostrap/gostrap/internal/probe"
	"github.com/gostrap/gostrap/mirror"
)

// sourceProbe is what probing one source found. A proxy source is several proxies; it can
// serve if any of them answers.
type sourceProbe struct {
	src    *Source
	probes []*probe.Result
}

// ok reports whether the source answered as a working source does.
func (sp *sourceProbe) ok() bool {
	for _, p := range sp.probes {
		if p.OK {
			return true
		}
	}
	return len(sp.probes) == 0
}

// latency is the fastest answer among the source's probes.
func (sp *sourceProbe) latency() time.Duration {
	best := time.Duration(-1)
	for _, p := range sp.probes {
		if d := time.Duration(p.LatencyMS) * time.Millisecond; p.OK && (best < 0 || d < best) {
			best = d
		}
	}
	return best
}

// problem is the first failure, for the report.
func (sp *sourceProbe) problem() (*probe.Result, *failure.Problem) {
	for _, p := range sp.probes {
		if p.Error != nil {
			return p, p.Error
		}
	}
	return nil, nil
}

// probeURLs are the URLs that show whether s can serve, with the statuses that mean it can.
func probeURLs(s *Source) ([]string, func(int) bool) {
	switch s.Kind {
	case KindOfficial:
		// The index itself: a site whose index is missing cannot serve.
		return []string{mirror.Official{Base: s.URL}.IndexURL()}, func(st int) bool { return st == 200 }
	case KindMirror:
		// A flat mirror need not list its root: any answer short of a server error will do.
		return []string{s.URL}, func(st int) bool { return st < 500 }
	case KindProxy:
		var urls []string
		for _, e := range s.proxies {
			switch e.URL {
			case "off":
				continue
			case "direct":
				urls = append(urls, mirror.ToolchainProxy{Base: mirror.DirectToolchainBase}.ListURL())
			default:
				urls = append(urls, mirror.ToolchainProxy{Base: e.URL}.ListURL())
			}
		}
		// 404 and 410 are answers: a "," list falls through them.
		return urls, func(st int) bool { return st == 200 || st == 404 || st == 410 }
	}
	return nil, nil
}

// probeSources probes sources in parallel, each stage bounded by timeout.
func (in *Installer) probeSources(ctx context.Context, srcs []*Source) map[*Source]*sourceProbe {
	public := mirror.PublicHosts()
	out := map[*Source]*sourceProbe{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range srcs {
		sp := &sourceProbe{src: s}
		out[s] = sp
		urls, accept := probeURLs(s)
		sp.probes = make([]*probe.Result, len(urls))
		for i, u := range urls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pu, _ := url.Parse(u)
				p := probe.URL(ctx, in.client, u, probe.Options{
					StageTimeout: in.opts.ProbeTimeout, Accept: accept, Public: pu != nil && public[pu.Hostname()]})
				mu.Lock()
				sp.probes[i] = p
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	return out
}

// probe runs before anything is fetched: every source and official index at once, so that a
// dead source costs one probe budget in parallel rather than a timeout each, in turn. Sources
// that cannot serve are recorded with the probe's diagnosis and not tried; the rest are
// ordered healthy first, then by latency class, keeping the configured order among equals.
func (r *run) probe(ctx context.Context) {
	all := r.srcs.indexOrder()
	var targets []*Source
	for _, s := range all {
		if s.Kind != KindBundle {
			targets = append(targets, s)
		}
	}
	if len(targets) == 0 {
		return
	}
	start := time.Now()
	res := r.in.probeSources(ctx, targets)
	for _, s := range targets {
		sp := res[s]
		if sp.ok() {
			continue
		}
		p, prob := sp.problem()
		u := s.URL
		if p != nil {
			u = p.URL
		}
		if prob == nil {
			continue
		}
		r.rep.Attempts = append(r.rep.Attempts, Attempt{Source: failure.Redact(s.URL), Kind: string(s.Kind), URL: failure.Redact(u),
			Stage: "probe", Error: prob, DurationMS: time.Since(start).Milliseconds()})
		r.dead[s] = true
		r.in.logf("%s: unreachable: %s: %s", s, prob.Class, firstLine(prob.Message))
	}
	rank := func(s *Source) int {
		sp, ok := res[s]
		if !ok {
			return 1 // bundles: local, after the healthy network sources in their class
		}
		if !sp.ok() {
			return 10
		}
		switch d := sp.latency(); {
		case d < 100*time.Millisecond:
			return 0
		case d < 300*time.Millisecond:
			return 1
		case d < time.Second:
			return 2
		}
		return 3
	}
	slices.SortStableFunc(r.srcs.Order, func(a, b *Source) int { return rank(a) - rank(b) })
}
