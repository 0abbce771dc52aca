package messengers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
)

// maxProviderResponse bounds a provider's JSON answer.
const maxProviderResponse = 4 << 20

// httpClient wraps provider calls and sorts failures into temporary (5xx, 429,
// network) and permanent (other 4xx).
type httpClient struct{ c *http.Client }

// do sends req and decodes a JSON answer into out (nil: discard).
func (h httpClient) do(req *http.Request, out any) error {
	res, err := h.c.Do(req)
	if err != nil {
		return &TemporaryError{Err: fmt.Errorf("%s %s: %w", req.Method, redact(req.URL.Path), err)}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxProviderResponse))
	if err != nil {
		return &TemporaryError{Err: fmt.Errorf("%s %s: read answer: %w", req.Method, redact(req.URL.Path), err)}
	}
	if res.StatusCode >= 300 {
		e := fmt.Errorf("%s %s: %s: %s", req.Method, redact(req.URL.Path), res.Status, snippet(body))
		if res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusRequestTimeout {
			return &TemporaryError{Err: e}
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", req.Method, redact(req.URL.Path), err)
	}
	return nil
}

func (h httpClient) postJSON(ctx context.Context, url string, header http.Header, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	return h.do(req, out)
}

func (h httpClient) getJSON(ctx context.Context, url string, header http.Header, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return h.do(req, out)
}

// download opens a file; the caller closes it.
func (h httpClient) download(ctx context.Context, url string, header http.Header) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := h.c.Do(req)
	if err != nil {
		return nil, &TemporaryError{Err: fmt.Errorf("download: %w", err)}
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		e := fmt.Errorf("download: %s", res.Status)
		if res.StatusCode >= 500 {
			return nil, &TemporaryError{Err: e}
		}
		return nil, e
	}
	return res.Body, nil
}

// postMultipart streams fields and one file as multipart/form-data.
func (h httpClient) postMultipart(ctx context.Context, url string, fields map[string]string, fileField string,
	f OutFile, out any) error {
	return h.postMultipartAuth(ctx, url, nil, fields, fileField, f, out)
}

// postMultipartAuth is postMultipart with extra request headers.
func (h httpClient) postMultipartAuth(ctx context.Context, url string, header http.Header, fields map[string]string,
	fileField string, f OutFile, out any) error {
	src, err := f.Open()
	if err != nil {
		return fmt.Errorf("open attachment: %w", err)
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		defer src.Close()
		for k, v := range fields {
			if err := mw.WriteField(k, v); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", mime.FormatMediaType("form-data",
			map[string]string{"name": fileField, "filename": f.Filename}))
		ct := f.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.Set("Content-Type", ct)
		part, err := mw.CreatePart(h)
		if err == nil {
			_, err = io.Copy(part, src)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, pr)
	if err != nil {
		pr.Close()
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	err = h.do(req, out)
	pr.Close()
	return err
}

// redact hides bot tokens that Telegram puts in the URL path.
func redact(path string) string {
	if i := strings.Index(path, "/bot"); i >= 0 {
		rest := path[i+4:]
		if j := strings.Index(rest, "/"); j >= 0 {
			return path[:i] + "/bot…" + rest[j:]
		}
		return path[:i] + "/bot…"
	}
	return path
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

var errEmptyMessage = errors.New("nothing to send: no text, attachment or template")
