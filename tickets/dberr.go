package tickets

import (
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// notFound turns gorm's record-not-found into ErrNotFound and wraps anything else.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
