// Package mail owns e-mail in and out: the inbound SMTP/LMTP server, durable intake
// of raw messages, IMAP polling, MIME parsing, threading into tickets, auto-reply and
// bounce detection, and outbound MIME.
//
// It imports tickets/ only. It never schedules background work itself: callers
// (tasks/, cmd/) hand it an enqueue function, so the queue stays swappable and the
// package stays testable against Postgres alone.
package mail
