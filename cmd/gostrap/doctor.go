package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gostrap/gostrap"
	"github.com/gostrap/gostrap/internal/failure"
)

func runDoctor(x *invocation) error {
	for _, u := range x.args {
		if err := checkSiteURL(u); err != nil || u == "off" {
			return badValue("URL", u, errors.New("want an http:// or https:// URL"))
		}
	}
	in, err := x.installer(true)
	if err != nil {
		return err
	}
	d, err := in.Doctor(x.ctx, x.args)
	if err != nil {
		return err
	}
	if x.o.json {
		writeJSON(x.stdout, d)
	} else {
		printDiagnosis(x.stdout, d)
	}
	if !d.CanServe {
		return errNothingServes
	}
	return nil
}

// errNothingServes is doctor's verdict when no source can serve: exit 3.
var errNothingServes = &noSourceError{}

type noSourceError struct{}

func (*noSourceError) Error() string        { return "no source can serve an install from this machine" }
func (*noSourceError) Class() failure.Class { return failure.NotFound }
func (*noSourceError) Hint() string {
	return "fix the first failure listed above, or carry Go in with a bundle (gostrap bundle create on a connected machine, then --bundle PATH)"
}

// printDiagnosis prints nearest first: local configuration, then each source's proxy, DNS, TCP,
// TLS and HTTP stages, with the cause and remedy of the first failure.
func printDiagnosis(w io.Writer, d *gostrap.Diagnosis) {
	fmt.Fprintln(w, "configuration")
	for _, s := range d.Config {
		fmt.Fprintf(w, "  %-12s %s\n", s.Name, s.Value)
	}
	for _, s := range d.Sources {
		fmt.Fprintf(w, "\n%s %s\n", s.Kind, s.URL)
		for _, p := range s.Probes {
			if len(s.Probes) > 1 || p.URL != s.URL {
				fmt.Fprintf(w, "  %s\n", p.URL)
			}
			printProbe(w, p)
		}
		if s.OK {
			fmt.Fprintln(w, "  => ok")
		} else if len(s.Probes) > 0 && s.Probes[0].Error != nil {
			fmt.Fprintf(w, "  => fails: %s\n", s.Probes[0].Error.Class)
		}
	}
	fmt.Fprintln(w)
	if d.CanServe {
		fmt.Fprintf(w, "gostrap can install from: %s\n", strings.Join(d.Use, "; "))
	} else {
		fmt.Fprintln(w, "no source can serve an install: fix the first failure above, or use an offline bundle (gostrap bundle create on a connected machine, then --bundle PATH)")
	}
}

func printProbe(w io.Writer, p *gostrap.Probe) {
	for _, st := range p.Stages {
		status := "ok  "
		if !st.OK {
			status = "FAIL"
		}
		detail := st.Detail
		if st.Error != nil {
			detail = string(st.Error.Class) + ": " + firstLine(st.Error.Message)
		}
		fmt.Fprintf(w, "    %-5s %s  %s (%d ms)\n", st.Name, status, detail, st.DurationMS)
		if st.Name == "tls" && p.TLS != nil {
			printTLS(w, p.TLS)
		}
		if st.Error != nil && st.Error.Hint != "" {
			fmt.Fprintf(w, "          hint: %s\n", st.Error.Hint)
		}
	}
	if p.TLS != nil && !hasStage(p, "tls") {
		printTLS(w, p.TLS)
	}
	if skew := p.ClockSkewMS; skew > 5*60*1000 || skew < -5*60*1000 {
		fmt.Fprintf(w, "          clock: the server's Date is %+d s from this machine's clock\n", skew/1000)
	}
}

func hasStage(p *gostrap.Probe, name string) bool {
	for _, s := range p.Stages {
		if s.Name == name {
			return true
		}
	}
	return false
}

// printTLS shows what openssl s_client would: protocol, cipher and the chain.
func printTLS(w io.Writer, t *gostrap.TLSInfo) {
	if t.Version != "" {
		fmt.Fprintf(w, "          protocol %s, cipher %s\n", t.Version, t.Cipher)
	}
	if t.InspectedBy != "" {
		fmt.Fprintf(w, "          re-signed by %q: TLS inspection\n", t.InspectedBy)
	}
	for i, c := range t.Chain {
		fmt.Fprintf(w, "          %d subject %s\n", i, c.Subject)
		fmt.Fprintf(w, "            issuer  %s\n", c.Issuer)
		if len(c.SANs) > 0 {
			fmt.Fprintf(w, "            SANs    %s\n", strings.Join(c.SANs, ", "))
		}
		fmt.Fprintf(w, "            valid   %s to %s\n", c.NotBefore.Format("2006-01-02 15:04 UTC"), c.NotAfter.Format("2006-01-02 15:04 UTC"))
	}
}
