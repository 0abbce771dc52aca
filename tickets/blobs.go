package tickets

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Blobs is a content-addressed file store in the data directory: each blob is
// written once under its SHA-256, so the same attachment received twice takes the
// space of one.
type Blobs struct {
	Dir string
}

// ErrTooLarge is returned when a blob exceeds the limit given to Put.
var ErrTooLarge = errors.New("blob too large")

func (b *Blobs) path(sum string) string {
	return filepath.Join(b.Dir, "blobs", sum[:2], sum[2:4], sum)
}

// Put streams r into the store and returns its hash and size. The file is synced
// before Put returns, so a caller may acknowledge receipt afterwards. limit <= 0
// means no limit.
func (b *Blobs) Put(r io.Reader, limit int64) (string, int64, error) {
	tmpDir := filepath.Join(b.Dir, "blobs", "tmp")
	if err := os.MkdirAll(tmpDir, 0o750); err != nil {
		return "", 0, fmt.Errorf("blob dir: %w", err)
	}
	f, err := os.CreateTemp(tmpDir, "put-*")
	if err != nil {
		return "", 0, fmt.Errorf("blob temp: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h := sha256.New()
	src := r
	if limit > 0 {
		src = io.LimitReader(r, limit+1)
	}
	n, err := io.Copy(io.MultiWriter(f, h), src)
	if err != nil {
		return "", 0, fmt.Errorf("blob write: %w", err)
	}
	if limit > 0 && n > limit {
		return "", 0, ErrTooLarge
	}
	if err := f.Sync(); err != nil {
		return "", 0, fmt.Errorf("blob sync: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	dst := b.path(sum)
	if _, err := os.Stat(dst); err == nil {
		return sum, n, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return "", 0, fmt.Errorf("blob dir: %w", err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return "", 0, fmt.Errorf("blob rename: %w", err)
	}
	if d, err := os.Open(filepath.Dir(dst)); err == nil {
		d.Sync()
		d.Close()
	}
	return sum, n, nil
}

// Open returns a reader for a stored blob.
func (b *Blobs) Open(sum string) (*os.File, error) {
	if len(sum) != 64 {
		return nil, ErrNotFound
	}
	if _, err := hex.DecodeString(sum); err != nil {
		return nil, ErrNotFound
	}
	f, err := os.Open(b.path(sum))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	return f, err
}
