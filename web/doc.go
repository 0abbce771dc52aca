// Package web is the HTTP face of Postdesk: the JSON API under /api/v1, the
// server-rendered UI, messenger webhooks and static assets, on gin.
//
// Handlers decode input, call the domain (tickets/ and friends) and encode the
// result. They hold no business rules: access control and workflow live in tickets/.
package web
