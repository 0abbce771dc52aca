package tickets

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"gorm.io/gorm"
)

// MaxUploadBytes bounds one upload; the channel's own limit is checked when the
// file is used in a message, since an upload belongs to no channel yet.
const MaxUploadBytes = 50 << 20

// CreateUpload records a file agent a uploaded (already in the blob store) for use
// in a later message or note.
func (s *Service) CreateUpload(ctx context.Context, a *Agent, sha256 string, size int64, filename, contentType string) (*Attachment, error) {
	filename = strings.TrimSpace(filepath.Base(strings.ReplaceAll(filename, "\\", "/")))
	if filename == "." || filename == "/" {
		filename = ""
	}
	if filename == "" {
		return nil, Invalid("file", "needs a file name")
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	at := &Attachment{SHA256: sha256, Size: size, Filename: truncate(filename, 255),
		ContentType: truncate(contentType, 255), UploadedBy: &a.ID, CreatedAt: s.now()}
	if err := s.DB.WithContext(ctx).Create(at).Error; err != nil {
		return nil, fmt.Errorf("store upload: %w", err)
	}
	return at, nil
}

// VisibleAttachment returns an attachment agent a may read: one on a message a can
// see, or a's own upload not used yet.
func (s *Service) VisibleAttachment(ctx context.Context, a *Agent, id int64) (*Attachment, error) {
	var at Attachment
	if err := s.DB.WithContext(ctx).Take(&at, id).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("attachment %d: %w", id, err)
	}
	if at.MessageID == nil {
		if at.UploadedBy == nil || *at.UploadedBy != a.ID {
			return nil, ErrNotFound
		}
		return &at, nil
	}
	if _, err := s.VisibleMessage(ctx, a, *at.MessageID); err != nil {
		return nil, err
	}
	return &at, nil
}
