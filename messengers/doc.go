// Package messengers connects chat providers (Telegram, WhatsApp, the web chat
// widget, Viber, Facebook Messenger, Instagram, VK) to tickets through one Adapter
// interface: verify and decode a webhook or poll for updates, normalise each item
// into an Inbound, send an Outgoing reply, and report delivery statuses.
//
// Receive (conversation.go) applies the conversation rules every provider shares:
// one open ticket per contact and connection, reopen within a window, the optional
// first-message menu.
//
// It imports tickets only; never mail/ or web/. Provider HTTP calls go through the
// connection's api_base_url, so tests (and self-hosted gateways) point them at a
// local server.
package messengers
