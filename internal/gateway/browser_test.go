package gateway_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/mycdn/mycdn/internal/gateway"
	"github.com/mycdn/mycdn/internal/testenv"
)

// site is a small static site with relative links, as a browser meets it.
var site = map[string]string{
	"index.html": `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>mycdn test site</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="style.css"></head>
<body><h1 id="title">Hello from mycdn</h1>
<img id="logo" src="img/logo.png" alt="logo">
<p><a id="next" href="pages/about.html">About</a></p>
</body></html>
`,
	"style.css": `body { background: rgb(230, 240, 250); font-family: sans-serif; }
h1 { color: rgb(200, 30, 40); }
`,
	"pages/about.html": `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>About</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="../style.css"></head>
<body><h1 id="about">About this site</h1><p><a href="../">Home</a></p></body></html>
`,
}

// TestBrowser uploads the site as a directory and renders it in headless
// Chromium through the host form and the path form: the stylesheet
// applies, the image loads, the link to the sub-directory works, and every
// resource is answered 200.
func TestBrowser(t *testing.T) {
	chromium := testenv.LookPath(t, "chromium", "chromium")
	e := newEnv(t, envOptions{caches: gateway.NewCaches(16<<20, nil), gw: gateway.Options{Domain: "cdn.test"}})
	dir := writeTree(t, "site", site)
	writeLogo(t, filepath.Join(dir, "img", "logo.png"))
	r := e.putDir(dir)
	_, port, _ := strings.Cut(e.addr, ":")

	allocCtx, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(800, 600),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		// <lookup>.cdn.test resolves to the gateway on loopback; no
		// other name resolves (the network is closed anyway).
		chromedp.Flag("host-resolver-rules", "MAP * 127.0.0.1"),
		// Plain http on a port other than 80 stays plain http.
		chromedp.Flag("disable-features", "HttpsUpgrades,HttpsFirstBalancedModeAutoEnable"),
	)...)
	defer cancel()

	for _, tc := range []struct{ form, start string }{
		{"host", "http://" + r.Lookup.String() + ".cdn.test:" + port + "/?key=" + r.Key.String()},
		{"path", e.pathURL(r, "")},
	} {
		t.Run(tc.form, func(t *testing.T) {
			ctx, cancel := chromedp.NewContext(allocCtx)
			defer cancel()
			ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
			defer cancelTimeout()

			var mu sync.Mutex
			statuses := map[string]int64{}
			err := chromedp.Listen(ctx, func(ev any) {
				if ev, ok := ev.(*network.EventResponseReceived); ok && !strings.HasPrefix(ev.Response.URL, "data:") {
					mu.Lock()
					statuses[ev.Response.URL] = ev.Response.Status
					mu.Unlock()
				}
			})
			if err != nil {
				t.Fatalf("browser: %v", err)
			}
			do(t, ctx, e, chromedp.Navigate(tc.start), chromedp.WaitVisible("#title"))
			run(t, ctx, e, chromedp.Poll[bool](`document.getElementById("logo").complete`))
			title := run(t, ctx, e, chromedp.Title())
			color := run(t, ctx, e, chromedp.Evaluate[string](`getComputedStyle(document.getElementById("title")).color`))
			background := run(t, ctx, e, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
			logoWidth := run(t, ctx, e, chromedp.Evaluate[int](`document.getElementById("logo").naturalWidth`))
			shot := run(t, ctx, e, chromedp.FullScreenshot(100))
			do(t, ctx, e, chromedp.Click("#next"), chromedp.WaitVisible("#about"))
			aboutURL := run(t, ctx, e, chromedp.Location())
			aboutColor := run(t, ctx, e, chromedp.Evaluate[string](`getComputedStyle(document.getElementById("about")).color`))
			path := filepath.Join(t.ArtifactDir(), tc.form+".png") // kept with go test -artifacts
			if err := os.WriteFile(path, shot, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot: %s", path)
			if img, err := png.Decode(bytes.NewReader(shot)); err != nil || img.Bounds().Dx() < 100 {
				t.Errorf("screenshot: %v", err)
			}
			if title != "mycdn test site" || color != "rgb(200, 30, 40)" || background != "rgb(230, 240, 250)" ||
				logoWidth != 64 || aboutColor != "rgb(200, 30, 40)" {
				t.Errorf("rendered: title %q, h1 %s, background %s, logo width %d, about h1 %s",
					title, color, background, logoWidth, aboutColor)
			}
			if u, _ := url.Parse(aboutURL); u == nil || !strings.HasSuffix(u.Path, "/pages/about.html") {
				t.Errorf("the link led to %s", aboutURL)
			}

			mu.Lock()
			defer mu.Unlock()
			var seen []string
			for u, status := range statuses {
				if status != 200 {
					t.Errorf("%s answered %d", u, status)
				}
				p, _ := url.Parse(u)
				seen = append(seen, p.Path)
			}
			for _, want := range []string{"/style.css", "/img/logo.png", "/pages/about.html"} {
				if !hasSuffix(seen, want) {
					t.Errorf("the browser never loaded %s; it loaded %v", want, seen)
				}
			}
		})
	}
	// The gateway answered every request of the browser 200.
	for _, line := range strings.Split(strings.TrimSpace(e.log.String()), "\n") {
		if m := statusRE.FindStringSubmatch(line); m != nil && m[1] != "200" {
			t.Errorf("gateway answered %s: %s", m[1], line)
		}
	}
}

// do runs browser actions, failing t with the gateway's log if one fails.
func do(t *testing.T, ctx context.Context, e *env, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v\ngateway log:\n%s", err, e.log)
	}
}

// run runs a browser action and returns its value, failing t with the
// gateway's log if it fails.
func run[T any](t *testing.T, ctx context.Context, e *env, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v\ngateway log:\n%s", err, e.log)
	}
	return v
}

var statusRE = regexp.MustCompile(`msg=request .* status=(\d+)`)

func hasSuffix(paths []string, suffix string) bool {
	for _, p := range paths {
		if strings.HasSuffix(p, suffix) {
			return true
		}
	}
	return false
}

// writeLogo writes a 64 x 32 PNG.
func writeLogo(t testing.TB, path string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 32))
	for x := range 64 {
		for y := range 32 {
			img.Set(x, y, color.RGBA{uint8(4 * x), 120, uint8(8 * y), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
