package tasks

import (
	"os"
	"testing"

	"github.com/postdesk/postdesk/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }
