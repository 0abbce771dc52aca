package web

import (
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
	"sync"

	"github.com/gin-gonic/gin"
	"gopkg.in/yaml.v3"
)

// The OpenAPI document is kept as one fragment per API area (openapi/*.yaml), each
// holding its own paths and component schemas, and merged when first served. That
// keeps each area's documentation next to its handlers' file names.
//
//go:embed openapi/*.yaml
var openapiFS embed.FS

var (
	openapiOnce sync.Once
	openapiDoc  []byte
	openapiErr  error
)

// OpenAPI returns the merged document.
func OpenAPI() ([]byte, error) {
	openapiOnce.Do(func() { openapiDoc, openapiErr = mergeOpenAPI(openapiFS) })
	return openapiDoc, openapiErr
}

func mergeOpenAPI(fsys fs.FS) ([]byte, error) {
	names, err := fs.Glob(fsys, "openapi/*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names) // 00-base.yaml first
	doc := map[string]any{}
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		var part map[string]any
		if err := yaml.Unmarshal(b, &part); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := mergeInto(doc, part, name); err != nil {
			return nil, err
		}
	}
	return yaml.Marshal(doc)
}

// mergeInto merges maps recursively; the same leaf defined twice is an error.
func mergeInto(dst, src map[string]any, where string) error {
	for k, v := range src {
		cur, exists := dst[k]
		if !exists {
			dst[k] = v
			continue
		}
		cm, ok1 := cur.(map[string]any)
		vm, ok2 := v.(map[string]any)
		if !ok1 || !ok2 {
			return fmt.Errorf("openapi: %s redefines %q", where, k)
		}
		if err := mergeInto(cm, vm, where); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) openapi(c *gin.Context) {
	b, err := OpenAPI()
	if err != nil {
		fail(c, err)
		return
	}
	c.Data(http.StatusOK, "application/yaml; charset=utf-8", b)
}
