// Package chartstest opens the pages of internal/charts in a real headless
// chromium with the network cut off, and says what a reader would find
// wrong: a request that left the file, a console error or an exception, a
// chart left blank. It is for tests only; one browser serves every page of
// a test.
package chartstest

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Chromium is Debian's chromium, which .ci/run installs.
const Chromium = "/usr/bin/chromium"

// A chart is blank below these: an empty element is one colour, and an
// ECharts canvas with axes, labels and antialiased lines has hundreds.
const (
	minColours = 16
	minInked   = 0.01 // of the element's pixels
)

// Browser is one headless chromium for the pages of a test.
type Browser struct {
	ctx context.Context
}

// Start starts chromium; it stops when the test ends. A machine without it
// fails the test: the check is the point of the test.
func Start(t testing.TB) *Browser {
	t.Helper()
	if _, err := os.Stat(Chromium); err != nil {
		t.Fatalf("the chart pages are checked in %s, which is missing (apt-get install chromium; .ci/run does): %v", Chromium, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium),
		// Tests run as root, where chromium refuses its sandbox.
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1200, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser now, so that a page's timeout does not include it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", Chromium, err)
	}
	return &Browser{ctx: ctx}
}

// Page is what opening a page showed.
type Page struct {
	// Requests are the URLs the page asked for besides file: URLs; each
	// was refused.
	Requests []string
	// Errors are console errors, uncaught exceptions and error entries of
	// the browser's log.
	Errors []string
	// Charts are the page's chart elements (go-echarts' div.item), in order.
	Charts []Chart
}

// Chart is the pixels of one chart element in a screenshot of the page.
type Chart struct {
	ID            string
	Width, Height int
	// Colours counts the distinct colours inside the element.
	Colours int
	// Inked is the share of its pixels that are not the page's white.
	Inked float64
}

// Blank says whether the chart shows nothing a reader could read.
func (c Chart) Blank() bool { return c.Colours < minColours || c.Inked < minInked }

// Problems are what is wrong with the page, in words; none is a page that
// loaded offline, cleanly, with every chart drawn.
func (p Page) Problems() []string {
	var out []string
	for _, r := range p.Requests {
		out = append(out, "requested "+r)
	}
	for _, e := range p.Errors {
		out = append(out, "console: "+e)
	}
	if len(p.Charts) == 0 {
		out = append(out, "no chart element")
	}
	for _, c := range p.Charts {
		if c.Blank() {
			out = append(out, fmt.Sprintf("chart %s (%dx%d) is blank: %d colours, %.2f%% inked (want at least %d and %.0f%%)",
				c.ID, c.Width, c.Height, c.Colours, 100*c.Inked, minColours, 100*minInked))
		}
	}
	return out
}

// OpenHTML writes a page to a file of the test's own and opens it as Open
// does, failing the test when the browser cannot load it.
func OpenHTML(t testing.TB, name string, html []byte) Page {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, html, 0o600); err != nil {
		t.Fatal(err)
	}
	page, err := Start(t).Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return page
}

// Open loads the HTML file at path in a new tab, every request but file:
// URLs refused, and reads its console and its charts' pixels. With
// CHARTSTEST_SCREENSHOTS set to a directory, the screenshot is saved there.
func (b *Browser) Open(path string) (Page, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Page{}, err
	}
	ctx, cancel := chromedp.NewContext(b.ctx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 30*time.Second)
	defer cancelTimeout()

	var mu sync.Mutex
	var page Page
	var answers sync.WaitGroup
	defer answers.Wait()
	listen := func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *fetch.EventRequestPaused:
			url := ev.Request.URL
			if !strings.HasPrefix(url, "file:") {
				page.Requests = append(page.Requests, url)
			}
			// The listener may not send commands: answer from elsewhere.
			answers.Add(1)
			go func() {
				defer answers.Done()
				if strings.HasPrefix(url, "file:") {
					_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				} else {
					_, _ = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonInternetDisconnected})
				}
			}()
		case *network.EventRequestWillBeSent:
			// What the Fetch domain would not pause (a service worker's, a
			// request that failed before it) is still a request.
			if url := ev.Request.URL; !strings.HasPrefix(url, "file:") && !strings.HasPrefix(url, "data:") && !slices.Contains(page.Requests, url) {
				page.Requests = append(page.Requests, url)
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				page.Errors = append(page.Errors, string(ev.Type)+": "+remoteText(ev.Args))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			text := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				text += " " + d.Exception.Description
			}
			page.Errors = append(page.Errors, fmt.Sprintf("exception at %s:%d: %s", filepath.Base(d.URL), d.LineNumber, text))
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				page.Errors = append(page.Errors, fmt.Sprintf("%s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	}
	if err := chromedp.Listen(ctx, listen); err != nil {
		return Page{}, err
	}
	if err := chromedp.Do(ctx,
		call(network.Enable, network.EnableParams{}),
		call(cdplog.Enable, cdp.Empty{}),
		call(fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*"}}}),
		chromedp.EmulateViewport(1200, 900),
		chromedp.Navigate("file://"+abs),
	); err != nil {
		return Page{}, fmt.Errorf("opening %s: %w", path, err)
	}
	// ECharts draws on the next animation frame; two frames later the
	// canvases hold the picture.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](
		`new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))`, chromedp.EvalAwaitPromise)); err != nil {
		return Page{}, err
	}
	type box struct {
		ID         string
		X, Y, W, H float64
	}
	boxes, err := chromedp.Run(ctx, chromedp.Evaluate[[]box](`Array.from(document.querySelectorAll("div.item"), e => {
		const r = e.getBoundingClientRect();
		return {ID: e.id, X: r.left + window.scrollX, Y: r.top + window.scrollY, W: r.width, H: r.height};
	})`))
	if err != nil {
		return Page{}, err
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return Page{}, err
	}
	if dir := os.Getenv("CHARTSTEST_SCREENSHOTS"); dir != "" {
		// To look at what the test saw.
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(path)+".png"), shot, 0o644); err != nil {
			return Page{}, err
		}
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		return Page{}, fmt.Errorf("the screenshot of %s: %w", path, err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, bx := range boxes {
		r := image.Rect(int(bx.X), int(bx.Y), int(bx.X+bx.W), int(bx.Y+bx.H)).Intersect(img.Bounds())
		page.Charts = append(page.Charts, pixels(bx.ID, img, r))
	}
	return page, nil
}

func pixels(id string, img image.Image, r image.Rectangle) Chart {
	c := Chart{ID: id, Width: r.Dx(), Height: r.Dy()}
	colours := map[color.RGBA]bool{}
	inked := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			px := color.RGBA{uint8(cr >> 8), uint8(cg >> 8), uint8(cb >> 8), 255}
			colours[px] = true
			if px != (color.RGBA{255, 255, 255, 255}) {
				inked++
			}
		}
	}
	c.Colours = len(colours)
	if n := r.Dx() * r.Dy(); n > 0 {
		c.Inked = float64(inked) / float64(n)
	}
	return c
}

// call is a protocol command as an action.
func call[P, R any](cmd cdp.Command[P, R], params P) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, cmd, params)
		return chromedp.Void{}, err
	}
}

func remoteText(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		switch {
		case a.Description != "":
			parts = append(parts, a.Description)
		case len(a.Value) > 0:
			parts = append(parts, string(a.Value))
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}
