package download

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// A log line written while a bar is shown gets a line of its own, and the bar is drawn again
// below it: nothing is glued to the bar.
func TestBarLogLineOnItsOwnLine(t *testing.T) {
	var out bytes.Buffer
	b := NewBar(&out, 100)
	tr := b.Start("go1.22.3.linux-amd64.tar.gz", 64<<20, 0)
	tr.Add(8 << 20)
	if !strings.Contains(out.String(), "12%") || !strings.Contains(out.String(), "/64 MiB") {
		t.Fatalf("the bar shows no percentage or total: %q", out.String())
	}
	b.Write([]byte("gostrap: go1.22.3.linux-amd64.tar.gz: 8 connections\n"))
	time.Sleep(150 * time.Millisecond) // past the bar's redraw throttle
	tr.Add(8 << 20)
	tr.Finish()
	b.Write([]byte("gostrap: installed\n"))

	s := out.String()
	for _, line := range strings.Split(s, "\n") {
		// What stays on screen of a line is what follows the last erase or carriage return.
		visible := line
		if i := strings.LastIndexAny(visible, "\r"); i >= 0 {
			visible = visible[i+1:]
		}
		visible = strings.TrimPrefix(visible, "\x1b[2K")
		if strings.Contains(visible, "gostrap:") && !strings.HasPrefix(visible, "gostrap:") {
			t.Errorf("a log line is glued to something: %q", line)
		}
	}
	const logged = "\r\x1b[2Kgostrap: go1.22.3.linux-amd64.tar.gz: 8 connections\n"
	i := strings.Index(s, logged)
	if i < 0 || !strings.HasPrefix(s[i+len(logged):], "\rgo1.22.3.linux-amd64.tar.gz  12%") {
		t.Errorf("the bar was not erased, then drawn again under the log line: %q", s)
	}
	if !strings.Contains(s, "\x1b[2Kgostrap: go1.22.3.linux-amd64.tar.gz: stopped at 16.0 MiB of 64.0 MiB (25%)") {
		t.Errorf("a transfer that stopped midway does not say how far it got: %q", s)
	}
}

// A download whose size no index declared shows a spinner until the server states the size,
// then a bar with the total.
func TestBarLearnsTotal(t *testing.T) {
	var out bytes.Buffer
	b := NewBar(&out, 100)
	tr := b.Start("go1.22.3.linux-amd64.tar.gz", 0, 0)
	tr.Add(1 << 20)
	if strings.Contains(out.String(), "%") {
		t.Fatalf("a bar without a total shows a percentage: %q", out.String())
	}
	SetTotal(tr, 4<<20)
	out.Reset()
	time.Sleep(150 * time.Millisecond)
	tr.Add(1 << 20)
	if !strings.Contains(out.String(), "50%") || !strings.Contains(out.String(), "/4.0 MiB") {
		t.Fatalf("the bar does not show the total learned: %q", out.String())
	}
	tr.Add(2 << 20)
	tr.Finish()
	if !strings.Contains(out.String(), "gostrap: go1.22.3.linux-amd64.tar.gz: 4.0 MiB in ") {
		t.Errorf("no line for the finished transfer: %q", out.String())
	}
}

// Lines for logs and CI carry the total, the percentage and the time left.
func TestLinesCarryTotal(t *testing.T) {
	var out bytes.Buffer
	p := NewLines(&out, time.Nanosecond)
	tr := p.Start("go1.22.3.linux-amd64.tar.gz", 0, 0)
	SetTotal(tr, 1000)
	time.Sleep(time.Millisecond)
	tr.Add(500)
	if !strings.Contains(out.String(), "500 B of 1000 B (50%)") || !strings.Contains(out.String(), " left") {
		t.Errorf("line without total, percentage or time left: %q", out.String())
	}
}
