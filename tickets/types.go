package tickets

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"
)

var pgTypes = pgtype.NewMap()

// StringList maps a Postgres text[] column.
type StringList []string

// Value implements driver.Valuer; pgx encodes the slice as text[].
func (l StringList) Value() (driver.Value, error) {
	if l == nil {
		return []string{}, nil
	}
	return []string(l), nil
}

// Scan implements sql.Scanner.
func (l *StringList) Scan(src any) error {
	var out []string
	if err := pgTypes.SQLScanner(&out).Scan(src); err != nil {
		return fmt.Errorf("scan text[]: %w", err)
	}
	*l = out
	return nil
}

// Int64List maps a Postgres bigint[] column or parameter; gorm would otherwise
// expand a plain slice into an IN-style list.
type Int64List []int64

// Value implements driver.Valuer; pgx encodes the slice as bigint[].
func (l Int64List) Value() (driver.Value, error) {
	if l == nil {
		return []int64{}, nil
	}
	return []int64(l), nil
}

// Scan implements sql.Scanner.
func (l *Int64List) Scan(src any) error {
	var out []int64
	if err := pgTypes.SQLScanner(&out).Scan(src); err != nil {
		return fmt.Errorf("scan bigint[]: %w", err)
	}
	*l = out
	return nil
}

// GormDataType lets gorm map struct fields of this type.
func (Int64List) GormDataType() string { return "bigint[]" }

// JSONMap maps a jsonb object column.
type JSONMap map[string]any

// Value implements driver.Valuer.
func (m JSONMap) Value() (driver.Value, error) {
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// Scan implements sql.Scanner.
func (m *JSONMap) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*m = JSONMap{}
		return nil
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("scan jsonb: unexpected %T", src)
	}
	out := JSONMap{}
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("scan jsonb: %w", err)
	}
	*m = out
	return nil
}
