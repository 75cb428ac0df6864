package download

import (
	"bytes"
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

// Sizer is a Tracker that can learn the total once the transfer has begun: a download whose
// size no index declared learns it from the server's first answer.
type Sizer interface {
	SetTotal(total int64)
}

// SetTotal tells tr the transfer's total size, when tr can use it.
func SetTotal(tr Tracker, total int64) {
	if s, ok := tr.(Sizer); ok && total > 0 {
		s.SetTotal(total)
	}
}

type nopTracker struct{}

func (nopTracker) Add(int64) {}
func (nopTracker) Finish()   {}

// Bar draws progress bars on a terminal: the file, percentage, bar, bytes of the total, rate,
// and elapsed and remaining time when the size is known; a spinner with bytes and rate only
// while it is not. It is also the writer for log lines (Options.Log): a line written while a
// bar is shown clears the bar's line, is printed on its own line, and the bar is drawn again
// below it, so nothing is ever glued to the bar. Each finished transfer leaves one line.
type Bar struct {
	mu      sync.Mutex
	w       io.Writer
	columns int
	// shown is the bar line on screen (what progressbar last drew), drawn again under a log line.
	shown []byte
}

// NewBar draws on w, a terminal columns wide (80 when columns <= 0).
func NewBar(w io.Writer, columns int) *Bar {
	if columns <= 0 {
		columns = 80
	}
	return &Bar{w: w, columns: columns}
}

const (
	eraseLine = "\r\x1b[2K"
	// barFixed is what a bar line needs besides the label and the bar itself:
	// "  42% |", "| (23.9/65.8 MiB, 13.2 MiB/s) [12s:1m5s] ", with a little room to spare.
	barFixed = 50
)

// Write prints a log line (or several) above the bar.
func (b *Bar) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.shown != nil {
		io.WriteString(b.w, eraseLine)
	}
	_, err := b.w.Write(p)
	if b.shown != nil {
		b.w.Write(b.shown)
	}
	return len(p), err
}

// draw is what progressbar writes through: a bar line ("\r...") or the erasure of a finished
// bar.
func (b *Bar) draw(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case bytes.HasPrefix(p, []byte("\x1b[2K")):
		b.shown = nil
	case bytes.HasPrefix(p, []byte("\r")):
		b.shown = bytes.Clone(p)
	}
	return b.w.Write(p)
}

type barDrawer struct{ b *Bar }

func (d barDrawer) Write(p []byte) (int, error) { return d.b.draw(p) }

// Start shows a bar for one transfer.
func (b *Bar) Start(label string, total, done int64) Tracker {
	t := &barTracker{b: b, label: label, start: time.Now(), first: done, done: done}
	t.bar = t.newBar(total)
	return t
}

type barTracker struct {
	b     *Bar
	label string
	start time.Time
	first int64

	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	total int64
	done  int64
}

func (t *barTracker) newBar(total int64) *progressbar.ProgressBar {
	t.total = total
	label := t.label
	width := t.b.columns - len(label) - barFixed
	if width < 8 {
		// A narrow terminal: shorten the name rather than wrap the line (a wrapped bar cannot be
		// redrawn in place).
		width = 8
		if keep := t.b.columns - barFixed - width; keep < len(label) {
			label = "…" + label[len(label)-min(max(keep-1, 8), len(label)):]
		}
	}
	size := total
	if size <= 0 {
		size = -1 // unknown: a spinner
	}
	bar := progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(barDrawer{t.b}),
		progressbar.OptionSetDescription(label),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetWidth(min(width, 40)),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSpinnerType(14),
		// The spinner turns as bytes arrive; a ticker goroutine would outlive a bar replaced by
		// SetTotal.
		progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionUseANSICodes(true),
	)
	if t.done > 0 {
		bar.Set64(t.done)
	}
	return bar
}

func (t *barTracker) Add(n int64) {
	t.mu.Lock()
	t.done += n
	bar := t.bar
	t.mu.Unlock()
	bar.Add64(n)
}

// SetTotal turns a spinner into a bar once the size is known.
func (t *barTracker) SetTotal(total int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.total == total {
		return
	}
	t.bar = t.newBar(total)
}

func (t *barTracker) Finish() {
	t.mu.Lock()
	bar := t.bar
	line := summary(t.label, t.done, t.total, t.first, time.Since(t.start))
	t.mu.Unlock()
	bar.Exit()
	t.b.mu.Lock()
	if t.b.shown != nil {
		io.WriteString(t.b.w, eraseLine)
		t.b.shown = nil
	}
	t.b.mu.Unlock()
	fmt.Fprintf(t.b, "gostrap: %s\n", line)
}

// summary is the line a finished transfer leaves: its size and rate, or how far it got.
func summary(label string, done, total, first int64, d time.Duration) string {
	rate := Bytes(int64(float64(done-first)/max(d.Seconds(), 1e-3))) + "/s"
	if total > 0 && done < total {
		return fmt.Sprintf("%s: stopped at %s of %s (%d%%) after %s", label, Bytes(done), Bytes(total), done*100/total, d.Round(100*time.Millisecond))
	}
	return fmt.Sprintf("%s: %s in %s (%s)", label, Bytes(done), d.Round(100*time.Millisecond), rate)
}

// NewLines prints a plain line every interval on w, for logs and CI where a bar would be noise:
// bytes of the total, percentage, rate and time left when the size is known.
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

func (t *lineTracker) SetTotal(total int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total = total
}

func (t *lineTracker) status(now time.Time) string {
	rate := float64(t.done-t.first) / max(now.Sub(t.start).Seconds(), 1e-3)
	if t.total > 0 {
		s := fmt.Sprintf("%s of %s (%d%%), %s/s", Bytes(t.done), Bytes(t.total), t.done*100/t.total, Bytes(int64(rate)))
		if rate > 0 && t.done < t.total {
			left := time.Duration(float64(t.total-t.done) / rate * float64(time.Second))
			s += fmt.Sprintf(", %s left", left.Round(time.Second))
		}
		return s
	}
	return fmt.Sprintf("%s, %s/s", Bytes(t.done), Bytes(int64(rate)))
}

func (t *lineTracker) Finish() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if time.Since(t.start) >= t.p.every {
		fmt.Fprintf(t.p.w, "gostrap: %s\n", summary(t.label, t.done, t.total, t.first, time.Since(t.start)))
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
