package cli

import (
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress shows how much of a long job is done: bytes, rate and time left,
// on a terminal only. Its methods are safe for concurrent use, and do
// nothing when out is not a terminal.
type Progress struct {
	bar *progressbar.ProgressBar
}

// NewProgress starts a progress bar of total bytes on out, when out is a
// terminal.
func NewProgress(out *os.File, total int64, what string) *Progress {
	if out == nil || !term.IsTerminal(int(out.Fd())) {
		return &Progress{}
	}
	return &Progress{bar: progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(out),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionFullWidth(),
		progressbar.OptionSetRenderBlankState(true),
	)}
}

// Add records n more bytes done.
func (p *Progress) Add(n int64) {
	if p.bar != nil {
		_ = p.bar.Add64(n) // a terminal that fails to draw a bar is no reason to stop
	}
}

// Clear removes the bar from the terminal, for a line of output to be
// printed; the next Add draws it again.
func (p *Progress) Clear() {
	if p.bar != nil {
		_ = p.bar.Clear()
	}
}

// Finish removes the bar.
func (p *Progress) Finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
