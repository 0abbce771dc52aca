// Package tickets is the domain core: agents and their access, channels, mailboxes
// and messenger connections as ticket sources, contacts, tickets, messages,
// checklists, assignment and snooze.
//
// It owns every rule about who may see or change what. The web API, the UI, the
// workers and the mail pipeline all call into it; it imports none of them. Where the
// domain needs to schedule work (a snooze wake-up) or publish a live event, it
// declares a small interface that another package implements and cmd/ injects.
package tickets
