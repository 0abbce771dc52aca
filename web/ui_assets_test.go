package web

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	pathpkg "path"
	"strings"
	"testing"
)

// TestAssetBudget keeps the JS and CSS an agent's browser downloads under 200 KB
// compressed (gzip -9), vendor libraries included.
func TestAssetBudget(t *testing.T) {
	const budget = 200 << 10
	total := 0
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ext := pathpkg.Ext(p)
		if ext != ".js" && ext != ".css" || strings.HasSuffix(p, "/widget.js") { // the widget runs on customers' sites
			return nil
		}
		b, err := fs.ReadFile(staticFS, p)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		t.Logf("%6d B gzip  %s", buf.Len(), p)
		total += buf.Len()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat(staticFS, "static/vendor/htmx.min.js"); err != nil {
		t.Fatal("vendor libraries missing: run `make web-deps` before testing")
	}
	t.Logf("total %d B gzip (budget %d)", total, budget)
	if total > budget {
		t.Fatalf("JS+CSS is %d B compressed, over the %d B budget", total, budget)
	}
}
