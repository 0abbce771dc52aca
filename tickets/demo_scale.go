package tickets

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Scale data for benchmarks and `postdesk demo --scale N`: N tickets over 20
// channels, about 5 messages per ticket, N/3 contacts, 30 agents, generated inside
// Postgres (INSERT ... SELECT generate_series) so a million tickets take minutes,
// not hours.
//
// The data models a mature install: tickets are spread over three years and the
// newest 3% are unfinished (new/open/pending), the rest resolved or closed. Queues
// and sidebar counts read unfinished tickets only, so their cost follows open work,
// not history; search reads everything.
//
// Secondary indexes are dropped during the load and rebuilt after it (faster than
// maintaining them row by row), and foreign-key triggers are off for the session
// (the generator writes consistent ids by construction); so are the triggers that
// keep the sidebar counters, which are counted once at the end instead.

// ScaleVersion changes whenever the generator's output changes, so cached
// benchmark databases of an older generator are rebuilt.
const ScaleVersion = 1

// ScaleChannels is the number of channels the scale generator creates.
const ScaleChannels = 20

// ScaleAgentEmail is the generated agent the benchmarks act as: a member of 4 of
// the 20 channels. ScaleAdminEmail sees all of them.
const (
	ScaleAgentEmail = "agent0@bench.example"
	ScaleAdminEmail = "admin@bench.example"
)

// hashExpr is a deterministic pseudo-random non-negative integer from expr and salt.
func hashExpr(expr string, salt int) string {
	return fmt.Sprintf("((hashint8((%s)::bigint * 1009 + %d) & 2147483647)::int)", expr, salt)
}

