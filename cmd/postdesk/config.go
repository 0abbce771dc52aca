package main

import (
	"flag"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of the binary. Each field has an environment variable,
// a default that works on localhost, and a doc line; flags override the environment.
// `postdesk config` prints this table (the README's configuration table is made from it).
type Config struct {
	DatabaseURL       string        `env:"POSTDESK_DATABASE_URL" default:"postgres://postgres@127.0.0.1:5432/postdesk?sslmode=disable" doc:"Postgres URL; the database is created if missing"`
	DBMaxConns        int           `env:"POSTDESK_DB_MAX_CONNS" default:"20" doc:"Postgres connection pool size per process"`
	RedisURL          string        `env:"POSTDESK_REDIS_URL" default:"redis://127.0.0.1:6379/0" doc:"Redis URL (queues only; nothing durable)"`
	HTTPAddr          string        `env:"POSTDESK_HTTP_ADDR" default:":8080" doc:"HTTP listen address (UI, API, webhooks, tracking pixel)"`
	SMTPAddr          string        `env:"POSTDESK_SMTP_ADDR" default:":2525" doc:"Inbound SMTP listen address"`
	SMTPLMTPAddr      string        `env:"POSTDESK_SMTP_LMTP_ADDR" default:"" doc:"LMTP listen address for an MTA handing mail over (empty: off)"`
	SMTPTLSCert       string        `env:"POSTDESK_SMTP_TLS_CERT" default:"" doc:"PEM certificate file; enables STARTTLS on inbound SMTP"`
	SMTPTLSKey        string        `env:"POSTDESK_SMTP_TLS_KEY" default:"" doc:"PEM private key file for POSTDESK_SMTP_TLS_CERT"`
	SMTPMaxBytes      int           `env:"POSTDESK_SMTP_MAX_MESSAGE_BYTES" default:"26214400" doc:"Largest inbound message (SIZE); larger gets 552"`
	SMTPMaxRcpts      int           `env:"POSTDESK_SMTP_MAX_RECIPIENTS" default:"100" doc:"Recipients per inbound message; more get 452"`
	SMTPMaxLine       int           `env:"POSTDESK_SMTP_MAX_LINE_LENGTH" default:"65536" doc:"Longest accepted SMTP line, commands and data"`
	SMTPCmdWait       time.Duration `env:"POSTDESK_SMTP_COMMAND_TIMEOUT" default:"5m" doc:"Idle time allowed between SMTP commands"`
	SMTPDataWait      time.Duration `env:"POSTDESK_SMTP_DATA_TIMEOUT" default:"2m" doc:"Idle time allowed during DATA (a whole DATA is capped at 15m)"`
	SMTPConnsIP       int           `env:"POSTDESK_SMTP_MAX_CONNS_PER_IP" default:"20" doc:"Concurrent inbound SMTP connections per client IP"`
	BaseURL           string        `env:"POSTDESK_BASE_URL" default:"http://localhost:8080" doc:"Public URL used in links, the tracking pixel and messenger media links"`
	Hostname          string        `env:"POSTDESK_HOSTNAME" default:"localhost" doc:"Host name for Message-IDs and the SMTP greeting"`
	DataDir           string        `env:"POSTDESK_DATA_DIR" default:"./data" doc:"Directory for attachment blobs"`
	SMTPRelay         string        `env:"POSTDESK_SMTP_RELAY" default:"smtp://127.0.0.1:1025" doc:"Default outbound relay, smtp://user:pass@host:port"`
	NotifyFrom        string        `env:"POSTDESK_NOTIFY_FROM" default:"" doc:"From address of notification e-mails to agents, sent through POSTDESK_SMTP_RELAY (empty: postdesk@POSTDESK_HOSTNAME)"`
	IMAPPollInterval  time.Duration `env:"POSTDESK_IMAP_POLL_INTERVAL" default:"60s" doc:"How often IMAP mailboxes are polled (mailboxes idling with IDLE get mail at once)"`
	IMAPIdleSessions  int           `env:"POSTDESK_IMAP_IDLE_SESSIONS" default:"8" doc:"IMAP mailboxes one worker process keeps in IDLE at once (0: never idle, always poll)"`
	IngestConcurrency int           `env:"POSTDESK_INGEST_CONCURRENCY" default:"0" doc:"Inbound mails one worker process stores at once (0: five per CPU)"`
	AdminEmail        string        `env:"POSTDESK_ADMIN_EMAIL" default:"" doc:"E-mail of the first admin, created when no agent exists"`
	AdminPassword     string        `env:"POSTDESK_ADMIN_PASSWORD" default:"" doc:"Password of the first admin (generated and printed once when empty)"`
	Roles             string        `env:"POSTDESK_ROLES" default:"web,smtp,worker,scheduler" doc:"Roles this serve process runs"`
	AutoMigrate       bool          `env:"POSTDESK_AUTO_MIGRATE" default:"true" doc:"Apply migrations when serve starts"`
	LogLevel          string        `env:"POSTDESK_LOG_LEVEL" default:"info" doc:"debug, info, warn or error"`
	ShutdownGrace     time.Duration `env:"POSTDESK_SHUTDOWN_GRACE" default:"25s" doc:"How long shutdown waits for in-flight work"`
	DueLead           time.Duration `env:"POSTDESK_DUE_REMINDER_LEAD" default:"1h" doc:"How long before a due date the assignee is reminded"`
}

type option struct {
	field reflect.Value
	name  string // flag name
	env   string
	def   string
	doc   string
}

func (c *Config) options() []option {
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	out := make([]option, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		env := f.Tag.Get("env")
		out = append(out, option{field: v.Field(i), env: env, def: f.Tag.Get("default"), doc: f.Tag.Get("doc"),
			name: strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(env, "POSTDESK_")), "_", "-")})
	}
	return out
}

func setField(f reflect.Value, s string) error {
	switch f.Interface().(type) {
	case string:
		f.SetString(s)
	case int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return err
		}
		f.SetInt(int64(n))
	case bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		f.SetBool(b)
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		f.SetInt(int64(d))
	default:
		return fmt.Errorf("unsupported type %s", f.Type())
	}
	return nil
}

// loadConfig fills defaults, then the environment, then registers flags on fs so
// that parsing fs overrides both.
func loadConfig(fs *flag.FlagSet) (*Config, error) {
	c := &Config{}
	for _, o := range c.options() {
		val := o.def
		if e, ok := os.LookupEnv(o.env); ok {
			val = e
		}
		if err := setField(o.field, val); err != nil {
			return nil, fmt.Errorf("%s=%q: %w", o.env, val, err)
		}
		o := o
		fs.Func(o.name, o.doc+" ($"+o.env+")", func(s string) error { return setField(o.field, s) })
	}
	return c, nil
}

// configTable renders the options as a Markdown table.
func configTable() string {
	var b strings.Builder
	b.WriteString("| Variable | Flag | Default | Meaning |\n|---|---|---|---|\n")
	for _, o := range (&Config{}).options() {
		def := o.def
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(&b, "| `%s` | `--%s` | `%s` | %s |\n", o.env, o.name, def, o.doc)
	}
	return b.String()
}
