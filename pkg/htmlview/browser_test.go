package htmlview

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/geofed-io/kubectl-geofed/pkg/plan"
	"github.com/geofed-io/kubectl-geofed/pkg/status"
)

// The pages are opened in a real headless Chromium: the DOM it builds
// after loading them is checked as the pages themselves are, and a
// screenshot shows the map drawn. Like the lab tests, these fail — never
// skip — when the browser is missing: `make test` installs it.

// chromiumEnv names the browser binary; otherwise PATH is searched.
const chromiumEnv = "GEOFED_CHROMIUM"

// browserTimeout bounds one browser run; a cold start takes a few seconds.
const browserTimeout = 2 * time.Minute

// Screenshots are this size, the README's too.
const shotWidth, shotHeight = 1400, 900

func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(chromiumEnv); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s=%s is not an executable: %v", chromiumEnv, p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("no Chromium to open the HTML pages in: set %s to a Chromium or Chrome binary, or install one "+
		"(`bash hack/chromium.sh` installs Debian's chromium package and prints its path; `make test` runs it)", chromiumEnv)
	return ""
}

// browse runs headless Chromium on a page file with extra flags and
// returns what it printed on stdout. The browser may not reach the network:
// every host name fails to resolve, so a page that needed a fetch would
// show it.
func browse(t *testing.T, page string, flags ...string) []byte {
	t.Helper()
	bin := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	args := append([]string{
		"--headless",
		// Root (CI, containers) has no sandbox to give it.
		"--no-sandbox",
		"--disable-gpu",
		"--user-data-dir=" + t.TempDir(),
		"--no-first-run",
		"--no-default-browser-check",
		"--disable-extensions",
		"--disable-background-networking",
		"--host-resolver-rules=MAP * ~NOTFOUND",
		"--hide-scrollbars",
		"--force-device-scale-factor=1",
	}, flags...)
	args = append(args, "file://"+page)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Chromium's helpers may hold the pipes after it is killed.
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("%s did not finish within %s:\n%s", bin, browserTimeout, stderr.String())
	}
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// writePage writes a page to a temporary file for the browser.
func writePage(t *testing.T, name, page string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// screenshot renders the page at shotWidth×shotHeight.
func screenshot(t *testing.T, page string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "page.png")
	browse(t, page, "--screenshot="+out, fmt.Sprintf("--window-size=%d,%d", shotWidth, shotHeight))
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("Chromium wrote no screenshot: %v", err)
	}
	return b
}

// checkScreenshot checks the picture: that size, more than one colour,
// and the map's sea and land drawn over a good part of it.
func checkScreenshot(t reporter, b []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decoding the screenshot: %v", err)
	}
	if got := img.Bounds().Size(); got != (image.Point{shotWidth, shotHeight}) {
		t.Errorf("screenshot is %v, want %dx%d", got, shotWidth, shotHeight)
	}
	colours := map[[3]uint32]int{}
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, b >> 8}]++
		}
	}
	if len(colours) < 50 {
		t.Errorf("the screenshot has %d colours: nothing was drawn", len(colours))
	}
	total := float64(bounds.Dx() * bounds.Dy())
	// The style sheet's --sea and --land.
	for name, c := range map[string][3]uint32{"sea": {0xe8, 0xf1, 0xf8}, "land": {0xcf, 0xd8, 0xc4}} {
		if share := float64(colours[c]) / total; share < 0.05 {
			t.Errorf("%.1f%% of the screenshot is %s-coloured, want at least 5%%: the map is not drawn", 100*share, name)
		}
	}
}

// docsScreenshot is the picture of a plan page in the README.
const docsScreenshot = "../../docs/plan-html.png"

func TestBrowserPlan(t *testing.T) {
	for _, tt := range []struct {
		name string
		plan func(*testing.T) *plan.Plan
		want map[string]planWant
		// docs says this page's screenshot is the README's.
		docs bool
	}{
		{"seed", seedPlan, seedPlanWant, false},
		{"later", func(*testing.T) *plan.Plan { return laterPlan() }, laterPlanWant, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.plan(t)
			file := writePage(t, "plan.html", planPage(t, p))
			dom := string(browse(t, file, "--dump-dom"))
			checkPlanPage(t, dom, p, tt.want)
			shot := screenshot(t, file)
			checkScreenshot(t, shot)
			if tt.docs && *update {
				if err := os.WriteFile(docsScreenshot, shot, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestBrowserStatus(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status func(*testing.T) *status.Status
		want   map[string]statusWant
	}{
		{"seed", seedStatus, seedStatusWant},
		{"later", func(*testing.T) *status.Status { return laterStatus() }, laterStatusWant},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.status(t)
			file := writePage(t, "status.html", statusPage(t, s))
			dom := string(browse(t, file, "--dump-dom"))
			checkStatusPage(t, dom, s, tt.want)
			checkScreenshot(t, screenshot(t, file))
		})
	}
}

// TestBrowserChecksFail: the checks above catch a page that lost a
// cluster, miscounts or misses a pin, and a screenshot without the map —
// so the browser tests can fail.
func TestBrowserChecksFail(t *testing.T) {
	p := laterPlan()
	page := planPage(t, p)
	for _, tt := range []struct {
		name, old, new string
		want           string // in a failure
	}{
		{"cluster missing", `data-cluster="serving-us"`, `data-cluster="serving-usa"`, "cluster serving-us has no card"},
		{"count wrong", `data-health="pending" data-create="4"`, `data-health="pending" data-create="3"`, "the cards count 3 objects to create"},
		{"pin missing", `data-map-region="us-east1"`, `data-map-region="us-east2"`, "region us-east1: on the map false"},
		{"replicas wrong", `data-workload="trainer" data-replicas="6"`, `data-workload="trainer" data-replicas="5"`, `workload trainer: data-replicas="5", want "6"`},
	} {
		broken := strings.Replace(page, tt.old, tt.new, 1)
		if broken == page {
			t.Fatalf("%s: %q is not in the page; the test needs updating", tt.name, tt.old)
		}
		dom := string(browse(t, writePage(t, "broken.html", broken), "--dump-dom"))
		got := fails(func(r reporter) { checkPlanPage(r, dom, p, laterPlanWant) })
		if !strings.Contains(strings.Join(got, "\n"), tt.want) {
			t.Errorf("%s: the checks report %q, want a failure containing %q", tt.name, got, tt.want)
		}
	}
	for name, page := range map[string]string{
		"no land":    regexp.MustCompile(`<path class="land" d="[^"]*"/>`).ReplaceAllString(page, ""),
		"blank page": "<!DOCTYPE html><html><body></body></html>",
	} {
		shot := screenshot(t, writePage(t, "shot.html", page))
		if got := fails(func(r reporter) { checkScreenshot(r, shot) }); len(got) == 0 {
			t.Errorf("%s: the screenshot check passed", name)
		}
	}
}