// sqlArray renders a literal text[]. The values never hold "?", which gorm would
// take for a placeholder.
func sqlArray(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		if strings.Contains(v, "?") {
			panic("scale vocabulary holds a '?': " + v)
		}
		q[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	return "ARRAY[" + strings.Join(q, ", ") + "]::text[]"
}

// pick is element (hash % len) of a literal array.
func pick(vals []string, expr string, salt int) string {
	return fmt.Sprintf("(%s)[1 + %s %% %d]", sqlArray(vals), hashExpr(expr, salt), len(vals))
}

var (
	scaleFirst = []string{"Karin", "Jonas", "Mia", "Lukas", "Sofia", "Emil", "Lea", "Noah", "Olga", "Ivan", "Anna",
		"Ahmed", "Fatima", "Somchai", "Malee", "Hiroshi", "Yuki", "Wei", "Li", "Maria", "José", "Chloé", "Lars"}
	scaleLast = []string{"Meyer", "Schmidt", "Novak", "Petrov", "Ivanova", "Haddad", "Al-Sayed", "ใจดี", "สุขสันต์",
		"田中", "佐藤", "王", "李", "García", "Dubois", "Jensen", "Rossi", "Kowalski", "Nguyen", "Silva"}
	scaleSubjects = []string{"Order", "Delivery question", "Wedding bouquet", "Invoice", "Refund request",
		"Birthday flowers", "Funeral wreath", "Subscription", "Supplier offer", "Event decoration", "Payment reminder",
		"Заказ цветов", "Доставка", "طلب زهور", "الفاتورة", "สั่งดอกไม้", "การจัดส่ง", "ご注文について", "配達の確認",
		"订购鲜花", "发票问题", "Lieferung", "Rechnung"}
	scaleOpenings = []string{"Hello,", "Hi there,", "Good morning,", "Dear team,", "Guten Tag,", "Здравствуйте,",
		"مرحبا،", "สวัสดีครับ", "こんにちは。", "您好，", "Bonjour,"}
	scaleRequests = []string{
		"I would like to order a bouquet of red roses for Saturday.",
		"Could you tell me when my delivery will arrive",
		"Please send the invoice for last month again.",
		"The tulips arrived wilted, I would like a refund.",
		"We need table decorations for a wedding of 80 guests.",
		"Ich hätte gern einen Strauß Tulpen für Freitag.",
		"Хочу заказать букет тюльпанов на свадьбу.",
		"Когда будет доставка моего заказа.",
		"أريد طلب باقة من الورود الحمراء",
		"متى سيصل طلبي؟",
		"ผมอยากสั่งดอกกุหลาบสีแดงสำหรับงานแต่งงาน",
		"ขอใบแจ้งหนี้ของเดือนที่แล้วด้วยครับ",
		"東京都渋谷区の花屋さんへ、結婚式用のバラを注文したいです。",
		"配達はいつになりますか。",
		"我想订购一束红玫瑰，周六送到。",
		"请再发一次上个月的发票。",
		"Can you deliver peonies to the office on Monday morning",
		"Our supplier price list for spring is attached.",
		"The payment of the last invoice is overdue.",
		"Please confirm the decoration for the gala dinner.",
	}
	scaleClosings = []string{"Thanks!", "Best regards", "Kind regards", "Viele Grüße", "Спасибо!", "شكرا",
		"ขอบคุณครับ", "よろしくお願いします。", "谢谢！", "Cheers"}
	scaleTags = []string{"vip", "wedding", "refund", "invoice", "delivery", "supplier", "event", "complaint"}
)

// GenerateScale fills an empty database with n tickets. It refuses a database that
// already holds tickets.
func GenerateScale(ctx context.Context, db *gorm.DB, n int, log *slog.Logger) error {
	if n < 100 {
		return fmt.Errorf("scale: at least 100 tickets")
	}
	if log == nil {
		log = slog.Default()
	}
	var existing int64
	if err := db.WithContext(ctx).Raw(`SELECT count(*) FROM (SELECT 1 FROM tickets LIMIT 1) x`).Scan(&existing).Error; err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	if existing > 0 {
		return fmt.Errorf("scale: the database already holds tickets; use an empty one")
	}
	return db.WithContext(ctx).Connection(func(conn *gorm.DB) error {
		step := func(name, sql string, args ...any) error {
			start := time.Now()
			res := conn.Exec(sql, args...)
			if res.Error != nil {
				return fmt.Errorf("scale: %s: %w", name, res.Error)
			}
			log.Info("scale", "step", name, "rows", res.RowsAffected, "took", time.Since(start).Round(time.Millisecond))
			return nil
		}
		for _, q := range []string{"SET session_replication_role = replica", "SET maintenance_work_mem = '1GB'",
			"SET work_mem = '64MB'", "SET synchronous_commit = off"} {
			if err := conn.Exec(q).Error; err != nil {
				return fmt.Errorf("scale: %s: %w", q, err)
			}
		}
		defer conn.Exec("SET session_replication_role = DEFAULT")
		var indexes []struct{ Name, Def string }
		err := conn.Raw(`SELECT i.indexname AS name, i.indexdef AS def FROM pg_indexes i
			WHERE i.schemaname = 'public'
			  AND i.tablename IN ('tickets', 'messages', 'contacts', 'contact_identities', 'ticket_reads', 'ticket_tags')
			  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.indexname))::regclass)
			ORDER BY i.indexname`).Scan(&indexes).Error
		if err != nil {
			return fmt.Errorf("scale: list indexes: %w", err)
		}
		for _, ix := range indexes {
			if err := conn.Exec(`DROP INDEX ` + quoteIdent(ix.Name)).Error; err != nil {
				return fmt.Errorf("scale: drop %s: %w", ix.Name, err)
			}
		}
		if err := generateRows(conn, n, step); err != nil {
			return err
		}
		for _, ix := range indexes {
			if err := step("index "+ix.Name, ix.Def); err != nil {
				return err
			}
		}
		// The load ran with triggers off, so the sidebar's counters count it now.
		if err := step("queue counts", "SELECT queue_counts_rebuild()"); err != nil {
			return err
		}
		for _, t := range []string{"agents", "channels", "channel_members", "contacts", "contact_identities", "tickets",
			"messages", "ticket_reads", "tags", "ticket_tags"} {
			if err := step("vacuum "+t, "VACUUM ANALYZE "+t); err != nil {
				return err
			}
		}
		return nil
	})
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func generateRows(conn *gorm.DB, n int, step func(name, sql string, args ...any) error) error {
	contacts := max(n/3, 1)
	open := n * 97 / 100 // tickets numbered above this are unfinished
	// Hash of an argon2id password nobody knows: the generated agents are for queries, not logins.
	if err := step("agents", `INSERT INTO agents (email, name, role, status)
		SELECT 'agent' || g || '@bench.example', 'Agent ' || g, 'agent',
		       CASE WHEN g % 5 = 4 THEN 'away' ELSE 'online' END
		FROM generate_series(0, 29) g
		UNION ALL SELECT ?, 'Bench Admin', 'admin', 'online'`, ScaleAdminEmail); err != nil {
		return err
	}
	if err := step("channels", `INSERT INTO channels (name, kind, assignment_mode)
		SELECT 'Channel ' || lpad(g::text, 2, '0'), CASE WHEN g % 10 = 9 THEN 'tasks' WHEN g % 3 = 1 THEN 'chat' ELSE 'email' END,
		       'round_robin'
		FROM generate_series(0, ?) g`, ScaleChannels-1); err != nil {
		return err
	}
	// Channel c (0-based) has agents (3c + j) mod 30 for j = 0..5: six members each,
	// each agent in four channels.
	if err := step("channel members", `INSERT INTO channel_members (channel_id, agent_id)
		SELECT ch.id, ag.id
		FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS c FROM channels WHERE name LIKE 'Channel __') ch
		CROSS JOIN generate_series(0, 5) j
		JOIN agents ag ON ag.email = 'agent' || ((ch.c * 3 + j) % 30) || '@bench.example'`); err != nil {
		return err
	}
	if err := step("contacts", `INSERT INTO contacts (id, name)
		SELECT g, `+pick(scaleFirst, "g", 1)+` || ' ' || `+pick(scaleLast, "g", 2)+`
		FROM generate_series(1, ?) g`, contacts); err != nil {
		return err
	}
	if err := step("contact identities", `INSERT INTO contact_identities (contact_id, kind, value, display_name)
		SELECT id, 'email', 'customer' || id || '@example.com', name FROM contacts WHERE id <= ?
		UNION ALL
		SELECT id, 'whatsapp', '+4917' || lpad(id::text, 9, '0'), name FROM contacts WHERE id <= ? AND id % 4 = 0`,
		contacts, contacts); err != nil {
		return err
	}
	// Ticket g: channel c = hash % 20; created over three years in id order; the
	// newest 3% unfinished. Messages per ticket: 1 + hash % 9 (average 5),
	// alternating inbound and outbound, so activity_seq (inbound count) is (m+1)/2.
	msgs := "(1 + " + hashExpr("g", 9) + " % 9)"
	tickets := `WITH ch AS (SELECT array_agg(id ORDER BY id) AS ids FROM channels WHERE name LIKE 'Channel __'),
	base AS (
	  SELECT g, ch.ids[1 + ` + hashExpr("g", 3) + ` % 20] AS channel_id, ` + hashExpr("g", 3) + ` % 20 AS c,
	         now() - make_interval(secs => (? - g)::float8 * 94608000 / ?) AS created,
	         ` + hashExpr("g", 4) + ` % 100 AS p, ` + hashExpr("g", 5) + ` % 100 AS s, ` + msgs + ` AS m
	  FROM generate_series(1, ?) g, ch
	)
	INSERT INTO tickets (id, channel_id, kind, subject, status, priority, assignee_id, contact_id, due_at, snoozed_until,
	                     last_activity_at, last_customer_activity_at, created_at, updated_at, resolved_at, closed_at,
	                     activity_seq)
	SELECT b.g, b.channel_id, CASE WHEN b.c % 10 = 9 THEN 'task' ELSE 'conversation' END,
	       ` + pick(scaleSubjects, "b.g", 6) + ` || ' #' || (100000 + b.g),
	       CASE WHEN b.g > ? THEN (ARRAY['new', 'open', 'open', 'pending'])[1 + b.s % 4]
	            WHEN b.s < 20 THEN 'resolved' ELSE 'closed' END,
	       CASE WHEN b.p < 5 THEN 'urgent' WHEN b.p < 20 THEN 'high' WHEN b.p < 80 THEN 'normal' ELSE 'low' END,
	       CASE WHEN b.s % 10 < 7 THEN (SELECT id FROM agents WHERE email = 'agent' || ((b.c * 3 + b.s % 6) % 30) || '@bench.example') END,
	       CASE WHEN b.c % 10 <> 9 THEN 1 + ` + hashExpr("b.g", 7) + ` % ? END,
	       CASE WHEN b.p % 10 = 3 THEN b.created + make_interval(days => 1 + b.s % 14) END,
	       CASE WHEN b.g > ? AND b.s % 20 = 7 THEN now() + make_interval(days => 1 + b.p % 7) END,
	       least(now(), b.created + make_interval(hours => 3 * b.m)),
	       least(now(), b.created + make_interval(hours => 3 * (b.m - 1 + b.m % 2))),
	       b.created, least(now(), b.created + make_interval(hours => 3 * b.m)),
	       CASE WHEN b.g <= ? THEN least(now(), b.created + make_interval(hours => 3 * b.m)) END,
	       CASE WHEN b.g <= ? AND b.s >= 20 THEN least(now(), b.created + make_interval(hours => 3 * b.m + 24)) END,
	       (b.m + 1) / 2
	FROM base b`
	if err := step("tickets", tickets, n, n, n, open, contacts, open, open, open); err != nil {
		return err
	}
	if err := step("ticket sequences", `SELECT setval('tickets_id_seq', ?), setval('contacts_id_seq', ?)`, n, contacts); err != nil {
		return err
	}
	body := pick(scaleOpenings, "t.id * 16 + k", 11) + ` || ' ' || ` + pick(scaleRequests, "t.id * 16 + k", 12) +
		` || ' ' || ` + pick(scaleRequests, "t.id * 16 + k", 13) + ` || ' Order ' || (100000 + t.id) || '. ' || ` +
		pick(scaleClosings, "t.id * 16 + k", 14)
	if err := step("messages", `INSERT INTO messages (ticket_id, channel_id, direction, status, contact_id, author_agent_id,
		                      from_address, subject, body_text, created_at, updated_at, sent_at)
		SELECT t.id, t.channel_id,
		       CASE WHEN k % 2 = 1 THEN 'inbound' ELSE 'outbound' END,
		       CASE WHEN k % 2 = 1 THEN 'received' ELSE 'sent' END,
		       CASE WHEN k % 2 = 1 THEN t.contact_id END,
		       CASE WHEN k % 2 = 0 THEN t.assignee_id END,
		       CASE WHEN k % 2 = 1 AND t.contact_id IS NOT NULL THEN 'customer' || t.contact_id || '@example.com' ELSE '' END,
		       t.subject, `+body+`,
		       t.created_at + make_interval(hours => 3 * (k - 1)), t.created_at + make_interval(hours => 3 * (k - 1)),
		       CASE WHEN k % 2 = 0 THEN t.created_at + make_interval(hours => 3 * (k - 1)) END
		FROM tickets t
		CROSS JOIN LATERAL generate_series(1, 1 + `+hashExpr("t.id", 9)+` % 9) k`); err != nil {
		return err
	}
	if err := step("tags", `INSERT INTO tags (name) SELECT unnest(`+sqlArray(scaleTags)+`) ON CONFLICT DO NOTHING`); err != nil {
		return err
	}
	if err := step("ticket tags", `INSERT INTO ticket_tags (ticket_id, tag_id)
		SELECT t.id, g.id FROM tickets t JOIN tags g ON g.name = `+pick(scaleTags, "t.id", 15)+`
		WHERE `+hashExpr("t.id", 16)+` % 10 = 0`); err != nil {
		return err
	}
	// The agents have opened 70% of the unfinished tickets in their channels.
	return step("ticket reads", `INSERT INTO ticket_reads (ticket_id, agent_id, read_at, seen_seq)
		SELECT t.id, cm.agent_id, now(), t.activity_seq
		FROM tickets t JOIN channel_members cm ON cm.channel_id = t.channel_id
		WHERE t.status IN ('new', 'open', 'pending') AND `+hashExpr("t.id * 31 + cm.agent_id", 17)+` % 10 < 7`)
}
