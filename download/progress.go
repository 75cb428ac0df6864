package download

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress starts a tracker per transfer.
type Progress interface {
	Start(label string, total, done int64) Tracker
}

// Tracker follows one transfer. Add may be called from several goroutines (segments).
type Tracker interface {
	Add(n int64)
	Finish()
}

type nopTracker struct{}

func (nopTracker) Add(int64) {}
func (nopTracker) Finish()   {}

// NewBar draws a progress bar on w, for a terminal.
func NewBar(w io.Writer) Progress { return barProgress{w} }

type barProgress struct{ w io.Writer }

func (p barProgress) Start(label string, total, done int64) Tracker {
	if total <= 0 {
		total = -1
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(label),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowCount(),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionUseIECUnits(true),
	)
	if done > 0 {
		bar.Set64(done)
	}
	return barTracker{bar}
}

type barTracker struct{ bar *progressbar.ProgressBar }

func (t barTracker) Add(n int64) { t.bar.Add64(n) }
func (t barTracker) Finish()     { t.bar.Finish() }

// NewLines prints a plain line every interval on w, for logs and CI where a bar would be noise.
func NewLines(w io.Writer, interval time.Duration) Progress {
	return lineProgress{w: w, every: interval}
}

type lineProgress struct {
	w     io.Writer
	every time.Duration
}

func (p lineProgress) Start(label string, total, done int64) Tracker {
	now := time.Now()
	return &lineTracker{p: p, label: label, total: total, done: done, start: now, last: now, first: done}
}

type lineTracker struct {
	p     lineProgress
	label string
	mu    sync.Mutex
	total int64
	done  int64
	first int64
	start time.Time
	last  time.Time
}

func (t *lineTracker) Add(n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done += n
	if now := time.Now(); now.Sub(t.last) >= t.p.every {
		t.last = now
		fmt.Fprintf(t.p.w, "gostrap: %s: %s\n", t.label, t.status(now))
	}
}

func (t *lineTracker) status(now time.Time) string {
	rate := float64(t.done-t.first) / max(now.Sub(t.start).Seconds(), 1e-3)
	if t.total > 0 {
		return fmt.Sprintf("%s of %s (%d%%), %s/s", Bytes(t.done), Bytes(t.total), t.done*100/t.total, Bytes(int64(rate)))
	}
	return fmt.Sprintf("%s, %s/s", Bytes(t.done), Bytes(int64(rate)))
}

func (t *lineTracker) Finish() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if time.Since(t.start) >= t.p.every {
		fmt.Fprintf(t.p.w, "gostrap: %s: %s in %s\n", t.label, Bytes(t.done), time.Since(t.start).Round(100*time.Millisecond))
	}
}

// Bytes formats n in IEC units.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
