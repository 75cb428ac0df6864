package gostrap

import (
	"context"
	"net/url"
	"slices"
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

// startProbes probes every source at once, each stage bounded by the probe timeout, and sends
// each source's verdict on the channel as soon as it is known: the first of its URLs that
// answers, or all of them failing. The channel has room for every verdict: nobody need wait.
func (in *Installer) startProbes(ctx context.Context, srcs []*Source) <-chan *sourceProbe {
	out := make(chan *sourceProbe, len(srcs))
	for _, s := range srcs {
		urls, accept := probeURLs(s)
		if len(urls) == 0 {
			out <- &sourceProbe{src: s}
			continue
		}
		results := make(chan *probe.Result, len(urls))
		for _, u := range urls {
			go func() { results <- in.probeURL(ctx, u, accept) }()
		}
		go func() {
			sp := &sourceProbe{src: s}
			for range urls {
				p := <-results
				sp.probes = append(sp.probes, p)
				if p.OK {
					break
				}
			}
			out <- sp
		}()
	}
	return out
}

// probeURL probes u stage by stage, each stage within the probe timeout; accept says which
// statuses mean it works. A public site's certificate from a private CA is named as inspection.
func (in *Installer) probeURL(ctx context.Context, u string, accept func(int) bool) *probe.Result {
	pu, _ := url.Parse(u)
	return probe.URL(ctx, in.client, u, probe.Options{StageTimeout: in.opts.ProbeTimeout, Accept: accept,
		Public: pu != nil && mirror.PublicHosts()[pu.Hostname()]})
}

// probeSources probes sources and waits for every verdict (doctor, which shows them all).
func (in *Installer) probeSources(ctx context.Context, srcs []*Source) map[*Source]*sourceProbe {
	ch := in.startProbes(ctx, srcs)
	out := map[*Source]*sourceProbe{}
	for range srcs {
		sp := <-ch
		out[sp.src] = sp
	}
	return out
}

// raceGrace is how long, once a source has answered as a healthy one, the run waits for the
// sources it prefers that have not answered yet: a few times the answer's own latency, at least
// 100 ms, at most 400 ms. A silent source then costs that, not a probe timeout.
func raceGrace(latency time.Duration) time.Duration {
	return min(max(3*latency, 100*time.Millisecond), 400*time.Millisecond)
}

// probe races the sources before anything is fetched. Every network source is probed at once;
// as soon as the preferred healthy source is known (every source preferred to it has answered,
// or has been silent for the grace after a healthy answer), the run goes on. Sources that
// answered and cannot serve are recorded with the probe's diagnosis and not tried; sources that
// are silent, or whose probe timed out, are demoted, never excluded: they are tried after the
// healthy ones, with the download's longer budgets. The healthy are ordered by latency class,
// the configured order kept among equals. Verdicts that come later are applied by settle.
func (r *run) probe(ctx context.Context) {
	prefer := r.srcs.indexOrder()
	var targets []*Source
	for _, s := range prefer {
		if s.Kind != KindBundle {
			targets = append(targets, s)
		}
	}
	if len(targets) == 0 {
		return
	}
	r.probeStart = time.Now()
	r.answered = map[*Source]bool{}
	ch := r.in.startProbes(ctx, targets)
	done := map[*Source]*sourceProbe{}
	// The race is decided when the preferred healthy source is known (every source preferred
	// to it has answered) and every official index, which vouches for mirrors' archives, has
	// answered too; or when the grace after the first healthy answer runs out.
	decided := func() bool {
		for _, s := range targets {
			sp, ok := done[s]
			if !ok {
				return false
			}
			if sp.ok() {
				break
			}
		}
		for _, s := range r.srcs.Official {
			if _, ok := done[s]; !ok {
				return false
			}
		}
		return true
	}
	var graceC <-chan time.Time
wait:
	for !decided() {
		select {
		case sp := <-ch:
			done[sp.src] = sp
			if sp.ok() && graceC == nil {
				graceC = time.After(raceGrace(sp.latency()))
			}
		case <-graceC:
			break wait
		case <-ctx.Done():
			return
		}
	}
	r.late = ch
	r.pending = len(targets) - len(done)
	for _, s := range targets {
		if sp, ok := done[s]; ok {
			r.verdict(sp)
		}
	}
	rank := func(s *Source) int {
		if s.Kind == KindBundle {
			return 1 // local, after the healthy network sources in their class
		}
		sp, ok := done[s]
		switch {
		case !ok:
			return 5 // silent so far: demoted
		case !sp.ok():
			return 8 // timed out: demoted; or failed for good, and dead
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
	byRank := func(a, b *Source) int { return rank(a) - rank(b) }
	slices.SortStableFunc(r.srcs.Order, byRank)
	slices.SortStableFunc(r.srcs.Official, byRank)
	if r.pending > 0 {
		r.in.logf("going on with the sources that answered in %s; %d still silent, tried last if needed",
			time.Since(r.probeStart).Round(time.Millisecond), r.pending)
	}
}

// demoted reports whether a probe's failure only says the source was slow to answer (it
// timed out): such a source is tried last, with longer budgets, not given up.
func demoted(p *failure.Problem) bool {
	return p.Class == failure.TCPTimeout || p.Class == failure.Stalled
}

// verdict applies a source's probe: one that answered and cannot serve is recorded and dead.
func (r *run) verdict(sp *sourceProbe) {
	if sp.ok() {
		r.answered[sp.src] = true
		return
	}
	p, prob := sp.problem()
	if prob == nil || demoted(prob) {
		return
	}
	r.rep.Attempts = append(r.rep.Attempts, Attempt{Source: failure.Redact(sp.src.URL), Kind: string(sp.src.Kind), URL: failure.Redact(p.URL),
		Stage: "probe", Error: prob, DurationMS: time.Since(r.probeStart).Milliseconds()})
	r.dead[sp.src] = true
	r.in.logf("%s: unreachable: %s: %s", sp.src, prob.Class, firstLine(prob.Message))
}

// settle applies the verdicts of probes that answered after the race was decided. It runs on
// the install's own goroutine, before each choice of a source.
func (r *run) settle() {
	for r.pending > 0 {
		select {
		case sp := <-r.late:
			r.pending--
			r.verdict(sp)
		default:
			return
		}
	}
}

// quick reports whether s is known to answer quickly: its probe answered as a healthy source's,
// or nothing was probed. A source still silent, or whose probe timed out, is asked only when
// nothing quicker can serve.
func (r *run) quick(s *Source) bool {
	r.settle()
	return r.answered == nil || r.answered[s]
}

// isDead reports whether s failed earlier in this run (or its probe has said since that it
// cannot serve).
func (r *run) isDead(s *Source) bool {
	r.settle()
	return r.dead[s]
}
